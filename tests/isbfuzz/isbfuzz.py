#!/usr/bin/python3
"""isbfuzz — a randomized differential tester for the skip path (ctest label `isbfuzz`).

Each network is drawn from a seed: a stem, 1-4 cells of 1-3 edges, each edge a sum (with or
without a residual term) or a concatenation of 1-6 gated branches (conv 1x1/3x3/5x5,
depthwise-separable, dilated, strided, max/avg pool, identity, conv+BatchNorm), then a head
with gated Linear branches on the flattened features. SelectionNets: one global, one per
cell, or one reading a late feature; gates [N,K] or [N,E,K]; per-branch thresholds; a Relu
and a pool shared by the branches of one or several edges; a branch nested in the input of
another; a branch value read by a second consumer and one that is a graph output; channel
counts that are mostly not multiples of 8. The network is exported with isb_annotate and run
by `isbc run` at batches 1, 3, 17, 64 with the annotation's own thresholds and with
--threshold 0, low, median, high and above every gate weight (chosen between the gate
weights, never next to one), and --no-skip. Reference: PyTorch's own forward with the
branch masks applied (isb.masked / isb.masked_as_annotated) — not written by isbc. The
per-instance skip masks of --stats must equal (gate < threshold). Where onnxruntime-node is
installed (bench/node_modules, which .ci/run installs), ONNX Runtime evaluating the masked
graph (isb_annotate.onnx_tools.masked_model) is a second reference at batch 17.

    isbfuzz.py --isbc ISBC --workdir DIR [--seed S] [--count N] [--start I] [--jobs J]

A failing network is written to DIR/fail-S-I/ with its inputs and the failing command, and a
one-line reproducer is printed. Exit status 1 if any network failed.
"""
import argparse
import concurrent.futures
import ctypes
import json
import os
import random
import shutil
import subprocess
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import isb_annotate as isb  # noqa: E402
from isb_annotate.onnx_tools import masked_model  # noqa: E402

BATCHES = (1, 3, 17, 64)
OPS = ("conv1x1", "conv3x3", "conv5x5", "sep3x3", "dil3x3", "convbn", "maxpool", "avgpool",
       "identity")
REL_TOL = 1e-4  # of max|reference|, as the model tests
GAP = 2e-3  # a threshold stays this far from every gate weight


def bn(c, rng):
    """BatchNorm with random statistics, so folding it is visible."""
    b = nn.BatchNorm2d(c)
    with torch.no_grad():
        b.running_mean.uniform_(-0.5, 0.5)
        b.running_var.uniform_(0.5, 2.0)
        b.weight.uniform_(0.5, 1.5)
        b.bias.uniform_(-0.3, 0.3)
    return b


class Op(nn.Module):
    """One candidate operation of an edge: [N,C,H,W] -> [N,C,H/s,W/s]."""

    def __init__(self, kind, c, stride, rng):
        super().__init__()
        self.kind, self.stride = kind, stride
        if kind == "conv1x1":
            self.m = nn.Conv2d(c, c, 1, stride)
        elif kind == "conv3x3":
            self.m = nn.Conv2d(c, c, 3, stride, 1)
        elif kind == "conv5x5":
            self.m = nn.Conv2d(c, c, 5, stride, 2)
        elif kind == "dil3x3":
            self.m = nn.Conv2d(c, c, 3, stride, 2, dilation=2)
        elif kind == "convbn":
            self.m = nn.Sequential(nn.Conv2d(c, c, 3, stride, 1, bias=False), bn(c, rng))
        elif kind == "sep3x3":
            self.m = nn.Sequential(nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False),
                                   nn.Conv2d(c, c, 1, bias=False), bn(c, rng), nn.ReLU())
        elif kind == "identity" and stride > 1:
            self.m = nn.Conv2d(c, c, 1, stride, bias=False)  # a factorised reduction
        else:
            self.m = None

    def forward(self, x):
        if self.kind == "maxpool":
            return F.max_pool2d(x, 3, self.stride, 1)
        if self.kind == "avgpool":
            return F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=False)
        return x if self.m is None else self.m(x)


