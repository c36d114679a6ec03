#!/usr/bin/python3
"""A case isbfuzz found: an annotated branch whose value nothing reads (dead code, removed by
the dce pass). `isbc run --stats` must still report every branch's mask bit as the
thresholded decision (gate < T), and the output must equal NumPy's.

    check_dead_branch.py --isbc ISBC --workdir DIR
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    T = 0.5
    # g = softmax(x @ W); y = x + g[:,0:1] * relu(x); dead = g[:,1:2] * tanh(x) (unread)
    W = np.array([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.25]], np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["z"]),
        helper.make_node("Softmax", ["z"], ["g"], axis=1),
        helper.make_node("Slice", ["g", "s0", "s1", "ax"], ["g0"]),
        helper.make_node("Slice", ["g", "s1", "s2", "ax"], ["g1"]),
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Mul", ["g0", "r"], ["v0"]),
        helper.make_node("Tanh", ["x"], ["t"]),
        helper.make_node("Mul", ["g1", "t"], ["v1"]),
        helper.make_node("Add", ["x", "v0"], ["y"]),
    ]
    inits = [numpy_helper.from_array(W, "W")] + [
        numpy_helper.from_array(np.array([v], np.int64), n)
        for n, v in (("s0", 0), ("s1", 1), ("s2", 2), ("ax", 1))]
    graph = helper.make_graph(
        nodes, "dead", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    branches = [{"name": "live", "gate": "g", "index": 0, "value": "v0"},
                {"name": "dead", "gate": "g", "index": 1, "value": "v1"}]
    for k, v in (("isb.version", "1"), ("isb.branches", json.dumps(branches)),
                 ("isb.threshold", str(T))):
        m.metadata_props.add(key=k, value=v)
    model = os.path.join(a.workdir, "dead_branch.onnx")
    onnx.save(m, model)
    x = np.random.default_rng(0).standard_normal((9, 3)).astype(np.float32)
    xin, yout = os.path.join(a.workdir, "dead_x.npy"), os.path.join(a.workdir, "dead_y.npy")
    np.save(xin, x)
    r = subprocess.run([a.isbc, "run", model, "-i", xin, "-o", yout, "--stats"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: isbc exited {r.returncode}: {r.stderr}")
    z = x @ W
    g = np.exp(z - z.max(1, keepdims=True))
    g /= g.sum(1, keepdims=True)
    want_y = x + (g[:, :1] >= T) * g[:, :1] * np.maximum(x, 0)
    got_y = np.load(yout)
    err = float(np.abs(got_y - want_y).max())
    masks = [ln.split("mask=")[1] for ln in r.stdout.splitlines()
             if ln.startswith("stats.instance ")]
    want_m = ["".join("1" if g[n, k] < T else "0" for k in range(2)) for n in range(len(x))]
    print(f"max|isbc - numpy| {err:.2e}; masks {masks}")
    if err > 1e-5 or masks != want_m or r.stderr.strip():
        sys.exit(f"FAIL: want masks {want_m}; stderr {r.stderr.strip()!r}")
    print("PASS")


if __name__ == "__main__":
    main()
