#!/usr/bin/python3
"""Measure the shipped models for the README table, from the .onnx files alone (evaluated
with run_onnx.py on PyTorch ops; no .pt needed), on the full Fashion-MNIST test
set: params, dense FLOPs per instance, mean executed FLOPs per instance at the threshold
(exact: a shared node runs while any of its branches is live), accuracy dense and
thresholded, per-branch on-rates, distinct branch sets. Writes measurements.json and prints
the table (latency columns are filled from `isbc bench`, see README).

    ./measure.py [--threshold T ...] [--limit N]
"""
import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import common  # noqa: E402
import reference  # noqa: E402
from common import isb  # noqa: E402
import run_onnx  # noqa: E402  (examples/isbnet/run_onnx.py)
from isb_annotate.onnx_tools import _batch1, _node_flops, _types  # noqa: E402


def onnx_params(proto):
    """Elements of the float weights (initializers and Constant nodes; BatchNorm folded)."""
    n = sum(int(np.prod(t.dims)) for t in proto.graph.initializer
            if t.data_type == onnx.TensorProto.FLOAT)
    for node in proto.graph.node:
        if node.op_type == "Constant":
            t = numpy_helper.to_array(node.attribute[0].t)
            if t.dtype == np.float32 and t.size > 1:
                n += t.size
    return n


def plain_flops(proto):
    m = _batch1(proto)
    types = _types(m)
    return int(sum(_node_flops(n, types) for n in m.graph.node))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--isbnet", default=os.path.join(common.HERE, "isbnet.onnx"))
    ap.add_argument("--baseline", default=os.path.join(common.HERE, "baseline.onnx"))
    ap.add_argument("--threshold", type=float, nargs="*",
                    help="thresholds (default: the model's isb.threshold)")
    ap.add_argument("--limit", type=int, default=0, help="first N test images only")
    ap.add_argument("--out", default=os.path.join(common.HERE, "measurements.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    x, y = common.load("test")
    x, y = x.numpy(), y.numpy()
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    res = {"instances": int(x.shape[0])}

    proto = onnx.load(args.isbnet)
    branches, default_t = isb.read_annotations(proto)
    names = [b["name"] for b in branches]
    dense = isb.branch_flops(proto)["dense"]
    outs, gates = reference.reference_logits(x, 0.0, proto)
    acc_dense = float((outs["logits"].argmax(1) == y).mean())
    rows = []
    for t in args.threshold or [default_t]:
        outs_t, _ = reference.reference_logits(x, t, proto)
        _, skipped = reference.skip_mask(gates, t, proto)
        ex = isb.executed_flops(proto, skipped)
        on = ~skipped
        rows.append({"threshold": t,
                     "acc": float((outs_t["logits"].argmax(1) == y).mean()),
                     "executed_flops_mean": float(ex.mean()),
                     "executed_flops_min": int(ex.min()), "executed_flops_max": int(ex.max()),
                     "branches_skipped_mean": float(skipped.sum(1).mean()),
                     "distinct_branch_sets": len({r.tobytes() for r in np.packbits(on, 1)}),
                     "top1_changed_vs_dense": int((outs_t["logits"].argmax(1)
                                                   != outs["logits"].argmax(1)).sum()),
                     "on_rate": dict(zip(names, map(float, on.mean(0))))})
    res["isbnet"] = {"params_onnx": onnx_params(proto), "dense_flops": dense,
                     "acc_dense": acc_dense, "default_threshold": default_t,
                     "branches": len(names), "thresholded": rows}
    bp = onnx.load(args.baseline)
    logits = np.concatenate([run_onnx.run(bp, {"input": x[i:i + 1000]})["logits"]
                             for i in range(0, x.shape[0], 1000)])
    res["baseline"] = {"params_onnx": onnx_params(bp), "dense_flops": plain_flops(bp),
                       "acc": float((logits.argmax(1) == y).mean())}
    common.save_json(args.out, res)

    print(f"{res['instances']} test images; FLOPs per instance (multiply-add = 2)")
    print("| model | params (ONNX, BN folded) | dense FLOPs | mean executed FLOPs | accuracy |")
    print("|---|---|---|---|---|")
    b = res["baseline"]
    print(f"| MobileNetV2-style baseline | {b['params_onnx']} | {b['dense_flops'] / 1e6:.2f} M "
          f"| {b['dense_flops'] / 1e6:.2f} M | {100 * b['acc']:.2f} % |")
    print(f"| ISBNet dense (T = 0) | {res['isbnet']['params_onnx']} | {dense / 1e6:.2f} M "
          f"| {dense / 1e6:.2f} M | {100 * acc_dense:.2f} % |")
    for r in rows:
        print(f"| ISBNet, T = {r['threshold']} | {res['isbnet']['params_onnx']} | "
              f"{dense / 1e6:.2f} M | {r['executed_flops_mean'] / 1e6:.2f} M "
              f"({r['executed_flops_mean'] / dense:.3f}) | {100 * r['acc']:.2f} % |")
    for r in rows:
        print(f"T = {r['threshold']}: {r['branches_skipped_mean']:.1f}/{len(names)} branches "
              f"skipped per instance, {r['distinct_branch_sets']} distinct branch sets, "
              f"executed FLOPs min {r['executed_flops_min']} max {r['executed_flops_max']}, "
              f"top-1 changed vs dense on {r['top1_changed_vs_dense']} images")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