class Gates:
    """The gate tensor of one SelectionNet and how branches read their weight from it."""

    def __init__(self, name, tensor, shape3):
        self.name, self.t, self.shape3 = name, tensor, shape3

    def weight(self, idx, style, rank):
        """gate weight of flat element idx, as [N,1,...] of the value's rank."""
        t = self.t
        if self.shape3 is not None and style == 0:
            e, k = divmod(idx, self.shape3[1])
            w = t[:, e, k]
        else:
            flat = t.flatten(1) if self.shape3 is not None else t
            w = flat[:, idx] if style != 2 else flat[:, idx:idx + 1]
        return w.reshape(-1, *([1] * (rank - 1)))


class SelNet(nn.Module):
    """softmax(linear(mean(x)) / tau) over K, or over the last axis of [N,E,K]."""

    def __init__(self, c, k, shape3, tau):
        super().__init__()
        self.lin = nn.Linear(c, k)
        self.shape3, self.tau = shape3, tau
        with torch.no_grad():
            self.lin.weight.mul_(3.0)

    def forward(self, x):
        z = self.lin(x.mean((2, 3)) if x.dim() == 4 else x) / self.tau
        if self.shape3 is not None:
            return torch.softmax(z.reshape(-1, *self.shape3), -1)
        return torch.softmax(z, -1)


class Net(nn.Module):
    """A random annotated network (see the module comment); spec is a plain dict."""

    def __init__(self, spec, rng):
        super().__init__()
        self.spec = spec
        c = spec["c"]
        self.stem = nn.Sequential(nn.Conv2d(spec["cin"], c, 3, 1, 1), bn(c, rng), nn.ReLU())
        self.ops = nn.ModuleDict()
        self.mix = nn.ModuleDict()
        for cell in spec["cells"]:
            for edge in cell["edges"]:
                for b in edge["branches"]:
                    self.ops[b["id"]] = Op(b["op"], c, edge["stride"], rng)
                    if b.get("nested"):
                        self.ops[b["id"] + "_in"] = Op("conv1x1", c, 1, rng)
                if edge["kind"] == "concat":
                    self.mix[edge["id"]] = nn.Conv2d(c * len(edge["branches"]), c, 1)
        self.sels = nn.ModuleDict({s["id"]: SelNet(c if s["src"] != "head" else c, s["k"],
                                                   s["shape3"], s["tau"])
                                   for s in spec["sels"]})
        hw = spec["hw_out"]
        self.head = nn.Linear(c, spec["classes"])
        self.lin = nn.ModuleList(nn.Linear(c * hw * hw, spec["classes"])
                                 for _ in spec["head_branches"])

    def gates_of(self, sid, x, cache):
        if sid not in cache:
            s = next(s for s in self.spec["sels"] if s["id"] == sid)
            cache[sid] = Gates(sid, isb.gate(sid, self.sels[sid](x)), s["shape3"])
        return cache[sid]

    def branch(self, b, gates, value):
        w = gates.weight(b["index"], b["style"], value.dim())
        v = w * value if b["style"] != 1 else value * w
        return isb.branch(b["name"], gates.t, b["index"], v, threshold=b.get("threshold"))

    def forward(self, x):
        spec = self.spec
        h = self.stem(x)
        cache, aux, extra = {}, 0, None
        for cell in spec["cells"]:
            gx = h if cell["sel_src"] == "input" else cache["__late_feature"]
            gates = self.gates_of(cell["sel"], gx, cache)
            xc = h
            shared_r = F.relu(xc) if cell["shared_relu"] else None
            shared_p = F.max_pool2d(xc, 3, 1, 1) if cell["shared_pool"] else None
            prev, leaves = xc, []
            for edge in cell["edges"]:
                src = xc if edge["src"] == "cell" else prev
                vals = []
                for b in edge["branches"]:
                    op = self.ops[b["id"]]
                    inp = src
                    if shared_r is not None and src is xc and b["op"] in ("conv3x3", "conv1x1",
                                                                         "conv5x5", "dil3x3"):
                        inp = shared_r
                    if b.get("nested"):
                        nb = b["nested"]
                        inner = self.branch(nb, gates, self.ops[b["id"] + "_in"](src))
                        inp = inp + inner
                    if (shared_p is not None and src is xc and b["op"] == "maxpool"
                            and edge["stride"] == 1):
                        y = shared_p
                    else:
                        y = op(inp)
                    v = self.branch(b, gates, y)
                    if b.get("second_reader"):
                        aux = aux + torch.tanh(v).mean((2, 3))
                    if b.get("output"):
                        extra = v
                    vals.append(v)
                if edge["kind"] == "concat":
                    out = self.mix[edge["id"]](torch.cat(vals, 1))
                else:
                    out = vals[0]
                    for v in vals[1:]:
                        out = out + v
                    if edge["residual"]:
                        res = src if edge["stride"] == 1 else F.avg_pool2d(src, 1, 2)
                        out = res + out if edge["residual"] == 1 else out + res
                leaves = [o for o in leaves if o is not src] + [out]
                prev = out
                if edge["stride"] > 1:
                    xc = F.avg_pool2d(xc, 1, 2)
                    shared_r = shared_p = None
            for o in leaves[:-1]:  # every edge's output reaches the cell's (no dead code)
                if o.shape == prev.shape:
                    prev = prev + o
                else:
                    prev = prev + F.avg_pool2d(o, 1, 2)
            h = prev if not cell["act"] else torch.relu(prev)
            cache["__late_feature"] = h
        logits = self.head(h.mean((2, 3)) + aux)
        if spec["head_branches"]:
            hg = self.gates_of(spec["head_sel"], h, cache)
            flat = h.flatten(1)
            for k, b in enumerate(spec["head_branches"]):
                logits = logits + self.branch(b, hg, self.lin[k](flat))
        return (logits, extra) if extra is not None else logits


