#!/usr/bin/python3
"""check_sequences.py ISBC WORKDIR — static sequences and Loop unrolling (frontend/sequence.c).

Each case is a hand-built model run through `isbc run` and compared with a NumPy reference
(the ONNX operator spec's semantics, computed by hand here). Error cases must be refused
cleanly (exit 1) with the given message."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from isbc_run import run_model  # noqa: E402

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
rng = np.random.default_rng(5)


def model(nodes, inputs, outputs, opset=13, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def vi(name, shape, dt=F):
    return helper.make_tensor_value_info(name, dt, shape)


def const(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def run(isbc, work, name, m, feeds, nout):
    return run_model(isbc, work, name, m, feeds, nout)


def loop_body(nodes, inputs, outputs):
    return helper.make_graph(nodes, "body", inputs, outputs)


def cases():
    """(name, model, inputs, reference outputs)"""
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    y = rng.standard_normal((2, 1, 3)).astype(np.float32)
    # Split into [2,3,1] along 1, insert y at 1, erase the last, concat along 1; also a
    # new-axis concat of the pieces of a keepdims=0 split, and the length.
    nodes = [
        helper.make_node("SplitToSequence", ["x", "sizes"], ["s"], axis=1),
        helper.make_node("SequenceInsert", ["s", "y", "one"], ["s2"]),
        helper.make_node("SequenceErase", ["s2"], ["s3"]),
        helper.make_node("ConcatFromSequence", ["s3"], ["cat"], axis=1),
        helper.make_node("SequenceLength", ["s2"], ["len"]),
        helper.make_node("SplitToSequence", ["x"], ["t"], axis=-1, keepdims=0),
        helper.make_node("SequenceAt", ["t", "minus1"], ["last"]),
        helper.make_node("ConcatFromSequence", ["t"], ["stack"], axis=0, new_axis=1),
    ]
    inits = [const("sizes", np.array([2, 3, 1], np.int64)), const("one", np.int64(1)),
             const("minus1", np.int64(-1))]
    m = model(nodes, [vi("x", [2, 6, 3]), vi("y", [2, 1, 3])],
              [vi("cat", None), vi("len", None, I64), vi("last", None), vi("stack", None)],
              12, inits)
    cat = np.concatenate([x[:, 0:2], y, x[:, 2:5]], axis=1)
    yield ("seq_split_insert_concat", m, [x, y],
           [cat, np.array(4, np.int64), x[:, :, 2], np.stack([x[:, :, k] for k in range(3)])])

    # Loop-13, trip count 4, a loop-carried sum, a scan output, an outer-scope value, and a
    # condition that the body computes from the iteration number (folded per iteration).
    a = rng.standard_normal((3,)).astype(np.float32)
    body = loop_body(
        [helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("Mul", ["a", "fi"], ["ai"]),
         helper.make_node("Add", ["acc_in", "ai"], ["acc_out"]),
         helper.make_node("Less", ["i", "five"], ["c_out"]),
         helper.make_node("Relu", ["acc_out"], ["scan"])],
        [vi("i", [], I64), vi("c_in", [], B), vi("acc_in", [3])],
        [vi("c_out", [], B), vi("acc_out", [3]), vi("scan", [3])])
    m = model([helper.make_node("Loop", ["m", "", "a"], ["acc", "scans"], body=body)],
              [vi("a", [3])], [vi("acc", None), vi("scans", None)], 13,
              [const("m", np.int64(4)), const("five", np.int64(5))])
    acc, scans = a.copy(), []
    for i in range(4):
        acc = acc + a * i
        scans.append(np.maximum(acc, 0))
    yield ("loop_unrolled", m, [a], [acc, np.stack(scans)])

    # The same body's condition ends the loop early: Less(i, 1) is false after iteration 1.
    body.node[3].input[1] = "one"
    m = model([helper.make_node("Loop", ["m", "t", "a"], ["acc", "scans"], body=body)],
              [vi("a", [3])], [vi("acc", None), vi("scans", None)], 13,
              [const("m", np.int64(4)), const("one", np.int64(1)), const("t", np.bool_(True))])
    acc = a + a * 1
    yield ("loop_early_exit", m, [a], [acc, np.stack([np.maximum(a, 0), np.maximum(acc, 0)])])

    # A sequence carried through a Loop (SequenceInsert per iteration), concatenated after.
    body = loop_body(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("Add", ["a", "fi"], ["ai"]),
         helper.make_node("SequenceInsert", ["s_in", "ai"], ["s_out"])],
        [vi("i", [], I64), vi("c_in", [], B), helper.make_tensor_sequence_value_info("s_in", F, None)],
        [vi("c_out", [], B), helper.make_tensor_sequence_value_info("s_out", F, None)])
    m = model([helper.make_node("SequenceEmpty", [], ["e"]),
               helper.make_node("Loop", ["m", "", "e"], ["s"], body=body),
               helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0)],
              [vi("a", [3])], [vi("y", None)], 13, [const("m", np.int64(3))])
    yield ("loop_sequence", m, [a], [np.concatenate([a + i for i in range(3)])])

    # Nested Loops: the inner body reads an outer-scope constant and its own trip count.
    inner = loop_body([helper.make_node("Identity", ["c"], ["co"]),
                       helper.make_node("Add", ["v", "a"], ["vo"])],
                      [vi("j", [], I64), vi("c", [], B), vi("v", [3])],
                      [vi("co", [], B), vi("vo", [3])])
    outer = loop_body([helper.make_node("Identity", ["c"], ["co"]),
                       helper.make_node("Loop", ["two", "", "v"], ["vo"], body=inner)],
                      [vi("i", [], I64), vi("c", [], B), vi("v", [3])],
                      [vi("co", [], B), vi("vo", [3])])
    m = model([helper.make_node("Loop", ["m", "", "a"], ["y"], body=outer)], [vi("a", [3])],
              [vi("y", None)], 13, [const("m", np.int64(3)), const("two", np.int64(2))])
    yield ("loop_nested", m, [a], [a * 7])


def errors():
    """(name, model, inputs, message the refusal must contain)"""
    x = rng.standard_normal((2, 3)).astype(np.float32)
    seq_out = helper.make_tensor_sequence_value_info("s", F, None)
    yield ("err_seq_output",
           model([helper.make_node("SequenceConstruct", ["x", "x"], ["s"])], [vi("x", [2, 3])],
                 [seq_out], 12),
           [x], "graph output 's' is a sequence")
    yield ("err_dynamic_position",
           model([helper.make_node("SequenceConstruct", ["x", "x"], ["s"]),
                  helper.make_node("SequenceAt", ["s", "p"], ["y"])],
                 [vi("x", [2, 3]), vi("p", [], I64)], [vi("y", None)], 12),
           [x, np.int64(0)], "it is the graph input 'p'")
    body = loop_body([helper.make_node("Identity", ["c_in"], ["c_out"]),
                      helper.make_node("Relu", ["v_in"], ["v_out"])],
                     [vi("i", [], I64), vi("c_in", [], B), vi("v_in", [2, 3])],
                     [vi("c_out", [], B), vi("v_out", [2, 3])])
    yield ("err_no_trip_count",
           model([helper.make_node("Loop", ["", "t", "x"], ["y"], body=body)], [vi("x", [2, 3])],
                 [vi("y", None)], 13, [const("t", np.bool_(True))]),
           [x], "no trip count")
    yield ("err_dynamic_trip_count",
           model([helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
                  helper.make_node("Cast", ["s"], ["m"], to=I64),
                  helper.make_node("Loop", ["m", "", "x"], ["y"], body=body)],
                 [vi("x", [2, 3])], [vi("y", None)], 13),
           [x], "depends on the graph input 'x'")
    body2 = loop_body([helper.make_node("ReduceMax", ["v_in"], ["mx"], keepdims=0),
                       helper.make_node("Greater", ["mx", "zero"], ["c_out"]),
                       helper.make_node("Relu", ["v_in"], ["v_out"])],
                      [vi("i", [], I64), vi("c_in", [], B), vi("v_in", [2, 3])],
                      [vi("c_out", [], B), vi("v_out", [2, 3])])
    yield ("err_dynamic_condition",
           model([helper.make_node("Loop", ["m", "", "x"], ["y"], body=body2)],
                 [vi("x", [2, 3])], [vi("y", None)], 13,
                 [const("m", np.int64(3)), const("zero", np.float32(0))]),
           [x], "body condition")
    yield ("err_huge_trip_count",
           model([helper.make_node("Loop", ["m", "", "x"], ["y"], body=body)],
                 [vi("x", [2, 3])], [vi("y", None)], 13, [const("m", np.int64(1 << 40))]),
           [x], "too much to unroll")
    nested = loop_body([helper.make_node("Identity", ["c_in"], ["c_out"]),
                        helper.make_node("Loop", ["m", "", "v_in"], ["v_out"], body=body)],
                       [vi("i", [], I64), vi("c_in", [], B), vi("v_in", [2, 3])],
                       [vi("c_out", [], B), vi("v_out", [2, 3])])
    yield ("err_nested_blowup",
           model([helper.make_node("Loop", ["m", "", "x"], ["y"], body=nested)],
                 [vi("x", [2, 3])], [vi("y", None)], 13, [const("m", np.int64(30000))]),
           [x], "more than 262144 nodes")


def main():
    isbc, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    bad = 0
    for name, m, feeds, want in cases():
        rc, err, got = run(isbc, work, name, m, feeds, len(want))
        if rc != 0:
            print(f"FAIL {name}: isbc exit {rc}: {err}")
            bad += 1
            continue
        for k, (g, w) in enumerate(zip(got, want)):
            w = np.asarray(w)
            if g.shape != w.shape or g.dtype != w.dtype or not np.allclose(g, w, rtol=1e-5, atol=1e-6):
                print(f"FAIL {name}: output {k}: got {g.dtype}{g.shape} {g.ravel()[:6]}, "
                      f"want {w.dtype}{w.shape} {w.ravel()[:6]}")
                bad += 1
                break
        else:
            print(f"ok {name}")
    for name, m, feeds, msg in errors():
        rc, err, _ = run(isbc, work, name, m, feeds, 1)
        if rc != 1 or msg not in err or "unsupported" not in err:
            print(f"FAIL {name}: exit {rc}, expected 1 with '{msg}': {err}")
            bad += 1
        else:
            print(f"ok {name}: {err.splitlines()[-1]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
