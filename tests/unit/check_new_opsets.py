#!/usr/bin/python3
"""check_new_opsets.py ISBC WORKDIR — models at opsets 18-21, as current PyTorch and ONNX
exporters write them, through `isbc run`, each against a NumPy reference.

Debian's onnx package knows opsets up to 17, so the models are written with onnx.helper
directly (no checker). Covered: Reduce* with `axes` as an input (18), noop_with_empty_axes,
Split with num_outputs (18), Pad with an `axes` input (18) and mode wrap (19), Resize with the attributes of
Resize-18/19 at their defaults, Cast with `saturate` (19), Gelu (20, exact and tanh),
GroupNormalization (18: per-group scale, 21: per-channel), Mish (18), AveragePool with
dilations (19),
version bumps that only widen types (Flatten, Reshape, Transpose, Squeeze, Unsqueeze,
Identity, Shape, ConstantOfShape at 21). Error cases: what isbc does not compute is refused
cleanly (exit 1) with the given message.

With --ort (ONNX Runtime from npm: `cd bench && npm install --ignore-scripts`), every model
is also evaluated by onnxruntime-node (bench/ort_eval.js) and isbc must match it too; the
test then fails if ONNX Runtime is not installed."""
import math
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from isbc_run import ort_run, run_model  # noqa: E402

F, I64 = TensorProto.FLOAT, TensorProto.INT64
rng = np.random.default_rng(18)


def model(nodes, inputs, outputs, opset, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8 if opset < 19 else 9 if opset < 21 else 10
    return m


def vi(name, shape, dt=F):
    return helper.make_tensor_value_info(name, dt, shape)


def i64(name, vals):
    return numpy_helper.from_array(np.array(vals, np.int64), name)


def erf(x):
    return np.vectorize(math.erf)(x.astype(np.float64))


def reduce_cases():
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    xp = np.abs(x) + 0.5
    refs = {
        "ReduceMean": lambda a, ax, k: a.mean(axis=ax, keepdims=k),
        "ReduceMax": lambda a, ax, k: a.max(axis=ax, keepdims=k),
        "ReduceMin": lambda a, ax, k: a.min(axis=ax, keepdims=k),
        "ReduceProd": lambda a, ax, k: a.astype(np.float64).prod(axis=ax, keepdims=k),
        "ReduceL1": lambda a, ax, k: np.abs(a).sum(axis=ax, keepdims=k),
        "ReduceL2": lambda a, ax, k: np.sqrt((a.astype(np.float64) ** 2).sum(axis=ax, keepdims=k)),
        "ReduceSumSquare": lambda a, ax, k: (a.astype(np.float64) ** 2).sum(axis=ax, keepdims=k),
        "ReduceLogSum": lambda a, ax, k: np.log(a.astype(np.float64).sum(axis=ax, keepdims=k)),
        "ReduceLogSumExp": lambda a, ax, k: np.log(np.exp(a.astype(np.float64)).sum(
            axis=ax, keepdims=k)),
    }
    for op, ref in refs.items():
        for axes, keep in (([1, 3] if op in ("ReduceMean", "ReduceMax", "ReduceMin") else [2, 3], 1),
                       ([-1], 0)):
            a = xp if op == "ReduceLogSum" else x
            want = ref(a, tuple(axes), bool(keep)).astype(np.float32)
            yield (f"{op.lower()}18_axes{''.join(str(v) for v in axes)}_k{keep}",
                   model([helper.make_node(op, ["x", "axes"], ["y"], keepdims=keep)],
                         [vi("x", [2, 3, 4, 5])], [vi("y", list(want.shape))], 18,
                         [i64("axes", axes)]),
                   [a], [want])
    # no axes: all of them; noop_with_empty_axes=1 with no axes: the input unchanged
    yield ("reducemean18_all",
           model([helper.make_node("ReduceMean", ["x"], ["y"], keepdims=0)],
                 [vi("x", [2, 3, 4, 5])], [vi("y", [])], 18), [x], [np.float32(x.mean())])
    yield ("reducemax18_noop",
           model([helper.make_node("ReduceMax", ["x"], ["y"], noop_with_empty_axes=1)],
                 [vi("x", [2, 3, 4, 5])], [vi("y", [2, 3, 4, 5])], 18), [x], [x])
    # axes computed in the graph (Shape -> Slice arithmetic folds to a constant)
    yield ("reducemean18_axes_from_shape",
           model([helper.make_node("Shape", ["x"], ["s"]),
                  helper.make_node("Size", ["s"], ["r"]),
                  helper.make_node("Sub", ["r", "one"], ["last"]),
                  helper.make_node("Unsqueeze", ["last", "zero"], ["axes"]),
                  helper.make_node("ReduceMean", ["x", "axes"], ["y"])],
                 [vi("x", [2, 3, 4, 5])], [vi("y", [2, 3, 4, 1])], 18,
                 [i64("one", 1), i64("zero", [0])]),
           [x], [x.mean(axis=-1, keepdims=True)])


def split_cases():
    x = rng.standard_normal((2, 10, 3)).astype(np.float32)
    yield ("split18_num_outputs_uneven",
           model([helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)],
                 [vi("x", [2, 10, 3])], [vi("a", [2, 4, 3]), vi("b", [2, 4, 3]),
                                         vi("c", [2, 2, 3])], 18),
           [x], [x[:, 0:4], x[:, 4:8], x[:, 8:10]])
    x2 = rng.standard_normal((3, 4)).astype(np.float32)
    yield ("split18_num_outputs_even",
           model([helper.make_node("Split", ["x"], ["a", "b"], axis=-1, num_outputs=2)],
                 [vi("x", [3, 4])], [vi("a", [3, 2]), vi("b", [3, 2])], 18),
           [x2], [x2[:, :2], x2[:, 2:]])
    yield ("split18_sizes_input",
           model([helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1)],
                 [vi("x", [2, 10, 3])], [vi("a", [2, 7, 3]), vi("b", [2, 3, 3])], 18,
                 [i64("sizes", [7, 3])]),
           [x], [x[:, :7], x[:, 7:]])


