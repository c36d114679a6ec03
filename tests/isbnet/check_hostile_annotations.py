#!/usr/bin/python3
"""Hostile isb.branches annotations (issue 9) on a small annotated model made here with onnx:
every command (info, dump, compile, run, bench) must refuse the same bad annotation with
exit status 1 and a message naming the branch; names are printed with their control
characters escaped; and a 2000-branch annotation (about 190 kB of JSON) is read in linear time
and memory (under 1 s and 50 MB for `isbc dump`).

    check_hostile_annotations.py --isbc ISBC --workdir DIR"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def model(branches, threshold=None):
    """x, y: [3,4] (a static batch: ReduceMean over it is supported). The SelectionNet g = Softmax(y @ Wg) [3,3] gates three branches of x:
    v0 = Relu(x)*g0, v1 = Sigmoid(x)*g1, v2 = Tanh(Relu(x))*g2. Besides: k, a scalar Constant;
    mm = ReduceMean over the batch of g ([1,3]) and q = mm @ W2 ([1,4]), a value without batch."""
    rng = np.random.default_rng(0)
    wg = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "Wg")
    w2 = numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "W2")
    n = helper.make_node
    nodes = [
        n("MatMul", ["y", "Wg"], ["gl"]),
        n("Softmax", ["gl"], ["g"], axis=1),
        n("Split", ["g"], ["s0", "s1", "s2"], axis=1),
        n("Relu", ["x"], ["a"]),
        n("Mul", ["a", "s0"], ["v0"]),
        n("Sigmoid", ["x"], ["b"]),
        n("Mul", ["b", "s1"], ["v1"]),
        n("Tanh", ["a"], ["c"]),
        n("Mul", ["c", "s2"], ["v2"]),
        n("Constant", [], ["k"], value=helper.make_tensor("kv", TensorProto.FLOAT, [], [2.0])),
        n("Mul", ["v2", "k"], ["v2k"]),
        n("ReduceMean", ["g"], ["mm"], axes=[0], keepdims=1),
        n("MatMul", ["mm", "W2"], ["q"]),
        n("Add", ["v0", "v1"], ["t"]),
        n("Add", ["t", "v2k"], ["t2"]),
        n("Add", ["t2", "q"], ["out"]),
    ]
    vi = helper.make_tensor_value_info
    g = helper.make_graph(nodes, "hostile",
                          [vi("x", TensorProto.FLOAT, [3, 4]), vi("y", TensorProto.FLOAT, [3, 4])],
                          [vi("out", TensorProto.FLOAT, [3, 4])], [wg, w2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    meta = {"isb.version": "1", "isb.branches": branches}
    if threshold is not None:
        meta["isb.threshold"] = threshold
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    return m


GOOD = [{"name": "a", "gate": "g", "index": 0, "value": "v0"},
        {"name": "b", "gate": "g", "index": 1, "value": "v1", "threshold": 0.4},
        {"name": "c", "gate": "g", "index": 2, "value": "v2"}]


def edited(i, **kw):
    bs = [dict(b) for b in GOOD]
    bs[i].update(kw)
    return json.dumps(bs)


EVIL = "evil\x1b[31m\nname"
CASES = [
    # (name, isb.branches text, isb.threshold, fragments stderr must hold, commands)
    ("threshold_inf", edited(1).replace('"threshold": 0.4', '"threshold": 1e999'), None,
     ["branch 'b'", "threshold", "not a finite"], "all"),
    ("threshold_minus_inf", edited(1).replace('"threshold": 0.4', '"threshold": -1e999'), None,
     ["branch 'b'", "threshold", "not a finite"], "all"),
    ("threshold_float_overflow", edited(1, threshold=1e39), None,
     ["branch 'b'", "threshold", "not a finite"], "all"),
    ("default_threshold_overflow", json.dumps(GOOD), "1e39",
     ["isb.threshold", "not a finite number"], "all"),
    ("gate_initializer", edited(0, gate="Wg"), None,
     ["branch 'a'", "gate 'Wg' is a constant"], "all"),
    ("gate_scalar_constant", edited(2, gate="k", value="v2k"), None,
     ["branch 'c'", "gate 'k' is a constant"], "all"),
    ("gates_differ_in_batch", json.dumps(GOOD + [{"name": "late", "gate": "mm", "index": 0,
                                                   "value": "q"}]), None,
     ["branch 'late'", "gate 'mm' f32[1,3]", "differ in batch dim"], "typed"),
    ("control_characters", edited(1, name=EVIL, value="nope"), None,
     ["branch 'evil\\x1b[31m\\x0aname'", "unknown value tensor 'nope'"], "all"),
]


def commands(path, work, which):
    x = os.path.join(work, "x.npy")
    cmds = {
        "info": ["info", path],
        "dump --after infer": ["dump", path, "--after", "infer"],
        "compile": ["compile", path, "-o", os.path.join(work, "hostile.o")],
        "run": ["run", path, "-i", x, "-i", x],
        "run --no-skip": ["run", path, "-i", x, "-i", x, "--no-skip"],
        "bench": ["bench", path, "--iters", "1"],
    }
    if which == "all":
        cmds["dump"] = ["dump", path]
    return cmds


def dump_cost(isbc, path):
    """(exit status, seconds, peak RSS in MB, stderr) of `isbc dump path`."""
    t0 = time.monotonic()
    p = subprocess.Popen([isbc, "dump", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    return os.waitstatus_to_exitcode(status), time.monotonic() - t0, ru.ru_maxrss / 1024, err


def check_large(isbc, work):
    """2000 branches, ~280 kB of JSON: `isbc dump` takes under 1 s and under 50 MB more than
    with three branches (it took 3.9 GB and 26 s when each string reserved the rest of the
    text)."""
    pad = "x" * 40
    bs = [{"name": f"cell{i // 8}.edge{i % 8}.branch_{pad}_{i:05d}", "gate": "g", "index": i % 3,
           "value": f"v{i % 3}", "threshold": 0.25} for i in range(2000)]
    text = json.dumps(bs)
    path = os.path.join(work, "large.onnx")
    onnx.save(model(text), path)
    _, _, base, _ = dump_cost(isbc, os.path.join(work, "good.onnx"))
    status, secs, mb, err = dump_cost(isbc, path)
    ok = status == 0 and secs < 1.0 and mb - base < 50
    print(f"{'ok  ' if ok else 'FAIL'} large annotation: {len(bs)} branches, {len(text)} bytes: "
          f"status {status}, {secs:.2f} s, peak RSS {mb:.1f} MB ({base:.1f} MB with 3 branches) "
          f"{err.strip()[:200]}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    work = args.workdir
    os.makedirs(work, exist_ok=True)
    np.save(os.path.join(work, "x.npy"),
            np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))
    bad = 0
    # The good annotation passes every command (so that each failure below is the edit's).
    good = os.path.join(work, "good.onnx")
    onnx.save(model(json.dumps(GOOD)), good)
    for what, argv in commands(good, work, "all").items():
        r = subprocess.run([args.isbc] + argv, capture_output=True, text=True, errors="replace",
                           stdin=subprocess.DEVNULL, timeout=300)
        ok = r.returncode == 0
        print(f"{'ok  ' if ok else 'FAIL'} good annotation, {what}: exit {r.returncode} "
              f"{r.stderr.strip()[:200]}")
        bad += not ok
    # A valid annotation whose branch name holds control characters: info prints it escaped.
    evil = os.path.join(work, "evil.onnx")
    onnx.save(model(edited(1, name=EVIL)), evil)
    r = subprocess.run([args.isbc, "info", evil], capture_output=True, text=True, errors="replace")
    ok = r.returncode == 0 and "\x1b" not in r.stdout and "evil\\x1b[31m\\x0aname" in r.stdout
    print(f"{'ok  ' if ok else 'FAIL'} info prints a control-character name escaped")
    bad += not ok
    # Names that would end the generated header's comment or hold control characters.
    m = model(json.dumps(GOOD))
    m.graph.name = "g */ #error injected\n/*"
    m.graph.input[0].name = "x */ #error injected"
    for node in m.graph.node:
        node.input[:] = ["x */ #error injected" if i == "x" else i for i in node.input]
    hostile_names = os.path.join(work, "names.onnx")
    onnx.save(m, hostile_names)
    header = os.path.join(work, "names.h")
    r = subprocess.run([args.isbc, "compile", hostile_names, "-o", os.path.join(work, "names.o"),
                        "--header", header], capture_output=True, text=True)
    c = subprocess.run(["cc", "-fsyntax-only", "-x", "c", header], capture_output=True, text=True)
    ok = r.returncode == 0 and c.returncode == 0
    print(f"{'ok  ' if ok else 'FAIL'} header with hostile names compiles: {r.stderr.strip()[:200]} "
          f"{c.stderr.strip()[:300]}")
    bad += not ok
    for name, text, thr, want, which in CASES:
        path = os.path.join(work, f"hostile_{name}.onnx")
        onnx.save(model(text, thr), path)
        for what, argv in commands(path, work, which).items():
            r = subprocess.run([args.isbc] + argv, capture_output=True, text=True,
                               errors="replace", stdin=subprocess.DEVNULL, timeout=300)
            missing = [w for w in want if w not in r.stderr]
            ok = r.returncode == 1 and not missing and "\x1b" not in r.stderr
            print(f"{'ok  ' if ok else 'FAIL'} {name}, {what}: exit {r.returncode}"
                  f"{' (missing ' + repr(missing) + ')' if missing else ''}: "
                  f"{r.stderr.strip()[:240]!r}")
            bad += not ok
    bad += not check_large(args.isbc, work)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
