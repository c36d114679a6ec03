#!/usr/bin/python3
"""check_if.py ISBC WORKDIR — ONNX If lowered to guarded regions (docs/annotations.md: an If
is a guard with an else-region).

Hand-built models whose branches compute from outer values (so nothing folds away), run by
`isbc run` on inputs that take each branch, against a NumPy reference: a float If on a
computed condition, an If with two outputs of int64 and float, an If inside a batch-symbolic
model, and an If whose branch has its own initializer. A nested If is refused cleanly."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from isbc_run import run_model  # noqa: E402

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


def model(nodes, inputs, outputs, opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def run(isbc, work, name, m, feeds, nout=1):
    rc, err, got = run_model(isbc, work, name, m, feeds, nout)
    return (rc, err), got


def float_if():
    """y = Relu(x) * 2 if sum(x) > 0 else 1 - x."""
    then = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("Add", ["r", "r"], ["t_out"])], "then", [], [vi("t_out", F, [3, 4])])
    els = helper.make_graph(
        [helper.make_node("Sub", ["one", "x"], ["e_out"])], "else", [], [vi("e_out", F, [3, 4])],
        initializer=[numpy_helper.from_array(np.array(1, np.float32), "one")])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.float32))),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=els)]
    m = model(nodes, [vi("x", F, [3, 4])], [vi("y", F, [3, 4])])
    ref = lambda x: np.maximum(x, 0) * 2 if x.sum() > 0 else 1 - x  # noqa: E731
    return m, ref


def two_outputs():
    """(n, v) = (n + 1, x * 3) if c else (n * 2, -x)."""
    then = helper.make_graph(
        [helper.make_node("Add", ["n", "k1"], ["tn"]), helper.make_node("Mul", ["x", "k3"], ["tv"])],
        "then", [], [vi("tn", I64, [2]), vi("tv", F, [2, 2])],
        initializer=[numpy_helper.from_array(np.array([1, 1], np.int64), "k1"),
                     numpy_helper.from_array(np.array(3, np.float32), "k3")])
    els = helper.make_graph(
        [helper.make_node("Add", ["n", "n"], ["en"]), helper.make_node("Neg", ["x"], ["ev"])],
        "else", [], [vi("en", I64, [2]), vi("ev", F, [2, 2])])
    nodes = [helper.make_node("If", ["c"], ["on", "ov"], then_branch=then, else_branch=els)]
    m = model(nodes, [vi("c", B, []), vi("n", I64, [2]), vi("x", F, [2, 2])],
              [vi("on", I64, [2]), vi("ov", F, [2, 2])])
    return m


def batch_if():
    """A symbolic batch: y[N,3] = x * w if mean(p) > 0.5 else x + w (p a [1] input)."""
    then = helper.make_graph([helper.make_node("Mul", ["x", "w"], ["t_out"])], "then", [],
                             [vi("t_out", F, ["N", 3])])
    els = helper.make_graph([helper.make_node("Add", ["x", "w"], ["e_out"])], "else", [],
                            [vi("e_out", F, ["N", 3])])
    nodes = [helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(np.array([1, 2, 3], np.float32))),
             helper.make_node("Constant", [], ["h"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
             helper.make_node("Greater", ["p", "h"], ["c1"]),
             helper.make_node("Squeeze", ["c1"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=els)]
    return model(nodes, [vi("x", F, ["N", 3]), vi("p", F, [1])], [vi("y", F, ["N", 3])])


def nested_if():
    inner = helper.make_node("If", ["c"], ["z"], then_branch=helper.make_graph(
        [helper.make_node("Neg", ["x"], ["a"])], "t2", [], [vi("a", F, [2])]),
        else_branch=helper.make_graph([helper.make_node("Abs", ["x"], ["b"])], "e2", [],
                                      [vi("b", F, [2])]))
    then = helper.make_graph([inner], "then", [], [vi("z", F, [2])])
    els = helper.make_graph([helper.make_node("Relu", ["x"], ["q"])], "else", [], [vi("q", F, [2])])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=els)]
    return model(nodes, [vi("c", B, []), vi("x", F, [2])], [vi("y", F, [2])])


def main():
    isbc, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    ok = True
    rng = np.random.default_rng(5)

    m, ref = float_if()
    for k, x in enumerate([rng.normal(1, 1, (3, 4)), rng.normal(-1, 1, (3, 4))]):
        x = x.astype(np.float32)
        r, y = run(isbc, work, f"float_if{k}", m, [x])
        good = y is not None and np.allclose(y[0], ref(x), rtol=1e-6, atol=1e-6)
        print(f"float_if sum={x.sum():+.2f}: {'ok' if good else 'FAIL ' + r[1]}")
        ok &= good

    m = two_outputs()
    n = np.array([4, -7], np.int64)
    x = rng.normal(0, 1, (2, 2)).astype(np.float32)
    for c in (True, False):
        r, y = run(isbc, work, f"two_{c}", m, [np.array(c), n, x], nout=2)
        wn, wv = (n + 1, x * 3) if c else (n * 2, -x)
        good = y is not None and np.array_equal(y[0], wn) and np.allclose(y[1], wv)
        print(f"two_outputs c={c}: {'ok' if good else 'FAIL ' + r[1]}")
        ok &= good

    m = batch_if()
    x = rng.normal(0, 1, (5, 3)).astype(np.float32)
    w = np.array([1, 2, 3], np.float32)
    for p in (0.9, 0.1):
        r, y = run(isbc, work, f"batch_{p}", m, [x, np.array([p], np.float32)])
        want = x * w if p > 0.5 else x + w
        good = y is not None and np.allclose(y[0], want)
        print(f"batch_if p={p}: {'ok' if good else 'FAIL ' + r[1]}")
        ok &= good

    r, _ = run(isbc, work, "nested", nested_if(), [np.array(True), np.ones(2, np.float32)])
    good = r[0] == 1 and "unsupported: If inside If" in r[1]
    print(f"nested If refused: {'ok' if good else 'FAIL ' + str(r[0]) + r[1]}")
    ok &= good
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