def pad_cases():
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    for mode in ("constant", "reflect", "edge"):
        # pads only for axes [2, 3]: begin (1, 2), end (2, 1)
        np_mode = {"constant": "constant", "reflect": "reflect", "edge": "edge"}[mode]
        kw = {"constant_values": 0.5} if mode == "constant" else {}
        want = np.pad(x, [(0, 0), (0, 0), (1, 2), (2, 1)], mode=np_mode, **kw)
        ins = ["x", "pads", "cv" if mode == "constant" else "", "axes"]
        inits = [i64("pads", [1, 2, 2, 1]), i64("axes", [2, -1])]
        if mode == "constant":
            inits.append(numpy_helper.from_array(np.array(0.5, np.float32), "cv"))
        yield (f"pad18_axes_{mode}",
               model([helper.make_node("Pad", ins, ["y"], mode=mode)],
                     [vi("x", [2, 3, 4, 5])], [vi("y", list(want.shape))], 18, inits),
               [x], [want])


def pad19_cases():
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    # wrap (19), a whole period on the last axis; a crop (negative pad) on axis 1
    want = np.pad(x, [(0, 0), (0, 0), (1, 2), (5, 3)], mode="wrap")[:, 1:]
    yield ("pad19_wrap",
           model([helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap")],
                 [vi("x", [2, 3, 4, 5])], [vi("y", list(want.shape))], 19,
                 [i64("pads", [0, -1, 1, 5, 0, 0, 2, 3])]),
           [x], [want])
    # the same on a constant: folded at compile time (passes/eval.c)
    yield ("pad19_wrap_folded",
           model([helper.make_node("Pad", ["c", "pads"], ["p"], mode="wrap"),
                  helper.make_node("Add", ["x", "p"], ["y"])],
                 [vi("x", list(want.shape))], [vi("y", list(want.shape))], 19,
                 [i64("pads", [0, -1, 1, 5, 0, 0, 2, 3]), numpy_helper.from_array(x, "c")]),
           [want], [want + want])


def resize_cases():
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    # nearest, scale 2: every pixel repeated (asymmetric + floor is exact)
    want = x.repeat(2, axis=2).repeat(2, axis=3)
    for opset in (18, 19):
        yield (f"resize{opset}_nearest_defaults",
               model([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest",
                                       coordinate_transformation_mode="asymmetric",
                                       nearest_mode="floor", antialias=0,
                                       keep_aspect_ratio_policy="stretch")],
                     [vi("x", [1, 2, 4, 4])], [vi("y", [1, 2, 8, 8])], opset,
                     [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]),
               [x], [want])
    # Resize-18 `axes`: scales for the given axes only
    yield ("resize18_axes",
           model([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest",
                                   coordinate_transformation_mode="asymmetric",
                                   nearest_mode="floor", axes=[2, 3])],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 2, 8, 8])], 18,
                 [numpy_helper.from_array(np.array([2, 2], np.float32), "scales")]),
           [x], [want])
    # linear, half_pixel_symmetric (19): when every output size is input size x scale, the
    # spec's adjustment is 1 and it is half_pixel: x_original = (x + 0.5) / scale - 0.5
    def linear_half_pixel(a, out):
        n = a.shape[-1]
        src = (np.arange(out) + 0.5) * n / out - 0.5
        src = np.clip(src, 0, n - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        t = src - lo
        return (a[..., lo] * (1 - t) + a[..., hi] * t).astype(np.float32)
    x1 = rng.standard_normal((1, 1, 1, 4)).astype(np.float32)
    want1 = linear_half_pixel(x1, 8)
    yield ("resize19_half_pixel_symmetric_sizes",
           model([helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear",
                                   coordinate_transformation_mode="half_pixel_symmetric")],
                 [vi("x", [1, 1, 1, 4])], [vi("y", [1, 1, 1, 7])], 19,
                 [i64("sizes", [1, 1, 1, 7])]),
           [x1], [linear_half_pixel(x1, 7)])
    yield ("resize19_half_pixel_symmetric",
           model([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                                   coordinate_transformation_mode="half_pixel_symmetric")],
                 [vi("x", [1, 1, 1, 4])], [vi("y", [1, 1, 1, 8])], 19,
                 [numpy_helper.from_array(np.array([1, 1, 1, 2], np.float32), "scales")]),
           [x1], [want1])