def make_spec(rng):
    """A random network description (plain data, printed on failure)."""
    cands = (3, 5, 6, 7, 9, 10, 11, 12, 13, 16)
    spec = {"cin": rng.choice((1, 2, 3, 4)), "c": rng.choice(cands),
            "hw": rng.choice((5, 6, 7, 8, 10, 12)), "classes": rng.choice((2, 3, 5, 10)),
            "cells": [], "sels": []}
    mode = rng.choice(("global", "per_cell", "late"))
    ncell = rng.randint(1, 4)
    late_at = rng.randint(1, ncell) if ncell > 1 else None
    if mode == "late" and late_at is None:
        mode = "global"
    hw, reduced, uid = spec["hw"], False, 0
    sel_branches = {}  # selnet id -> list of branches (with their (edge, slot) position)

    def new_branch(sid, e, name):
        nonlocal uid
        uid += 1
        b = {"id": f"b{uid}", "name": name, "style": rng.randrange(3), "sel": sid, "edge": e}
        sel_branches.setdefault(sid, []).append(b)
        return b

    for ci in range(ncell):
        if mode == "global" or (mode == "late" and ci < late_at):
            sid, src = "sel_g", "input" if ci == 0 else "global"
        elif mode == "late":
            sid, src = "sel_late", "late"
        else:
            sid, src = f"sel_c{ci}", "input"
        cell = {"sel": sid, "sel_src": "input" if src != "late" else "late",
                "shared_relu": rng.random() < 0.5, "shared_pool": rng.random() < 0.5,
                "act": rng.random() < 0.5, "edges": []}
        if src == "global":  # the global SelectionNet is computed once, at cell 0
            cell["sel_src"] = "input"
        for ei in range(rng.randint(1, 3)):
            stride = 2 if (not reduced and hw >= 6 and rng.random() < 0.2) else 1
            if stride == 2:
                reduced, hw = True, (hw + 1) // 2
            kind = "concat" if rng.random() < 0.2 else "sum"
            edge = {"id": f"c{ci}e{ei}", "kind": kind, "stride": stride,
                    "residual": rng.choice((0, 1, 2)) if kind == "sum" else 0,
                    "src": rng.choice(("cell", "prev")) if ei else "cell", "branches": []}
            eid = len([e for cc in spec["cells"] for e in cc["edges"] if cc["sel"] == sid]) \
                + len(cell["edges"])
            for k in range(rng.randint(1, 6)):
                b = new_branch(sid, eid, f"c{ci}.e{ei}.{k}")
                b["op"] = rng.choice(OPS)
                if b["op"] in ("maxpool", "avgpool", "identity") and stride == 1 and \
                        kind == "sum" and rng.random() < 0.3:
                    b["op"] = rng.choice(("conv3x3", "sep3x3"))
                if rng.random() < 0.08 and stride == 1:
                    b["nested"] = new_branch(sid, eid, f"c{ci}.e{ei}.{k}.inner")
                edge["branches"].append(b)
            cell["edges"].append(edge)
        spec["cells"].append(cell)
    spec["hw_out"] = hw
    spec["head_branches"] = []
    if rng.random() < 0.5:
        hsid = rng.choice(("sel_head", spec["cells"][-1]["sel"]))
        spec["head_sel"] = hsid
        nh = rng.randint(1, 3)
        eid = 1 + max([b["edge"] for b in sel_branches.get(hsid, [])], default=-1)
        for k in range(nh):
            b = new_branch(hsid, eid, f"head.{k}")
            spec["head_branches"].append(b)
    # one branch value with a second reader, one that is a graph output
    every = [b for bs in sel_branches.values() for b in bs if not b["name"].startswith("head")
             and not b["name"].endswith(".inner")]
    if every and rng.random() < 0.4:
        rng.choice(every)["second_reader"] = True
    if every and rng.random() < 0.3:
        rng.choice(every)["output"] = True
    # gate layout per SelectionNet: [N,K], or [N,E,K] with K the widest edge
    for sid, bs in sel_branches.items():
        edges = sorted({b["edge"] for b in bs})
        width = {e: 0 for e in edges}
        for b in bs:
            b["slot"] = width[b["edge"]]
            width[b["edge"]] += 1
        shape3 = None
        if rng.random() < 0.4:
            shape3 = (len(edges), max(width.values()))
            pos = {e: i for i, e in enumerate(edges)}
            for b in bs:
                b["index"] = pos[b["edge"]] * shape3[1] + b["slot"]
            k = shape3[0] * shape3[1]
        else:
            order = list(range(len(bs)))
            if rng.random() < 0.5:
                rng.shuffle(order)
            for b, i in zip(bs, order):
                b["index"] = i
            k = len(bs) + rng.choice((0, 0, 1))  # sometimes a column no branch reads
        src = "head" if sid == "sel_head" else "feature"
        spec["sels"].append({"id": sid, "k": k, "shape3": shape3,
                             "tau": rng.choice((0.3, 0.6, 1.0, 2.0)), "src": src})
    for bs in sel_branches.values():
        for b in bs:
            b.pop("edge")
            b.pop("slot")
            b.pop("sel")
    return spec


