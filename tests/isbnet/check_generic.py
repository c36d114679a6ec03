#!/usr/bin/python3
"""A second annotated network, not the shipped ISBNet: random weights, one SelectionNet per
cell (two gate tensors, [N,2,3] and [N,4]), a gate read through a 3-D row, branches sharing a
Relu and a pool, a skip branch, per-branch thresholds, a branch value that is also read
outside its sum, and a graph output of its own from inside a cell. Exported with
python/isb_annotate; `isbc run` at several batches and thresholds must equal the thresholded
reference (isb_annotate.masked_model evaluated by examples/isbnet/run_onnx.py, and for a threshold
given on the command line also PyTorch eager under isb.masked(T)), and the per-instance
skip masks of --stats must equal the gates' (gate < T).

    check_generic.py --isbc ISBC --workdir DIR
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
import isb_annotate as isb  # noqa: E402
import run_onnx  # noqa: E402  (examples/isbnet/run_onnx.py)
from isb_annotate.onnx_tools import masked_model, read_annotations  # noqa: E402


class Cell(nn.Module):
    """Edges of 3 branches each: sep-conv-like, pool, skip; gates from its own SelectionNet."""

    def __init__(self, name, c, edges, gate_shape):
        super().__init__()
        self.name, self.edges, self.gate_shape = name, edges, gate_shape
        self.sel = nn.Linear(c, edges * 3)
        self.convs = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1) for _ in range(edges))
        self.tau = 0.7

    def forward(self, x):
        z = self.sel(x.mean((2, 3))).reshape(-1, self.edges, 3) / self.tau
        gates = isb.gate(f"{self.name}.gates", torch.softmax(z, -1).reshape(-1, *self.gate_shape))
        flat = gates.flatten(1)
        r = F.relu(x)  # shared by every edge's conv branch
        p = F.max_pool2d(x, 3, 1, 1)  # shared by every edge's pool branch
        out, first = 0, None
        for e in range(self.edges):
            ops = [self.convs[e](r), p, x]
            acc = 0
            for k, y in enumerate(ops):
                i = e * 3 + k
                w = flat[:, i].reshape(-1, 1, 1, 1)
                thr = 0.3 if (e, k) == (0, 1) else None
                v = isb.branch(f"{self.name}.e{e}.{k}", gates, i, w * y, threshold=thr)
                if first is None:
                    first = v
                acc = acc + v
            out = out + torch.tanh(acc)
        return out, first


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(2, 6, 3, padding=1)
        self.c1 = Cell("c1", 6, 2, (2, 3))
        self.c2 = Cell("c2", 6, 2, (6,))
        self.head = nn.Linear(6, 5)

    def forward(self, x):
        h = F.relu(self.stem(x))
        h, first = self.c1(h)
        h, _ = self.c2(h)
        return self.head(h.mean((2, 3))), first.mean((1, 2, 3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    torch.manual_seed(1)
    model = Net().eval()
    path = os.path.join(args.workdir, "generic.onnx")
    with torch.no_grad():
        isb.export(model, torch.zeros(1, 2, 9, 9), path, input_names=["x"],
                   output_names=["logits", "first"],
                   dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}, "first": {0: "N"}},
                   threshold=0.25, opset_version=13)
    proto = onnx.load(path)
    branches, default_thr = read_annotations(proto)
    ok = True
    for batch in (1, 5, 33):
        rng = np.random.default_rng(batch)
        x = rng.normal(0, 1, (batch, 2, 9, 9)).astype(np.float32)
        xin = os.path.join(args.workdir, f"gx{batch}.npy")
        np.save(xin, x)
        for t in (None, 0.2, 0.4, 0.0):
            outs = [os.path.join(args.workdir, f"gy{batch}_{t}_{k}.npy") for k in range(2)]
            cmd = [args.isbc, "run", path, "-i", xin, "-o", outs[0], "-o", outs[1], "--stats"]
            if t is not None:
                cmd += ["--threshold", repr(t)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"FAIL: {' '.join(cmd)}: {r.stderr}")
            gate_names = sorted({b["gate"] for b in branches})
            masked = masked_model(proto, threshold=t)
            ref = run_onnx.run(masked, {"x": x}, extra=gate_names)
            # PyTorch eager under isb.masked(T) as a second reference (an explicit T only:
            # masked() has no per-branch thresholds)
            torch_ref = None
            if t is not None:
                with torch.no_grad(), isb.masked(t):
                    torch_ref = [o.numpy() for o in model(torch.from_numpy(x))]
            for k, name in enumerate(("logits", "first")):
                got, want = np.load(outs[k]), ref[name]
                if torch_ref is not None:
                    terr = float(np.abs(got - torch_ref[k]).max())
                    tgood = terr <= 1e-4 * max(float(np.abs(torch_ref[k]).max()), 1e-6)
                    print(f"b{batch} T={t} {name}: vs PyTorch max|diff| {terr:.3g}"
                          f"{'' if tgood else '  FAIL'}")
                    ok &= tgood
                err, scale = float(np.abs(got - want).max()), float(np.abs(want).max())
                good = got.shape == want.shape and err <= 1e-4 * max(scale, 1e-6)
                print(f"b{batch} T={t} {name}: max|diff| {err:.3g} (max|ref| {scale:.3g})"
                      f"{'' if good else '  FAIL'}")
                ok &= good
            # per-instance skip masks against the gates
            lines = [ln for ln in r.stdout.splitlines() if ln.startswith("stats.instance ")]
            for n, ln in enumerate(lines):
                mask = dict(p.split("=", 1) for p in ln.split()[2:])["mask"]
                want = ""
                for b in branches:
                    thr = t if t is not None else b["threshold"]
                    g = ref[b["gate"]].reshape(batch, -1)[n, b["index"]]
                    want += "1" if thr > 0 and g < thr else "0"
                if mask != want:
                    print(f"b{batch} T={t}: instance {n} mask {mask}, gates say {want}  FAIL")
                    ok = False
                    break
            if len(lines) != batch:
                print(f"b{batch} T={t}: {len(lines)} stats lines  FAIL")
                ok = False
    # the thresholds must matter, or this test proves nothing
    dense = run_onnx.run(masked_model(proto, threshold=0.0), {"x": x})["logits"]
    thr4 = run_onnx.run(masked_model(proto, threshold=0.4), {"x": x})["logits"]
    vis = float(np.abs(dense - thr4).max() / np.abs(dense).max())
    print(f"T=0.4 changes the logits by {vis:.3f} of max|dense|")
    ok &= vis > 0.01
    if not ok:
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