def gelu_cases():
    x = (rng.standard_normal((3, 7)) * 3).astype(np.float32)
    exact = 0.5 * x * (1 + erf(x / math.sqrt(2)))
    tanh = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.astype(np.float64) ** 3)))
    yield ("gelu20_exact", model([helper.make_node("Gelu", ["x"], ["y"])],
                                 [vi("x", [3, 7])], [vi("y", [3, 7])], 20),
           [x], [exact.astype(np.float32)])
    yield ("gelu20_tanh", model([helper.make_node("Gelu", ["x"], ["y"], approximate="tanh")],
                                [vi("x", [3, 7])], [vi("y", [3, 7])], 20),
           [x], [tanh.astype(np.float32)])
    # as a transformer MLP writes it: MatMul -> Add -> Gelu -> MatMul, batch symbolic
    w1 = rng.standard_normal((7, 5)).astype(np.float32)
    b1 = rng.standard_normal((5,)).astype(np.float32)
    w2 = rng.standard_normal((5, 2)).astype(np.float32)
    h = x @ w1 + b1
    want = (0.5 * h * (1 + erf(h / math.sqrt(2)))) @ w2
    yield ("gelu20_mlp",
           model([helper.make_node("MatMul", ["x", "w1"], ["m"]),
                  helper.make_node("Add", ["m", "b1"], ["h"]),
                  helper.make_node("Gelu", ["h"], ["g"]),
                  helper.make_node("MatMul", ["g", "w2"], ["y"])],
                 [vi("x", ["N", 7])], [vi("y", ["N", 2])], 20,
                 [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
                  numpy_helper.from_array(w2, "w2")]),
           [x], [want.astype(np.float32)])


