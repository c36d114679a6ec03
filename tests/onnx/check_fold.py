#!/usr/bin/python3
"""check_fold.py ISBC — constant folding (passes/eval.c) of the elementwise ops the ONNX backend
tests only run with graph inputs: each op gets initializer operands, so it folds at compile
time, and the result must match a numpy reference (float rtol 1e-4 atol 1e-5; others exact)."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

os.chdir(tempfile.mkdtemp(prefix="isbc-fold-"))
rng = np.random.default_rng(0)
f = rng.standard_normal((3, 4)).astype(np.float32) * 2
fi = (rng.integers(-9, 9, (3, 4))).astype(np.int64)
fi2 = np.where(fi == 0, 3, fi).astype(np.int64)
b1 = rng.integers(0, 2, (3, 4)).astype(bool); b2 = rng.integers(0, 2, (3, 4)).astype(bool)
u = rng.integers(0, 200, (3, 4)).astype(np.uint8); us = rng.integers(0, 5, (3, 4)).astype(np.uint8)
fa = np.clip(f, -0.9, 0.9)
cases = [("Sin",[f],{}),("Cos",[f],{}),("Tan",[fa],{}),("Asin",[fa],{}),("Acos",[fa],{}),("Atan",[f],{}),
 ("Sinh",[f],{}),("Cosh",[f],{}),("Asinh",[f],{}),("Acosh",[np.abs(f)+1],{}),("Atanh",[fa],{}),
 ("Softplus",[f],{}),("Softsign",[f],{}),("Selu",[f],{"alpha":1.5,"gamma":2.0}),("Elu",[f],{"alpha":0.5}),
 ("Celu",[f],{"alpha":2.0}),("ThresholdedRelu",[f],{"alpha":0.3}),("Shrink",[f],{"bias":0.2,"lambd":0.7}),
 ("Round",[f],{}),("Sign",[f],{}),("Sign",[fi],{}),("IsNaN",[f],{}),("IsInf",[f],{}),
 ("GreaterOrEqual",[f,f[0]],{}),("LessOrEqual",[fi,fi2],{}),("And",[b1,b2],{}),("Or",[b1,b2],{}),("Xor",[b1,b2],{}),
 ("Mod",[fi,fi2],{}),("Mod",[fi,fi2],{"fmod":1}),("Mod",[f,f[0]+3],{"fmod":1}),("BitShift",[u,us],{"direction":"LEFT"}),
 ("BitShift",[u,us],{"direction":"RIGHT"}),("PRelu",[f,f[0]],{}),("Sum",[f,f,f[0]],{}),("Mean",[f,f[0]],{}),
 ("Trilu",[f],{"upper":0}),("EyeLike",[f],{"k":1})]
def REF(op, a, at):
    x = a[0]
    if op == "Selu": return np.where(x > 0, x, at["alpha"] * (np.exp(x) - 1)) * at["gamma"]
    if op == "Elu": return np.where(x >= 0, x, at["alpha"] * (np.exp(x) - 1)).astype(np.float32)
    if op == "Celu": return (np.maximum(0, x) + np.minimum(0, at["alpha"] * (np.exp(x / at["alpha"]) - 1))).astype(np.float32)
    if op == "ThresholdedRelu": return np.where(x > at["alpha"], x, 0).astype(np.float32)
    if op == "Shrink": return np.where(x < -at["lambd"], x + at["bias"], np.where(x > at["lambd"], x - at["bias"], 0)).astype(np.float32)
    if op == "Softplus": return np.log1p(np.exp(x))
    if op == "Softsign": return x / (1 + np.abs(x))
    if op == "IsNaN": return np.isnan(x)
    if op == "IsInf": return np.isinf(x)
    if op == "GreaterOrEqual": return x >= a[1]
    if op == "LessOrEqual": return x <= a[1]
    if op == "And": return x & a[1]
    if op == "Or": return x | a[1]
    if op == "Xor": return x ^ a[1]
    if op == "Mod": return np.fmod(x, a[1]) if at.get("fmod") else np.mod(x, a[1])
    if op == "BitShift": return (x << a[1]) if at["direction"] == "LEFT" else (x >> a[1])
    if op == "PRelu": return np.where(x < 0, x * a[1], x)
    if op == "Sum": return sum(np.broadcast_arrays(*a))
    if op == "Mean": return (sum(np.broadcast_arrays(*a)) / len(a)).astype(np.float32)
    if op == "Trilu": return np.tril(x) if at["upper"] == 0 else np.triu(x)
    if op == "EyeLike": return np.eye(*x.shape, k=at["k"], dtype=x.dtype)
    if op == "Round": return np.round(x)
    return getattr(np, {"Asin":"arcsin","Acos":"arccos","Atan":"arctan","Asinh":"arcsinh","Acosh":"arccosh","Atanh":"arctanh"}.get(op, op.lower()))(x)
bad = 0
for i, (op, ins, attrs) in enumerate(cases):
    inits = [numpy_helper.from_array(a, f"c{j}") for j, a in enumerate(ins)]
    ref = REF(op, ins, attrs)
    dt = onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[ref.dtype]
    # y = Op(consts) then Where(true-input, y, y) so a runtime input exists
    g = helper.make_graph([helper.make_node(op, [f"c{j}" for j in range(len(ins))], ["t"], **attrs),
                           helper.make_node("Where", ["cond", "t", "t"], ["y"])], "g",
                          [helper.make_tensor_value_info("cond", TensorProto.BOOL, [1])],
                          [helper.make_tensor_value_info("y", dt, list(ref.shape))], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, "m.onnx"); np.save("cond.npy", np.array([True]))
    r = subprocess.run([sys.argv[1], "run", "m.onnx", "-i", "cond.npy", "-o", "y.npy"], capture_output=True, text=True)
    if r.returncode: print(op, attrs, "ERR", r.stderr.strip()); bad += 1; continue
    got = np.load("y.npy")
    ok = got.shape == ref.shape and got.dtype == ref.dtype and np.allclose(got, ref, rtol=1e-4, atol=1e-5)
    if not ok: print(op, attrs, "MISMATCH", got.ravel()[:6], ref.ravel()[:6]); bad += 1
print(f"{len(cases) - bad} of {len(cases)} folded ops match")
sys.exit(1 if bad else 0)