def safe_threshold(values, target):
    """A threshold near `target` at least GAP away from every value (None if there is none)."""
    v = np.unique(np.asarray(values, dtype=np.float64))
    cands = [v[0] - 2 * GAP] if v.size else []
    cands += [(a + b) / 2 for a, b in zip(v[:-1], v[1:]) if b - a >= 2 * GAP]
    cands.append(v[-1] + 2 * GAP if v.size else target)
    cands = [c for c in cands if 0 < c <= 1]  # softmax gates: isbc refuses T > 1
    if not cands:
        return None
    return float(min(cands, key=lambda c: abs(c - target)))


class Failure(Exception):
    pass


def isbc_cmd(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise Failure(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()[-800:]}")
    return r.stdout


class Compiled:
    """`isbc compile` to a shared library, called through its generated C API (ctypes); or,
    with via="run" (sanitizer builds, whose runtime cannot be loaded into python),
    `isbc run` once per call."""

    def __init__(self, isbc, model, so, flags, nout, via):
        self.via, self.isbc, self.model, self.flags = via, isbc, model, flags
        self.dir, self.nout = os.path.dirname(so), nout
        if via == "run":
            self.cmd = [isbc, "run", model] + flags
            return
        self.cmd = [isbc, "compile", model, "-o", so, "--name", "net"] + flags
        isbc_cmd(self.cmd)
        self.lib = ctypes.CDLL(so)
        self.lib.net_workspace_size.restype = ctypes.c_size_t
        self.lib.net_workspace_size.argtypes = [ctypes.c_int64]
        self.lib.net_run.restype = ctypes.c_int
        self.lib.net_run.argtypes = [ctypes.c_int64] + [ctypes.c_void_p] * (2 + nout)

    def __call__(self, x, shapes):
        if self.via == "run":
            xin = os.path.join(self.dir, f"x{x.shape[0]}.npy")
            outs = [os.path.join(self.dir, f"y{k}.npy") for k in range(self.nout)]
            isbc_cmd([self.isbc, "run", self.model, "-i", xin] +
                     [a for o in outs for a in ("-o", o)] + self.flags)
            return [np.load(o) for o in outs]
        x = np.ascontiguousarray(x, dtype=np.float32)
        outs = [np.full(s, np.nan, np.float32) for s in shapes]
        n = x.shape[0]
        raw = np.full(self.lib.net_workspace_size(n) + 64, 0xAB, np.uint8)  # not zeros
        ws = raw.ctypes.data + (-raw.ctypes.data % 64)
        rc = self.lib.net_run(n, x.ctypes.data, *[o.ctypes.data for o in outs], ws)
        if rc != 0:
            raise Failure(f"{' '.join(self.cmd)}: net_run(batch {n}) returned {rc}")
        return outs


def run_stats(isbc, model, x, d, tag, nout, flags):
    """`isbc run --stats`: the outputs and the per-instance skip masks it prints."""
    xin = os.path.join(d, f"x{x.shape[0]}.npy")
    np.save(xin, x)
    outs = [os.path.join(d, f"{tag}.out{k}.npy") for k in range(nout)]
    cmd = [isbc, "run", model, "-i", xin] + [a for o in outs for a in ("-o", o)] + flags + \
        ["--stats"]
    out = isbc_cmd(cmd)
    masks = {}
    for line in out.splitlines():
        if line.startswith("stats.instance "):
            parts = dict(p.split("=", 1) for p in line.split()[2:])
            masks[int(line.split()[1])] = parts["mask"]
    if sorted(masks) != list(range(x.shape[0])):
        raise Failure(f"{' '.join(cmd)}: --stats printed masks for {sorted(masks)}")
    return [np.load(o) for o in outs], [masks[i] for i in range(x.shape[0])], cmd


ORT_MODULES = os.path.join(HERE, "..", "..", "bench", "node_modules")


def ort_available():
    """(True, "") if onnxruntime-node loads here, else (False, why)."""
    if shutil.which("node") is None:
        return False, "no node"
    if not os.path.isdir(os.path.join(ORT_MODULES, "onnxruntime-node")):
        return False, "not installed: (cd bench && npm install --ignore-scripts) adds it"
    env = dict(os.environ, NODE_PATH=os.path.abspath(ORT_MODULES))
    r = subprocess.run(["node", "-e", "require('onnxruntime-node')"], capture_output=True,
                       text=True, env=env)
    if r.returncode != 0:
        return False, "onnxruntime-node does not load: " + r.stderr.strip()[-300:]
    return True, ""


def ort_run(model, x, d):
    """ONNX Runtime's outputs of `model` (a plain ONNX file) on x, in graph order
    (bench/ort_eval.js)."""
    xin, yout = os.path.join(d, "ort_in.json"), os.path.join(d, "ort_out.json")
    with open(xin, "w") as f:
        json.dump([{"name": "x", "dtype": "float32", "dims": list(x.shape),
                    "data": x.ravel().tolist()}], f)
    env = dict(os.environ, NODE_PATH=os.path.abspath(ORT_MODULES))
    r = subprocess.run(["node", os.path.join(HERE, "..", "..", "bench", "ort_eval.js"), model,
                        xin, yout], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise Failure(f"ONNX Runtime failed on {model}: {r.stderr.strip()[-800:]}")
    with open(yout) as f:
        outs = json.load(f)["outputs"]
    return [np.asarray(o["data"], np.float32).reshape(o["dims"]) for o in outs]


def compare(got, ref, what):
    for k, (gk, rk) in enumerate(zip(got, ref)):
        if gk.shape != rk.shape:
            raise Failure(f"{what}: output {k} shape {gk.shape}, PyTorch {rk.shape}")
        tol = REL_TOL * max(float(np.abs(rk).max()), 1.0)
        err = float(np.abs(gk.astype(np.float64) - rk).max()) if gk.size else 0.0
        if not np.isfinite(gk).all() or err > tol:
            raise Failure(f"{what}: output {k} differs from PyTorch by {err:.3g} (tolerance "
                          f"{tol:.3g}, max|ref| {float(np.abs(rk).max()):.3g})")


def check_network(isbc, workdir, seed, index, keep=False, via="so", use_ort=False):
    """Build, export and check one network. Returns (comparisons, None) or raises Failure."""
    rng = random.Random(f"isbfuzz:{seed}:{index}")
    torch.manual_seed(rng.randrange(1 << 31))
    spec = make_spec(rng)
    net = Net(spec, rng).eval()
    d = os.path.join(workdir, f"net-{seed}-{index}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    gen = torch.Generator().manual_seed(rng.randrange(1 << 31))
    xs = {b: torch.randn(b, spec["cin"], spec["hw"], spec["hw"], generator=gen) for b in BATCHES}
    for b in BATCHES:
        np.save(os.path.join(d, f"x{b}.npy"), xs[b].numpy())
    xall = torch.cat([xs[b] for b in BATCHES])
    with torch.no_grad(), isb.record() as rec:
        net(xall)
    cols = rec.gate_rows().numpy()  # [Ntotal, branches]
    names = rec.names
    allg = cols.ravel()
    # per-branch thresholds for some branches, between that branch's own gate weights
    per = {}
    for j, name in enumerate(names):
        if rng.random() < 0.3:
            t = safe_threshold(cols[:, j], float(np.quantile(cols[:, j], rng.random())))
            if t is not None:
                per[name] = t
    for bs in [c["branches"] for cell in spec["cells"] for c in cell["edges"]] + \
            [spec["head_branches"]]:
        for b in bs:
            for bb in (b, b.get("nested")):
                if bb and bb["name"] in per:
                    bb["threshold"] = per[bb["name"]]
    targets = {"low": float(np.quantile(allg, 0.1)), "median": float(np.median(allg)),
               "high": float(np.quantile(allg, 0.9)),
               "above": min(float(allg.max()) + 4 * GAP, 1.0)}
    thr = {k: safe_threshold(allg, t) for k, t in targets.items()}
    thr = {k: t for k, t in thr.items() if t is not None}
    default = thr.get("median", 0.1)
    model = os.path.join(d, "model.onnx")
    nout = 2 if any(b.get("output") for cell in spec["cells"] for e in cell["edges"]
                    for b in e["branches"]) else 1
    onames = ["y", "z"][:nout]
    proto = isb.export(net, xs[1], model, input_names=["x"], output_names=onames,
                       dynamic_axes={n: {0: "N"} for n in ["x"] + onames}, threshold=default)
    modes = [("ann", None), ("t0", 0.0)] + list(thr.items()) + [("noskip", None)]
    ncmp = 0
    for mode, t in modes:
        flags = [] if mode == "ann" else ["--no-skip"] if mode == "noskip" \
            else ["--threshold", repr(t)]
        # the annotated thresholds at the default optimisation level; the threshold sweep at
        # -O1, which compiles twice as fast and emits the same regions, plan and kernel calls
        flags += [] if mode == "ann" else ["-O1"]
        lib = Compiled(isbc, model, os.path.join(d, f"{mode}.so"), flags, nout, via)

        def reference(x):
            if mode == "ann":
                ctx = isb.masked_as_annotated(default)
            else:
                ctx = isb.masked(t or 0.0)
            with torch.no_grad(), ctx as rec:
                ref = net(x)
            ref = [ref] if torch.is_tensor(ref) else list(ref)
            return [a.numpy() for a in ref], rec

        for b in BATCHES:
            ref, _ = reference(xs[b])
            got = lib(xs[b].numpy(), [r.shape for r in ref])
            compare(got, ref, f"{' '.join(lib.cmd)}; net_run(batch {b})")
            ncmp += 1
            if use_ort and b == 17 and mode in ("ann", "median"):
                # the second reference: ONNX Runtime on the masked graph (isb_annotate)
                masked = os.path.join(d, f"masked.{mode}.onnx")
                onnx.save(masked_model(proto, threshold=t), masked)
                compare(got, ort_run(masked, xs[b].numpy(), d),
                        f"{' '.join(lib.cmd)}; net_run(batch {b}) against ONNX Runtime")
                ncmp += 1
        if mode == "ann":  # the driver's masks, and its own compile (JIT)
            b = 17
            ref, rec = reference(xs[b])
            got, masks, cmd = run_stats(isbc, model, xs[b].numpy(), d, mode, nout, flags)
            compare(got, ref, " ".join(cmd))
            rows = rec.gate_rows().numpy()
            for n in range(b):
                want = ""
                for j, name in enumerate(names):
                    tb = t if mode != "ann" else per.get(name, default)
                    want += "1" if tb > 0 and rows[n, j] < tb else "0"
                if masks[n] != want:
                    raise Failure(f"{' '.join(cmd)}: skip mask of instance {n} is "
                                  f"{masks[n]}, the gates give {want}")
            ncmp += 1
    if not keep:
        shutil.rmtree(d, ignore_errors=True)
    return ncmp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seed", type=int, default=None, help="default: a fresh one (printed)")
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--start", type=int, default=0, help="first network index")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep every network's files")
    ap.add_argument("--budget", type=float, default=0,
                    help="start no network after this many seconds (0: no limit); the "
                    "summary says how many were left")
    ap.add_argument("--via", choices=("so", "run"), default="so",
                    help="so: compile once per threshold, call the C API (default); "
                    "run: `isbc run` per batch (sanitizer builds)")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    isbc = os.path.abspath(a.isbc)
    os.makedirs(a.workdir, exist_ok=True)
    torch.set_num_threads(1)
    use_ort, why = ort_available()
    print(f"isbfuzz: seed {seed}, networks {a.start}..{a.start + a.count - 1}; references: "
          f"PyTorch, " + ("ONNX Runtime" if use_ort else f"not ONNX Runtime ({why})"),
          flush=True)
    t0 = time.time()
    fails, ncmp, done = [], 0, 0
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futs = {pool.submit(check_one, isbc, a.workdir, seed, i, a.keep, a.via, use_ort,
                            t0 + a.budget if a.budget else None): i
                for i in range(a.start, a.start + a.count)}
        for f in concurrent.futures.as_completed(futs):
            i = futs[f]
            res = f.result()
            if res is None:  # not started: the time budget ran out
                continue
            done += 1
            if isinstance(res, int):
                ncmp += res
            else:
                fails.append(i)
                print(f"FAIL network {i}: {res}", flush=True)
                print(f"  reproduce: {sys.executable} {os.path.abspath(__file__)} --isbc {isbc} "
                      f"--workdir {a.workdir} --seed {seed} --start {i} --count 1 --keep "
                      f"--via {a.via}",
                      flush=True)
    dt = time.time() - t0
    left = a.count - done
    print(f"isbfuzz: seed {seed}: {done} networks, {ncmp} output sets compared with their "
          f"references, {len(fails)} failed ({dt:.0f} s)" +
          (f"; the {a.budget:.0f} s budget left {left} of {a.count} networks unstarted "
           f"(--start {a.start + a.count - left} continues)" if left else ""))
    print(f"{done - len(fails)} passed, {len(fails)} failed")
    return 1 if fails or done == 0 else 0


def check_one(isbc, workdir, seed, i, keep, via, use_ort, deadline):
    if deadline and time.time() > deadline:
        return None
    torch.set_num_threads(1)
    try:
        return check_network(isbc, workdir, seed, i, keep, via, use_ort)
    except Failure as e:
        d = os.path.join(workdir, f"net-{seed}-{i}")
        if os.path.isdir(d):
            dst = os.path.join(workdir, f"fail-{seed}-{i}")
            shutil.rmtree(dst, ignore_errors=True)
            os.rename(d, dst)
        return str(e)
    except Exception as e:  # the generator's own bug: report it, do not hide it
        import traceback
        return "generator error: " + "".join(traceback.format_exception(e))[-1500:]


if __name__ == "__main__":
    sys.exit(main())