def norm_cases():
    x = rng.standard_normal((3, 6, 4, 5)).astype(np.float32) * 2 + 1

    def group_norm(a, groups, eps):
        g = a.astype(np.float64).reshape(a.shape[0], groups, -1)
        mean = g.mean(axis=2, keepdims=True)
        var = ((g - mean) ** 2).mean(axis=2, keepdims=True)
        return ((g - mean) / np.sqrt(var + eps)).reshape(a.shape)

    sg = rng.standard_normal(3).astype(np.float32)
    bg = rng.standard_normal(3).astype(np.float32)
    # GroupNormalization-18: scale and bias per group; symbolic batch
    want = (group_norm(x, 3, 1e-5).reshape(3, 3, -1) * sg[:, None] + bg[:, None]).reshape(x.shape)
    yield ("groupnorm18_per_group",
           model([helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3)],
                 [vi("x", ["N", 6, 4, 5])], [vi("y", ["N", 6, 4, 5])], 18,
                 [numpy_helper.from_array(sg, "s"), numpy_helper.from_array(bg, "b")]),
           [x], [want.astype(np.float32)])
    sc = rng.standard_normal(6).astype(np.float32)
    bc = rng.standard_normal(6).astype(np.float32)
    # GroupNormalization-21: per channel; epsilon; scale and bias as graph inputs
    want = group_norm(x, 2, 1e-3) * sc[None, :, None, None] + bc[None, :, None, None]
    yield ("groupnorm21_per_channel",
           model([helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2,
                                   epsilon=1e-3, stash_type=1)],
                 [vi("x", [3, 6, 4, 5]), vi("s", [6]), vi("b", [6])], [vi("y", [3, 6, 4, 5])],
                 21), [x, sc, bc], [want.astype(np.float32)])
    yield ("mish18", model([helper.make_node("Mish", ["x"], ["y"])],
                           [vi("x", [3, 6, 4, 5])], [vi("y", [3, 6, 4, 5])], 18),
           [x], [(x * np.tanh(np.log1p(np.exp(x.astype(np.float64))))).astype(np.float32)])


def pool_cases():
    x = rng.standard_normal((2, 3, 7, 8)).astype(np.float32)

    def avg_pool(a, k, d, pads, include_pad):
        (pt, pl, pb, pr) = pads
        ap = np.pad(a, [(0, 0), (0, 0), (pt, pb), (pl, pr)])
        valid = np.pad(np.ones(a.shape[2:]), [(pt, pb), (pl, pr)])
        eh, ew = (k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1
        oh, ow = ap.shape[2] - eh + 1, ap.shape[3] - ew + 1
        out = np.zeros(a.shape[:2] + (oh, ow))
        for i in range(oh):
            for j in range(ow):
                win = ap[:, :, i:i + eh:d[0], j:j + ew:d[1]]
                cnt = k[0] * k[1] if include_pad else valid[i:i + eh:d[0], j:j + ew:d[1]].sum()
                out[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
        return out.astype(np.float32)

    for include in (0, 1):
        want = avg_pool(x, (2, 3), (2, 2), (1, 1, 0, 1), include)
        yield (f"averagepool19_dilations_pad{include}",
               model([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 3],
                                       dilations=[2, 2], pads=[1, 1, 0, 1],
                                       count_include_pad=include)],
                     [vi("x", [2, 3, 7, 8])], [vi("y", list(want.shape))], 19),
               [x], [want])


def misc_cases():
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    yield ("cast19_saturate",
           model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.DOUBLE, saturate=1)],
                 [vi("x", [2, 3, 4])], [vi("y", [2, 3, 4], TensorProto.DOUBLE)], 19),
           [x], [x.astype(np.float64)])
    # version bumps of opset 21 that only widen the types (int4, float8)
    want = np.transpose(x.reshape(2, 12), (1, 0)).reshape(12, 1, 2)
    yield ("shape_ops21",
           model([helper.make_node("Flatten", ["x"], ["f"], axis=1),
                  helper.make_node("Transpose", ["f"], ["t"], perm=[1, 0]),
                  helper.make_node("Unsqueeze", ["t", "ax1"], ["u"]),
                  helper.make_node("Identity", ["u"], ["i"]),
                  helper.make_node("Shape", ["i"], ["s"]),
                  helper.make_node("Reshape", ["i", "s"], ["r"]),
                  helper.make_node("Squeeze", ["r", "ax1"], ["q"]),
                  helper.make_node("Unsqueeze", ["q", "ax1"], ["y"])],
                 [vi("x", [2, 3, 4])], [vi("y", [12, 1, 2])], 21, [i64("ax1", [1])]),
           [x], [want])
    yield ("constantofshape21",
           model([helper.make_node("Shape", ["x"], ["s"]),
                  helper.make_node("ConstantOfShape", ["s"], ["c"],
                                   value=helper.make_tensor("v", F, [1], [1.5])),
                  helper.make_node("Add", ["x", "c"], ["y"])],
                 [vi("x", [2, 3, 4])], [vi("y", [2, 3, 4])], 21), [x], [x + 1.5])


