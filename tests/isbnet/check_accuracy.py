#!/usr/bin/python3
"""Accuracy of the compiled ISBNet on the full Fashion-MNIST test set equals the thresholded
reference's (issue 3), through the AOT path: `isbc compile` to a .so (guards included),
called with ctypes in batches. Also checks the logits against the reference.

    check_accuracy.py --isbc ISBC --workdir DIR [--threshold T] [--batch B]"""
import argparse
import ctypes
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EX = os.path.join(HERE, "..", "..", "examples", "isbnet")
import common  # noqa: E402
import reference  # noqa: E402

MODEL = os.path.join(EX, "isbnet.onnx")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--threshold", type=float)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    tag = "default" if args.threshold is None else f"t{args.threshold}"
    so = os.path.join(args.workdir, f"isbnet_{tag}.so")
    cmd = [args.isbc, "compile", MODEL, "-o", so, "--name", "isbnet"]
    if args.threshold is not None:
        cmd += ["--threshold", repr(args.threshold)]
    subprocess.run(cmd, check=True)
    lib = ctypes.CDLL(so)
    lib.isbnet_workspace_size.restype = ctypes.c_size_t
    lib.isbnet_workspace_size.argtypes = [ctypes.c_int64]
    lib.isbnet_run.restype = ctypes.c_int
    lib.isbnet_run.argtypes = [ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]

    x, y = common.load("test")
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    y = np.asarray(y)
    logits = np.zeros((len(x), 10), np.float32)
    for i in range(0, len(x), args.batch):
        xb = np.ascontiguousarray(x[i:i + args.batch])
        n = len(xb)
        ob = np.zeros((n, 10), np.float32)
        ws_bytes = lib.isbnet_workspace_size(n)
        raw = np.zeros(ws_bytes + 64, np.uint8)
        addr = raw.ctypes.data
        ws = addr + (-addr % 64)
        rc = lib.isbnet_run(n, xb.ctypes.data, ob.ctypes.data, ws)
        if rc != 0:
            sys.exit(f"FAIL: isbnet_run returned {rc}")
        logits[i:i + n] = ob
    outs, _ = reference.reference_logits(x, threshold=args.threshold)
    ref = outs["logits"]
    acc = float((logits.argmax(1) == y).mean())
    racc = float((ref.argmax(1) == y).mean())
    err = float(np.abs(logits - ref).max()) / float(np.abs(ref).max())
    diff_top1 = int((logits.argmax(1) != ref.argmax(1)).sum())
    print(f"{tag}: accuracy isbc {acc:.4f}, reference {racc:.4f}; max|diff|/max|ref| {err:.2e}; "
          f"top-1 differs on {diff_top1} of {len(x)}")
    if acc != racc or err > 1e-4 or diff_top1:
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
