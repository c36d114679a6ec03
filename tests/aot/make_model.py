#!/usr/bin/python3
"""make_model.py — the small CNN of the AOT test, and its expected output computed with plain
numpy loops (an independent reference, not ONNX Runtime, not isbc).

Model (opset 13, batch dim symbolic "N"):
  input [N,3,8,8] -> Conv 3x3 pad 1 (+bias) -> Relu -> a
  a -> Conv 3x3 pad 1 (+bias) -> Add a -> Relu -> MaxPool 2x2 s2 -> x * Sigmoid(x)
    -> GlobalAveragePool -> Flatten -> "pooled" [N,8]
  pooled -> Gemm (transB, bias) -> Softmax -> "probs" [N,5]
Writes DIR/model.onnx, DIR/input.bin (float32, BATCH instances), DIR/expected0.bin (probs),
DIR/expected1.bin (pooled)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv2d(x, w, b, pad):
    n, c, h, wd = x.shape
    co, ci, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, co, oh, ow), np.float64)
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[:, :, ky:ky + oh, kx:kx + ow]  # [n, ci, oh, ow]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, ky, kx])
    return y + b[None, :, None, None]


def reference(x, p):
    a = np.maximum(conv2d(x, p["w1"], p["b1"], 1), 0)
    r = np.maximum(conv2d(a, p["w2"], p["b2"], 1) + a, 0)
    n, c, h, w = r.shape
    m = r.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    s = m / (1 + np.exp(-m))
    pooled = s.mean(axis=(2, 3))
    logits = pooled @ p["w3"].T + p["b3"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), pooled


def main():
    out_dir, batch = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(7)
    p = {
        "w1": rng.normal(0, 0.3, (8, 3, 3, 3)), "b1": rng.normal(0, 0.1, 8),
        "w2": rng.normal(0, 0.2, (8, 8, 3, 3)), "b2": rng.normal(0, 0.1, 8),
        "w3": rng.normal(0, 0.5, (5, 8)), "b3": rng.normal(0, 0.1, 5),
    }
    p = {k: v.astype(np.float32) for k, v in p.items()}
    x = rng.normal(0, 1, (batch, 3, 8, 8)).astype(np.float32)

    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["a"], name="relu1"),
        helper.make_node("Conv", ["a", "w2", "b2"], ["c2"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["c2", "a"], ["sum"], name="residual"),
        helper.make_node("Relu", ["sum"], ["r"], name="relu2"),
        helper.make_node("MaxPool", ["r"], ["m"], kernel_shape=[2, 2], strides=[2, 2],
                         name="pool"),
        helper.make_node("Sigmoid", ["m"], ["sig"], name="sigmoid"),
        helper.make_node("Mul", ["m", "sig"], ["silu"], name="silu"),
        helper.make_node("GlobalAveragePool", ["silu"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["pooled"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["pooled", "w3", "b3"], ["logits"], transB=1, name="fc"),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes, "aot_example",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 5]),
         helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["N", 8])],
        [numpy_helper.from_array(v, k) for k, v in p.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out_dir, "model.onnx"))

    probs, pooled = reference(x.astype(np.float64), {k: v.astype(np.float64) for k, v in p.items()})
    x.tofile(os.path.join(out_dir, "input.bin"))
    probs.astype(np.float32).tofile(os.path.join(out_dir, "expected0.bin"))
    pooled.astype(np.float32).tofile(os.path.join(out_dir, "expected1.bin"))


if __name__ == "__main__":
    main()