def error_cases():
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    sc = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    yield ("resize18_antialias",
           model([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                                   antialias=1)],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 2, 8, 8])], 18, [sc]),
           [x], "antialias")
    x4 = rng.standard_normal((1, 1, 1, 4)).astype(np.float32)
    yield ("resize19_half_pixel_symmetric_fractional",  # 4 x 1.7 = 6.8: adjustment != 1
           model([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear",
                                   coordinate_transformation_mode="half_pixel_symmetric")],
                 [vi("x", [1, 1, 1, 4])], [vi("y", [1, 1, 1, 6])], 19,
                 [numpy_helper.from_array(np.array([1, 1, 1, 1.7], np.float32), "scales")]),
           [x4], "half_pixel_symmetric")
    yield ("reducemean18_axes_attribute",
           model([helper.make_node("ReduceMean", ["x"], ["y"], axes=[1])],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 1, 4, 4])], 18), [x],
           "unsupported: ReduceMean attribute 'axes' (opset 18)")
    yield ("reducel2_18_axes_attribute",
           model([helper.make_node("ReduceL2", ["x"], ["y"], axes=[1])],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 1, 4, 4])], 18), [x],
           "unsupported: ReduceL2 attribute 'axes' (opset 18)")
    yield ("gelu20_bad_approximate",
           model([helper.make_node("Gelu", ["x"], ["y"], approximate="erf")],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 2, 4, 4])], 20), [x], "approximate")
    yield ("groupnorm21_stash_type",
           model([helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2,
                                   stash_type=11)],
                 [vi("x", [1, 2, 4, 4]), vi("s", [2]), vi("b", [2])], [vi("y", [1, 2, 4, 4])], 21),
           [x, np.ones(2, np.float32), np.zeros(2, np.float32)], "stash_type 11")
    yield ("averagepool18_dilations",
           model([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2],
                                   dilations=[2, 2])],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 2, 2, 2])], 18), [x],
           "unsupported: AveragePool attribute 'dilations' (opset 18)")
    yield ("pad19_wrap_wider_than_axis",  # numpy and ONNX Runtime disagree there
           model([helper.make_node("Pad", ["x", "pads"], ["y"], mode="wrap")],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 2, 4, 13])], 19,
                 [i64("pads", [0, 0, 0, 9, 0, 0, 0, 0])]), [x], "wrap' and a pad wider")
    yield ("opset22",
           model([helper.make_node("Relu", ["x"], ["y"])],
                 [vi("x", [1, 2, 4, 4])], [vi("y", [1, 2, 4, 4])], 22), [x],
           "unsupported: opset 22 (isbc supports opsets 1-21)")


def main():
    args = [a for a in sys.argv[1:] if a != "--ort"]
    use_ort = "--ort" in sys.argv
    isbc, work = args[0], args[1]
    os.makedirs(work, exist_ok=True)
    bad = 0
    all_cases = [c for gen in (reduce_cases, split_cases, pad_cases, pad19_cases, resize_cases,
                               gelu_cases,
                               norm_cases, pool_cases, misc_cases) for c in gen()]
    for name, m, feeds, want in all_cases:
        rc, err, got = run_model(isbc, work, name, m, feeds, nout=len(want))
        ok = rc == 0 and got is not None and all(
            g.shape == w.shape and np.allclose(g, w, rtol=1e-5, atol=1e-5)
            for g, w in zip(got, want))
        detail = f"exit {rc}: {err}" if rc else (
            "" if ok else f"max |diff| {max(float(np.abs(g - w).max()) if g.shape == w.shape else float('inf') for g, w in zip(got, want))}, shapes {[g.shape for g in got]} vs {[w.shape for w in want]}")
        if use_ort and ok:
            ref, err = ort_run(work, name, m, feeds)
            ok = ref is not None and all(
                g.shape == r.shape and np.allclose(g, r, rtol=1e-5, atol=1e-5)
                for g, r in zip(got, ref))
            detail = f"ONNX Runtime: {err}" if ref is None else (
                "and ONNX Runtime" if ok else "differs from ONNX Runtime")
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
        bad += not ok
    for name, m, feeds, frag in error_cases():
        rc, err, _ = run_model(isbc, work, name, m, feeds)
        ok = rc == 1 and frag in err
        print(f"{'ok  ' if ok else 'FAIL'} {name} refused: exit {rc}: {err}")
        bad += not ok
    print("FAILED" if bad else "all ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
