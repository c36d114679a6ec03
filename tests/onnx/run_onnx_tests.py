#!/usr/bin/python3
"""run_onnx_tests.py — the ONNX backend test data (Debian libonnx-testdata) through `isbc run`.

Every test directory under DATA/{node,simple,pytorch-converted,pytorch-operator} holds a
model.onnx and test_data_set_*/{input,output}_*.pb. Each data set is run with a timeout and
its outputs compared (float: rtol 1e-3, atol 1e-5; integers and bools exact; shapes exact).
A test is one of: pass, error (exit 1, a clean refusal), wrong, crash (signal or any other
status), hang (timeout). The run fails when a test listed in expected_pass.txt does not
pass, or when any test crashes, hangs or computes a wrong result (a test that does not pass
must be a clean refusal); tests that pass but are not listed are reported.

isbc specialises shapes at compile time, so a shape operand (Reshape's shape, Slice's starts,
...) must be a constant. Some tests feed one as a graph input; when isbc refuses such a test
naming the graph input (`... it is the graph input 'X': ... --bind X=FILE`, or `it depends
on the graph input 'X'` for a value computed from X, e.g. a Loop trip count) and X is a
numeric or bool tensor (a Loop condition, Resize's float scales), the data set is run again
with X bound to that data set's value (`--bind`, compiled per data set). Such passes are counted separately ("with --bind")."""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

DIRS = ("node", "simple", "pytorch-converted", "pytorch-operator")
HERE = os.path.dirname(os.path.abspath(__file__))


def load_pb(path):
    import onnx
    from onnx import numpy_helper

    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def compare(got, want):
    """None when got matches want, else a short reason."""
    if got.shape != want.shape:
        return f"shape {got.shape} != {want.shape}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind in "fc":
        if np.allclose(got, want, rtol=1e-3, atol=1e-5, equal_nan=True):
            return None
        bad = ~np.isclose(got, want, rtol=1e-3, atol=1e-5, equal_nan=True)
        return f"{int(bad.sum())}/{want.size} values differ"
    if np.array_equal(got, want):
        return None
    return f"{int((got != want).sum())}/{want.size} values differ"


BIND_RE = re.compile(r"it (?:is|depends on) the graph input '([^']+)'")
# TensorProto float uint8 int8 uint16 int16 int32 int64 bool float16 double uint32 uint64
BIND_TYPES = (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13)


