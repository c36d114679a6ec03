"""check_vmath.py LIBISBRT ISBC — the vectorised float exp, sigmoid, tanh and erf
(runtime/vmath.h) against NumPy / PyTorch in float64, in ulps of the correctly rounded float,
on every 1021st float bit pattern (all exponents: denormals, huge |x|, ±inf, NaN) plus a dense
sweep of the range where the results vary:

- the runtime's activations (isbrt_act_apply: Sigmoid, SiLU, Tanh; the conv/gemm epilogues
  and RNN gates run the same inline code) through ctypes on the shared libisbrt, and its
  softmax on random rows;
- the elementwise loops isbc generates (Exp, Sigmoid, Tanh, Erf: so SiLU, Swish and GELU as
  exported), compiled for each ISA path: --cpu native, x86-64-v3 (AVX2) and x86-64 (SSE2).
NaN must give NaN, infinities and signed zeros exactly the reference's."""
import ctypes
import math
import sys
import tempfile

import numpy as np
import torch
from onnx import TensorProto, helper

from isbc_run import run_model

LIB, ISBC = sys.argv[1], sys.argv[2]
failures = []


def points():
    bits = np.arange(0, 1 << 32, 1021, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    dense = np.linspace(-30, 30, 2_000_001, dtype=np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38,
                        88.72283, 88.72284, 88.8, -87.33654, -103.97, -104.0, -104.1, 0.625,
                        -0.625, 0.875, -0.875, 3.93, -3.93],
                       dtype=np.float32)
    return np.concatenate([x, dense, special])


def ulps(got, ref):
    """|got - ref| in units of the float32 spacing at the correctly rounded ref (ref float64);
    inf where exactly one is NaN or an infinity differs."""
    r32 = ref.astype(np.float32)
    sp = np.spacing(np.abs(r32)).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.abs(got.astype(np.float64) - ref) / sp
    both_nan = np.isnan(got) & np.isnan(ref)
    same_inf = np.isinf(got) & np.isinf(r32) & (np.sign(got) == np.sign(r32))
    e = np.where(both_nan | same_inf, 0.0, e)
    return np.where(np.isnan(e), np.inf, e)


def check(what, x, got, ref, bound, loose=None):
    """got within bound ulps of ref; where the mask `loose` holds, only within an absolute
    (|x| + 1) * 2^-149 (a product of x by a denormal)."""
    e = ulps(got, ref)
    if loose is not None:
        with np.errstate(invalid="ignore"):
            d = np.abs(got.astype(np.float64) - ref) / ((np.abs(x.astype(np.float64)) + 1) * 2.0**-149)
        bad = loose & ~((d <= 1) | (np.isnan(got) & np.isnan(ref)))
        if np.any(bad):
            failures.append(f"{what}: {np.count_nonzero(bad)} products by a denormal off, e.g. x="
                            f"{x[bad][0]!r}")
        e = np.where(loose, 0.0, e)
    worst = int(np.argmax(e))
    print(f"{what}: max {e[worst]:.2f} ulp at x={x[worst]!r} (got {got[worst]!r}, "
          f"want {ref[worst]!r}), mean {np.mean(e[np.isfinite(e)]):.3f}")
    if not e[worst] <= bound:
        failures.append(f"{what}: {e[worst]} ulp > {bound}")
    # signed zeros and the NaN of a NaN input
    z = (x == 0) & np.isfinite(got)
    if np.any(np.signbit(got[z]) != np.signbit(ref[z].astype(np.float32))):
        failures.append(f"{what}: wrong sign of zero")


def sigmoid64(x):
    x = x.astype(np.float64)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x < 0, e, 1.0) / (1.0 + e)


def refs():
    def erf(x):
        return torch.erf(torch.from_numpy(x.astype(np.float64))).numpy()

    with np.errstate(over="ignore", invalid="ignore"):
        return {
            "Exp": (lambda x: np.exp(x.astype(np.float64)), 2.0),
            "Sigmoid": (sigmoid64, 3.0),
            "SiLU": (lambda x: x.astype(np.float64) * sigmoid64(x), 4.0),
            "Tanh": (lambda x: np.tanh(x.astype(np.float64)), 3.0),
            "Erf": (erf, 3.0),
        }


def check_runtime(x):
    lib = ctypes.CDLL(LIB)

    class Act(ctypes.Structure):
        _fields_ = [("kind", ctypes.c_int32), ("a", ctypes.c_float), ("b", ctypes.c_float)]

    def apply(kind, v):
        y = np.ascontiguousarray(v, dtype=np.float32).copy()
        lib.isbrt_act_apply(ctypes.byref(Act(kind, 0, 0)), y.ctypes.data_as(ctypes.c_void_p),
                            ctypes.c_int64(y.size))
        return y

    r = refs()
    with np.errstate(over="ignore", invalid="ignore"):
        for name, kind in (("Sigmoid", 3), ("SiLU", 7), ("Tanh", 8)):
            fn, bound = r[name]
            # SiLU = x * sigmoid(x): where sigmoid(x) is a denormal, it has few bits, which
            # the product by x scales up (as the graph's float Mul(x, Sigmoid(x)) does)
            loose = sigmoid64(x) < np.finfo(np.float32).tiny if name == "SiLU" else None
            check(f"runtime {name}", x, apply(kind, x), fn(x), bound, loose)
    # softmax over rows of 1000 random logits of spread up to 100
    rng = np.random.default_rng(5)
    rows = (rng.standard_normal((2000, 1000)) * rng.uniform(0.1, 100, (2000, 1))).astype(
        np.float32)
    y = np.empty_like(rows)
    lib.isbrt_softmax_f32(ctypes.c_int64(2000), ctypes.c_int64(1000), ctypes.c_int64(1),
                          rows.ctypes.data_as(ctypes.c_void_p), y.ctypes.data_as(ctypes.c_void_p),
                          ctypes.c_int32(0))
    # y[i] / y[argmax] = exp(x[i] - max) (x - max rounds in float first, as in every float
    # softmax): exp's error and the roundings of the product by 1 / sum, not the sum's error
    d = (rows - rows.max(axis=1, keepdims=True)).astype(np.float64)
    top = y[np.arange(len(y)), np.argmax(rows, axis=1)].astype(np.float64)[:, None]
    check("runtime softmax", rows.ravel(), (y / top).ravel(), np.exp(d).ravel(), 4.0)


def check_codegen(x):
    X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])
    names = ["Exp", "Sigmoid", "Tanh", "Erf"]
    nodes = [helper.make_node(n, ["x"], [n]) for n in names]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [x.size]) for n in names]
    model = helper.make_model(helper.make_graph(nodes, "vmath", [X], outs),
                              opset_imports=[helper.make_opsetid("", 17)])
    r = refs()
    with tempfile.TemporaryDirectory() as work:
        for cpu in ("native", "x86-64-v3", "x86-64"):
            rc, err, got = run_model(ISBC, work, "vmath", model, [x], nout=len(names),
                                     args=["--cpu", cpu])
            if rc != 0:
                failures.append(f"isbc run --cpu {cpu}: {err}")
                continue
            for name, y in zip(names, got):
                fn, bound = r[name]
                check(f"codegen --cpu {cpu} {name}", x, y, fn(x), bound)


x = points()
check_runtime(x)
check_codegen(x)
if failures:
    print("\n".join(["FAIL"] + failures))
    sys.exit(1)
print("ok")
