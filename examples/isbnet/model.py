"""ISBNet for 28x28 grey images (Fashion-MNIST), after Cai et al., "Instance-aware Selective
Branching Networks" (ICLR 2020), small enough to train on one CPU core in minutes.

    input [N,1,28,28] in [0,1] -> normalise -> stem conv3x3 (16) -> 4 cells -> GAP -> linear 10
                                            \-> SelectionNet -> gates [N, E*K] (all cells)

Cells: normal 16@28x28, reduction 32@14x14, normal 32@14x14, reduction 48@7x7. A cell is a
small DAG over its (1x1-preprocessed) input x:  n1 = e0(x);  n2 = e1(x) + e2(n1);  out =
n1 + n2 (on reduction cells e0 and e1 have stride 2). Each edge e holds K = 6 candidate
branches (PRIMITIVES); its output is sum_k w[n,e,k] * branch_k(x), each term marked with
isb.branch so the export carries the isbc annotations.

SelectionNet: stem features -> AvgPool 7x7 (4x4 map) -> flatten -> Linear 64 -> ReLU ->
Linear E*K -> reshape [N,E,K] -> softmax(logits / tau) over K (with Gumbel noise while
training) -> flatten -> the single gate tensor "isb.gates" [N, E*K]; branch (e, k) reads
element e*K + k of its row."""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import isb_annotate as isb  # noqa: E402

PRIMITIVES = ["sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "max_pool_3x3", "avg_pool_3x3",
              "skip_connect"]
K = len(PRIMITIVES)
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training set pixel statistics


class SepConv(nn.Sequential):
    """ReLU -> depthwise kxk (dilation d) -> pointwise 1x1 -> BN (the DARTS op, one stage)."""

    def __init__(self, c, k, stride, dilation=1):
        pad = dilation * (k - 1) // 2
        super().__init__(nn.ReLU(),
                         nn.Conv2d(c, c, k, stride, pad, dilation=dilation, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))


class FactorizedReduce(nn.Module):
    """The skip branch of a stride-2 edge: two offset 1x1 stride-2 convs, concatenated."""

    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c // 2, 1, 2, bias=False)
        self.c2 = nn.Conv2d(c, c - c // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        x = F.relu(x)
        return self.bn(torch.cat([self.c1(x), self.c2(x[:, :, 1:, 1:])], dim=1))


def make_op(name, c, stride):
    if name == "sep_conv_3x3":
        return SepConv(c, 3, stride)
    if name == "sep_conv_5x5":
        return SepConv(c, 5, stride)
    if name == "dil_conv_3x3":
        return SepConv(c, 3, stride, dilation=2)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c)
    raise ValueError(name)


class Edge(nn.Module):
    """K candidate branches; output = sum_k gates[:, base+k] * branch_k(x), each term an
    annotated branch named '<edge name>.<primitive>'."""

    def __init__(self, name, c, stride, base):
        super().__init__()
        self.name, self.base = name, base
        self.ops = nn.ModuleList(make_op(p, c, stride) for p in PRIMITIVES)

    def forward(self, x, gates):
        out = None
        for k, op in enumerate(self.ops):
            i = self.base + k
            w = gates[:, i].reshape(-1, 1, 1, 1)
            term = isb.branch(f"{self.name}.{PRIMITIVES[k]}", gates, i, w * op(x))
            out = term if out is None else out + term
        return out


class Cell(nn.Module):
    EDGES = 3

    def __init__(self, name, c_in, c, reduction, base):
        super().__init__()
        self.reduction = reduction
        self.pre = (nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c, 1, bias=False), nn.BatchNorm2d(c))
                    if c_in != c else nn.Identity())
        s = 2 if reduction else 1
        self.edges = nn.ModuleList([Edge(f"{name}.edge0", c, s, base),
                                    Edge(f"{name}.edge1", c, s, base + K),
                                    Edge(f"{name}.edge2", c, 1, base + 2 * K)])

    def forward(self, x, gates):
        x = self.pre(x)
        n1 = self.edges[0](x, gates)
        n2 = self.edges[1](x, gates) + self.edges[2](n1, gates)
        return n1 + n2


class SelectionNet(nn.Module):
    def __init__(self, c, n_edges, hidden=64, tau=1.0):
        super().__init__()
        self.n_edges = n_edges
        self.pool = nn.AvgPool2d(7, count_include_pad=False)
        self.fc1 = nn.Linear(c * 16, hidden)
        self.fc2 = nn.Linear(hidden, n_edges * K)
        self.tau = tau
        self.gumbel = False  # set by train.py; never in eval/export

    def logits(self, s):
        h = F.relu(self.fc1(torch.flatten(self.pool(s), 1)))
        return self.fc2(h).reshape(-1, self.n_edges, K)

    def forward(self, s):
        z = self.logits(s)
        w = torch.softmax(z / self.tau, dim=-1)
        if self.training:
            self.last_clean = w  # noise-free weights, for train.py's regularisers
            if self.gumbel:
                u = torch.rand_like(z).clamp_(1e-6, 1 - 1e-6)
                w = torch.softmax((z - torch.log(-torch.log(u))) / self.tau, dim=-1)
        return isb.gate("isb.gates", torch.flatten(w, 1))


class ISBNet(nn.Module):
    def __init__(self, c=16, channels=(16, 16, 32, 32), reductions=(True, False, True, False),
                 n_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.cells = nn.ModuleList()
        c_prev = c
        for i, (ch, red) in enumerate(zip(channels, reductions)):
            self.cells.append(Cell(f"cell{i}", c_prev, ch, red, i * Cell.EDGES * K))
            c_prev = ch
        self.n_edges = len(channels) * Cell.EDGES
        self.selection = SelectionNet(c, self.n_edges)
        self.classifier = nn.Linear(c_prev, n_classes)

    def edge_names(self):
        return [e.name for cell in self.cells for e in cell.edges]

    def branch_names(self):
        """In gate column order: branch (e, k) is column e*K + k."""
        return [f"{e}.{p}" for e in self.edge_names() for p in PRIMITIVES]

    def forward_with_gates(self, x):
        """(logits [N,10], gates [N, E*K])."""
        s = self.stem((x - MEAN) / STD)
        gates = self.selection(s)
        h = s
        for cell in self.cells:
            h = cell(h, gates)
        logits = self.classifier(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))
        return logits, gates

    def forward(self, x):
        return self.forward_with_gates(x)[0]