def graph_inputs(model):
    """[(name, elem_type)] of the model's graph inputs that are not initializers, in order."""
    import onnx

    m = onnx.load(model, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    return [(i.name, i.type.tensor_type.elem_type) for i in m.graph.input if i.name not in inits]


def run_set(isbc, model, dsdir, nin, nout, binds, names, timeout, workdir):
    """(status, detail) of one data set; binds: graph-input indices given with --bind."""
    files = [os.path.join(dsdir, f"input_{i}.pb") for i in range(nin)]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        outs = [os.path.join(tmp, f"out_{i}.npy") for i in range(nout)]
        cmd = [isbc, "run", model]
        for i in range(nin):
            if i in binds:
                cmd += ["--bind", f"{names[i]}={files[i]}"]
            else:
                cmd += ["-i", files[i]]
        for o in outs:
            cmd += ["-o", o]
        ds = os.path.basename(dsdir)
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return "hang", f"{ds}: timeout after {timeout}s"
        except OSError as e:
            return "crash", f"{ds}: cannot run isbc: {e}"
        err = r.stderr.decode(errors="replace").strip().splitlines()
        msg = err[-1] if err else ""
        if r.returncode == 1:
            return "error", msg
        if r.returncode != 0:
            return "crash", f"{ds}: status {r.returncode}: {msg}"
        for i, o in enumerate(outs):
            try:
                want = load_pb(os.path.join(dsdir, f"output_{i}.pb"))
            except Exception as e:  # sequences, maps: not tensors
                return "wrong", f"{ds}: output_{i}.pb unreadable ({e})"
            if not os.path.exists(o):
                return "wrong", f"{ds}: output {i} not written"
            try:
                got = np.load(o)
            except Exception as e:
                return "wrong", f"{ds}: output {i} unreadable ({e})"
            why = compare(got, want)
            if why:
                return "wrong", f"{ds}: output {i}: {why}"
    return "pass", ""


def run_one(isbc, test_dir, timeout, workdir):
    """(status, detail, bound) for one test directory; status in pass/error/wrong/crash/hang,
    bound: the graph inputs given with --bind (empty if none was needed)."""
    model = os.path.join(test_dir, "model.onnx")
    sets = sorted(d for d in os.listdir(test_dir) if d.startswith("test_data_set_"))
    if not sets:
        return "error", "no test data", ()
    binds, inputs = set(), None
    for ds in sets:
        dsdir = os.path.join(test_dir, ds)
        files = os.listdir(dsdir)
        nin = len([f for f in files if re.fullmatch(r"input_\d+\.pb", f)])
        nout = len([f for f in files if re.fullmatch(r"output_\d+\.pb", f)])
        names = [n for n, _ in inputs] if inputs else []
        while True:
            st, detail = run_set(isbc, model, dsdir, nin, nout, binds, names, timeout, workdir)
            m = BIND_RE.search(detail) if st == "error" else None
            if not m:
                break
            # isbc asks for a graph input to be a constant: bind it if it is a numeric/bool tensor
            if inputs is None:
                inputs = graph_inputs(model)
                names = [n for n, _ in inputs]
            k = names.index(m.group(1)) if m.group(1) in names else -1
            if k < 0 or k >= nin or k in binds or inputs[k][1] not in BIND_TYPES:
                break
            binds.add(k)
        if st != "pass":
            return st, detail, ()
    return "pass", "", tuple(sorted(names[k] for k in binds))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--data", default="/usr/share/libonnx-testdata/data")
    ap.add_argument("--expected", default=os.path.join(HERE, "expected_pass.txt"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--filter", default=None, help="regex on dir/test names to run")
    ap.add_argument("--write-expected", action="store_true",
                    help="rewrite the expected list from this run's passes")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every non-pass")
    args = ap.parse_args()

    if not os.path.isdir(args.data):
        print(f"no ONNX test data at {args.data}; skipping")
        return 0
    workdir = args.workdir or tempfile.mkdtemp(prefix="isbc-onnx-")
    os.makedirs(workdir, exist_ok=True)
    tests = []
    for d in DIRS:
        root = os.path.join(args.data, d)
        if not os.path.isdir(root):
            continue
        for t in sorted(os.listdir(root)):
            name = f"{d}/{t}"
            if args.filter and not re.search(args.filter, name):
                continue
            if os.path.exists(os.path.join(root, t, "model.onnx")):
                tests.append(name)
    expected = set()
    if os.path.exists(args.expected):
        with open(args.expected) as f:
            expected = {l.strip() for l in f if l.strip() and not l.startswith("#")}

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = dict(zip(tests, pool.map(
            lambda n: run_one(args.isbc, os.path.join(args.data, n), args.timeout, workdir),
            tests)))

    failed = False
    for st in ("crash", "hang", "wrong"):
        bad = [n for n in tests if results[n][0] == st]
        for n in bad:
            print(f"{st.upper()}: {n}: {results[n][1]}")
        failed |= bool(bad)
    regress = [n for n in tests if n in expected and results[n][0] != "pass"]
    for n in regress:
        print(f"REGRESSION: {n}: {results[n][0]}: {results[n][1]}")
    failed |= bool(regress)
    new = [n for n in tests if n not in expected and results[n][0] == "pass"]
    if args.verbose:
        for n in tests:
            if results[n][0] == "error":
                print(f"{results[n][0]}: {n}: {results[n][1]}")
            elif results[n][0] == "pass" and results[n][2]:
                print(f"pass with --bind {','.join(results[n][2])}: {n}")
    if new and not args.write_expected:
        print(f"newly passing ({len(new)}), add to {args.expected}:")
        for n in new:
            print(f"  {n}")
    total = {}
    for d in DIRS:
        names = [n for n in tests if n.startswith(d + "/")]
        if not names:
            continue
        c = {s: 0 for s in ("pass", "error", "wrong", "crash", "hang", "bind")}
        for n in names:
            c[results[n][0]] += 1
            c["bind"] += results[n][0] == "pass" and bool(results[n][2])
        for s in c:
            total[s] = total.get(s, 0) + c[s]
        print(f"{d}: {c['pass']} passed ({c['bind']} with --bind), "
              f"{len(names) - c['pass']} failed "
              f"({c['error']} unsupported, {c['wrong']} wrong, {c['crash']} crash, "
              f"{c['hang']} hang)")
    if total:
        print(f"total: {total['pass']} passed ({total['bind']} with --bind), "
              f"{len(tests) - total['pass']} failed "
              f"({total['error']} unsupported, {total['wrong']} wrong, {total['crash']} crash, "
              f"{total['hang']} hang)")
    if args.write_expected:
        keep = {n for n in expected if n not in results}
        keep |= {n for n in tests if results[n][0] == "pass"}
        with open(args.expected, "w") as f:
            f.write("# ONNX backend tests (libonnx-testdata) that must pass; "
                    "regenerate with run_onnx_tests.py --write-expected\n")
            for n in sorted(keep):
                f.write(n + "\n")
        print(f"wrote {len(keep)} names to {args.expected}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
