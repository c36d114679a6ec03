#!/usr/bin/python3
"""Writes two_branches.onnx (the annotated example of docs/annotations.md) and the inputs
x.npy, logits.npy into the current directory. Needs python3-onnx and python3-numpy."""
import json, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
rng = np.random.default_rng(0)
W = [nh.from_array(rng.standard_normal((4, 4)).astype(np.float32), f"w{k}") for k in range(2)]
nodes = [
    h.make_node("Softmax", ["logits"], ["gates"], axis=1),            # the SelectionNet's output
    h.make_node("MatMul", ["x", "w0"], ["b0"]),                       # branch 0: x @ w0, relu
    h.make_node("Relu", ["b0"], ["r0"]),
    h.make_node("Gather", ["gates", "i0"], ["g0"], axis=1),           # gate element 0, [N]
    h.make_node("Unsqueeze", ["g0", "ax1"], ["g0c"]),                 # [N,1]
    h.make_node("Mul", ["g0c", "r0"], ["v0"]),                        # weighted contribution
    h.make_node("MatMul", ["x", "w1"], ["b1"]),                       # branch 1: tanh(x @ w1)
    h.make_node("Tanh", ["b1"], ["t1"]),
    h.make_node("Gather", ["gates", "i1"], ["g1"], axis=1),
    h.make_node("Unsqueeze", ["g1", "ax1"], ["g1c"]),
    h.make_node("Mul", ["g1c", "t1"], ["v1"]),
    h.make_node("Add", ["v0", "v1"], ["y"]),
]
inits = W + [nh.from_array(np.array(0, np.int64), "i0"), nh.from_array(np.array(1, np.int64), "i1"),
             nh.from_array(np.array([1], np.int64), "ax1")]
g = h.make_graph(nodes, "two_branches",
                 [h.make_tensor_value_info("x", T.FLOAT, ["N", 4]),
                  h.make_tensor_value_info("logits", T.FLOAT, ["N", 2])],
                 [h.make_tensor_value_info("y", T.FLOAT, ["N", 4])], inits)
m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
branches = [{"name": "relu_branch", "gate": "gates", "index": 0, "value": "v0"},
            {"name": "tanh_branch", "gate": "gates", "index": 1, "value": "v1", "threshold": 0.4}]
for k, v in {"isb.version": "1", "isb.branches": json.dumps(branches), "isb.threshold": "0.3"}.items():
    m.metadata_props.add(key=k, value=v)
onnx.checker.check_model(m)
onnx.save(m, "two_branches.onnx")
x = rng.standard_normal((4, 4)).astype(np.float32)
logits = np.array([[2, 0], [0, 2], [0.1, 0], [-3, 3]], np.float32)
np.save("x.npy", x); np.save("logits.npy", logits)
