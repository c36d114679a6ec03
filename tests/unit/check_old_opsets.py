#!/usr/bin/python3
"""check_old_opsets.py ISBC WORKDIR — old opset forms (opsets 1-6) normalised on import.

Each case is a hand-built model in an old form and the same computation in the newest form;
both go through `isbc run` on the same inputs and must agree with each other and with a
NumPy reference. Error cases must be refused cleanly (exit 1) with the given message."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from isbc_run import run_model  # noqa: E402

F, I64 = TensorProto.FLOAT, TensorProto.INT64
rng = np.random.default_rng(3)


def model(nodes, inputs, outputs, opset, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 3 if opset < 7 else 7
    return m


def vi(name, shape, dt=F):
    return helper.make_tensor_value_info(name, dt, shape)


def run(isbc, work, name, m, feeds):
    rc, err, got = run_model(isbc, work, name, m, feeds)
    return rc, err, got[0] if got else None


def cases():
    """(name, old model, new model, inputs, reference output)"""
    a = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    b34 = rng.standard_normal((3, 4)).astype(np.float32)
    out = vi("y", [2, 3, 4, 5])
    # Add-6 broadcast with axis: B [3,4] against dims 1..2 of A
    yield ("add6_axis",
           model([helper.make_node("Relu", ["a"], ["r"]),  # rank of r only known by inference
                  helper.make_node("Add", ["r", "b"], ["y"], broadcast=1, axis=1)],
                 [vi("a", [2, 3, 4, 5]), vi("b", [3, 4])], [out], 6),
           model([helper.make_node("Relu", ["a"], ["r"]),
                  helper.make_node("Unsqueeze", ["b", "ax"], ["b3"]),
                  helper.make_node("Add", ["r", "b3"], ["y"])],
                 [vi("a", [2, 3, 4, 5]), vi("b", [3, 4])], [out], 13,
                 [numpy_helper.from_array(np.array([2], np.int64), "ax")]),
           [a, b34], np.maximum(a, 0) + b34[:, :, None])
    # Mul-1: consumed_inputs, broadcast=1 without axis (trailing dims, numpy's rule)
    b5 = rng.standard_normal((5,)).astype(np.float32)
    yield ("mul1_trailing",
           model([helper.make_node("Mul", ["a", "b"], ["y"], broadcast=1, consumed_inputs=[0, 0])],
                 [vi("a", [2, 3, 4, 5]), vi("b", [5])], [out], 1),
           model([helper.make_node("Mul", ["a", "b"], ["y"])],
                 [vi("a", [2, 3, 4, 5]), vi("b", [5])], [out], 13),
           [a, b5], a * b5)
    # PRelu-6: a 1-D slope is per channel
    slope = rng.standard_normal((3,)).astype(np.float32)
    yield ("prelu6_channel",
           model([helper.make_node("PRelu", ["a", "s"], ["y"])], [vi("a", [2, 3, 4, 5])], [out], 6,
                 [numpy_helper.from_array(slope, "s")]),
           model([helper.make_node("PRelu", ["a", "s"], ["y"])], [vi("a", [2, 3, 4, 5])], [out], 13,
                 [numpy_helper.from_array(slope.reshape(3, 1, 1), "s")]),
           [a], np.where(a < 0, a * slope[:, None, None], a))
    # BatchNormalization-6 is_test=1 (and -1 consumed_inputs)
    sc, bi, mu = (rng.standard_normal(3).astype(np.float32) for _ in range(3))
    var = rng.uniform(0.5, 2, 3).astype(np.float32)
    bn_in = [numpy_helper.from_array(v, n) for v, n in zip((sc, bi, mu, var), "sbmv")]
    bn_ref = (a - mu[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) * sc[:, None, None] + bi[:, None, None]
    for op_ver, extra in ((6, {}), (1, {"consumed_inputs": [0, 0, 0, 1, 1]})):
        yield (f"bn{op_ver}_test",
               model([helper.make_node("BatchNormalization", ["a", "s", "b", "m", "v"], ["y"],
                                       is_test=1, epsilon=1e-5, **extra)],
                     [vi("a", [2, 3, 4, 5])], [out], op_ver, bn_in),
               model([helper.make_node("BatchNormalization", ["a", "s", "b", "m", "v"], ["y"],
                                       epsilon=1e-5)], [vi("a", [2, 3, 4, 5])], [out], 15, bn_in),
               [a], bn_ref)
    # Reshape-1 shape attribute, Concat-1 default axis 1, Pad-1 paddings
    yield ("reshape1",
           model([helper.make_node("Reshape", ["a"], ["y"], shape=[6, 20])], [vi("a", [2, 3, 4, 5])],
                 [vi("y", [6, 20])], 1),
           model([helper.make_node("Reshape", ["a", "sh"], ["y"])], [vi("a", [2, 3, 4, 5])],
                 [vi("y", [6, 20])], 13, [numpy_helper.from_array(np.array([6, 20], np.int64), "sh")]),
           [a], a.reshape(6, 20))
    yield ("concat1_default_axis",
           model([helper.make_node("Concat", ["a", "a"], ["y"])], [vi("a", [2, 3, 4, 5])],
                 [vi("y", [2, 6, 4, 5])], 1),
           model([helper.make_node("Concat", ["a", "a"], ["y"], axis=1)], [vi("a", [2, 3, 4, 5])],
                 [vi("y", [2, 6, 4, 5])], 13),
           [a], np.concatenate([a, a], 1))
    pads = [0, 0, 1, 2, 0, 0, 0, 1]
    yield ("pad1_paddings",
           model([helper.make_node("Pad", ["a"], ["y"], paddings=pads, value=1.5)],
                 [vi("a", [2, 3, 4, 5])], [vi("y", [2, 3, 5, 8])], 1),
           model([helper.make_node("Pad", ["a", "p", "c"], ["y"])], [vi("a", [2, 3, 4, 5])],
                 [vi("y", [2, 3, 5, 8])], 13,
                 [numpy_helper.from_array(np.array(pads, np.int64), "p"),
                  numpy_helper.from_array(np.array(1.5, np.float32), "c")]),
           [a], np.pad(a, [(0, 0), (0, 0), (1, 0), (2, 1)], constant_values=1.5))
    # Gemm-6 broadcast C, Dropout-6 is_test=1, Cast-1 `to` as a string
    x = rng.standard_normal((2, 3)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    c = rng.standard_normal((4,)).astype(np.float32)
    gin = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(c, "c")]
    yield ("gemm6_broadcast",
           model([helper.make_node("Gemm", ["x", "w", "c"], ["g"], broadcast=1),
                  helper.make_node("Dropout", ["g"], ["y"], is_test=1, ratio=0.5)],
                 [vi("x", [2, 3])], [vi("y", [2, 4])], 6, gin),
           model([helper.make_node("Gemm", ["x", "w", "c"], ["y"])], [vi("x", [2, 3])],
                 [vi("y", [2, 4])], 13, gin),
           [x], x @ w + c)
    yield ("cast1_string",
           model([helper.make_node("Cast", ["x"], ["y"], to="INT32")], [vi("x", [2, 3])],
                 [vi("y", [2, 3], TensorProto.INT32)], 1),
           model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT32)], [vi("x", [2, 3])],
                 [vi("y", [2, 3], TensorProto.INT32)], 13),
           [x * 3], (x * 3).astype(np.int32))


def errors():
    """(name, model, message fragment)"""
    a = [vi("a", [2, 3])]
    y = [vi("y", [2, 3])]
    yield ("bn6_training",
           model([helper.make_node("BatchNormalization", ["a", "s", "b", "m", "v"], ["y"], name="bn")],
                 a, y, 6, [numpy_helper.from_array(np.ones(3, np.float32), n) for n in "sbmv"]),
           "unsupported: BatchNormalization attribute 'is_test'=0 (opset 6) at node 'bn': training mode")
    yield ("dropout6_training",
           model([helper.make_node("Dropout", ["a"], ["y"], name="drop", is_test=0)], a, y, 6),
           "unsupported: Dropout attribute 'is_test'=0 (opset 6) at node 'drop': training mode")
    yield ("add7_broadcast",
           model([helper.make_node("Add", ["a", "a"], ["y"], name="add", broadcast=1)], a, y, 7),
           "unsupported: Add attribute 'broadcast' (opset 7) at node 'add'")
    yield ("reshape5_shape_attr",
           model([helper.make_node("Reshape", ["a"], ["y"], name="r", shape=[3, 2])], a,
                 [vi("y", [3, 2])], 5),
           "unsupported: Reshape attribute 'shape' (opset 5) at node 'r'")
    yield ("cast1_bad_type",
           model([helper.make_node("Cast", ["a"], ["y"], name="c", to="COMPLEX64")], a, y, 1),
           "unsupported: Cast to 'COMPLEX64' (opset 1) at node 'c'")


def main():
    isbc, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    bad = 0
    for name, old, new, feeds, ref in cases():
        rc_o, err_o, got_o = run(isbc, work, name + ".old", old, feeds)
        rc_n, err_n, got_n = run(isbc, work, name + ".new", new, feeds)
        if rc_o or rc_n:
            print(f"FAIL {name}: old exit {rc_o} ({err_o}), new exit {rc_n} ({err_n})")
            bad += 1
        elif not (got_o.shape == ref.shape and got_o.dtype == ref.dtype and
                  np.allclose(got_o, ref, rtol=1e-4, atol=1e-5) and np.array_equal(got_o, got_n)):
            print(f"FAIL {name}: old-form output differs (shape {got_o.shape}, {got_o.dtype})")
            bad += 1
        else:
            print(f"ok {name}")
    for name, m, frag in errors():
        rc, err, _ = run(isbc, work, name, m, [np.zeros((2, 3), np.float32)])
        if rc != 1 or frag not in err:
            print(f"FAIL {name}: exit {rc}, stderr: {err}")
            bad += 1
        else:
            print(f"ok {name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
