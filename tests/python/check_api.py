#!/usr/bin/python3
"""python.api: the `isbc` Python package, installed with `pip install ./python` into a scratch
directory and imported from there only, drives a compiled model on NumPy arrays:

- ISBNet (examples/isbnet): m.inputs/m.outputs against the ONNX file's own graph; outputs at
  the compiled thresholds, at a run-time threshold override and at threshold 0 (dense) against
  PyTorch (the ISBNet module under isb.masked(T)); the per-instance mask of branches run
  against the gates PyTorch computed (gate >= T); the override equal, output and mask, to a
  library compiled with that threshold; threads=1 and 2 bit-identical; the mask's row sums
  equal to the statistics; `isbc run --stats` agreeing on the mask.
- a two-input model (docs/two_branches.py): inputs by name and by position, against NumPy.
- bad calls: wrong dtype, shape, count, batch disagreement, a bad threshold; a failing compile
  raises IsbcError with isbc's message; loading a file that is not a model is an IsbcError.
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
ISBNET = os.path.join(ROOT, "examples", "isbnet")


def fail(msg):
    print(f"python.api: FAIL: {msg}")
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)


def raises(exc, f, what):
    try:
        f()
    except exc as e:
        print(f"  ok, {what}: {type(e).__name__}: {e}")
        return
    except Exception as e:  # noqa: BLE001
        fail(f"{what}: raised {type(e).__name__} ({e}), expected {exc.__name__}")
    fail(f"{what}: no error, expected {exc.__name__}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    site = os.path.join(a.workdir, "site")

    # install the package the way a user does (offline, no build isolation), then import it
    # from the install only: the source tree is not on sys.path
    # (from a copy: setuptools writes build/ and *.egg-info into the directory it builds)
    pkg = os.path.join(a.workdir, "python")
    shutil.rmtree(pkg, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "python"), pkg,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--no-index", "--upgrade", "--target", site,
                        pkg], capture_output=True, text=True, cwd=a.workdir)
    expect(r.returncode == 0, f"pip install ./python failed:\n{r.stdout}{r.stderr}")
    src = os.path.realpath(os.path.join(ROOT, "python"))
    sys.path = [p for p in sys.path if not os.path.realpath(p or ".").startswith(src)]
    sys.path.insert(0, site)
    import isbc
    expect(os.path.realpath(isbc.__file__).startswith(os.path.realpath(site)),
           f"isbc imported from {isbc.__file__}, not the install")
    ann = isbc.annotate
    expect(os.path.realpath(ann.__file__).startswith(os.path.realpath(site)),
           f"isbc.annotate is {ann.__file__}, not the installed isb_annotate")
    import onnx

    # ---- ISBNet ------------------------------------------------------------------------
    model = os.path.join(ISBNET, "isbnet.onnx")
    so = isbc.compile(model, os.path.join(a.workdir, "isbnet.so"), name="isbnet",
                      isbc=a.isbc)
    m = isbc.load(so)
    proto = onnx.load(model)
    et = {1: np.float32}
    for infos, vis, what in ((m.inputs, proto.graph.input, "input"),
                             (m.outputs, proto.graph.output, "output")):
        inits = {t.name for t in proto.graph.initializer}
        vis = [v for v in vis if v.name not in inits]
        expect(len(infos) == len(vis), f"{len(infos)} {what}s, the ONNX graph has {len(vis)}")
        for t, v in zip(infos, vis):
            tt = v.type.tensor_type
            dims = tuple("N" if d.dim_param else d.dim_value for d in tt.shape.dim)
            expect(t.name == v.name and t.dtype == et[tt.elem_type] and t.shape == dims,
                   f"{what} {t}: the ONNX graph says {v.name} {tt.elem_type} {dims}")
    print(f"  ok, {m}")

    sys.path.insert(1, ISBNET)  # the PyTorch ISBNet and its reference (examples/isbnet)
    import reference as ref
    branches, _ = ann.read_annotations(proto)
    expect(sorted(m.branches) == sorted(b["name"] for b in branches),
           f"m.branches {m.branches[:4]}... are not the annotated branches")
    x = np.load(os.path.join(ISBNET, "samples", "batch8.npy")).astype(np.float32)
    x = np.concatenate([x, x[:3] * 0.5])  # batch 11
    ths = {b["threshold"] for b in branches}
    expect(len(ths) == 1, "the example's branches share one threshold")
    t_compiled = ths.pop()

    def torch_ref(t):
        outs, gates = ref.reference_logits(x, threshold=t, model=model, backend="torch")
        names, skip = ref.skip_mask(gates, threshold=t, model=model)
        col = {n: k for k, n in enumerate(names)}
        ran = ~skip[:, [col[b] for b in m.branches]]
        return outs[proto.graph.output[0].name], ran

    runs = {}
    for t in (None, 0.2, 0.0):
        y, st = m.run(x, threshold=t, stats=True)
        ry, ran = torch_ref(t_compiled if t is None else t)
        err = float(np.abs(y[0] - ry).max() / max(1.0, float(np.abs(ry).max())))
        expect(err < 1e-4, f"threshold {t}: output differs from PyTorch by {err:.3g}")
        expect(st.mask.shape == (x.shape[0], len(m.branches)), f"mask shape {st.mask.shape}")
        # the compiled gates and PyTorch's may differ in the last bit: allow disagreement only
        # where PyTorch's gate is within 1e-5 of the threshold
        _, gates = ref.reference_logits(x, threshold=t, model=model, backend="torch")
        g = next(iter(gates.values()))
        tt = t_compiled if t is None else t
        idx = {b["name"]: b["index"] for b in branches}
        near = np.abs(g.reshape(g.shape[0], -1)[:, [idx[b] for b in m.branches]] - tt) < 1e-5
        bad = (st.mask != ran) & ~near
        expect(not bad.any(), f"threshold {t}: mask differs from PyTorch's gates at "
               f"{np.argwhere(bad)[:4].tolist()}")
        expect(st.branches == len(m.branches)
               and st.branches_run == int(st.mask.sum())
               and st.branches_run + st.branches_skipped == x.shape[0] * st.branches,
               f"threshold {t}: stats {st} disagree with the mask (sum {int(st.mask.sum())})")
        if t == 0.0:
            expect(st.mask.all() and st.flops_executed == st.flops_dense,
                   f"threshold 0 skipped something: {st}")
        runs[t] = (y[0], st)
        print(f"  ok, threshold {t}: error vs PyTorch {err:.2e}, {st}")

    # the override equals a library compiled with that threshold, bit for bit
    so2 = isbc.compile(model, os.path.join(a.workdir, "isbnet_t02.so"), name="isbnet",
                       threshold=0.2, isbc=a.isbc)
    y2, st2 = isbc.load(so2).run(x, stats=True)
    expect(np.array_equal(y2[0], runs[0.2][0]) and np.array_equal(st2.mask, runs[0.2][1].mask)
           and st2.flops_executed == runs[0.2][1].flops_executed,
           "run-time threshold 0.2 differs from the library compiled with --threshold 0.2")
    print("  ok, run-time threshold 0.2 == compiled --threshold 0.2 (outputs, mask, FLOPs)")

    # threads
    y1 = m(x, threads=1)
    y2 = m(x, threads=2)
    expect(np.array_equal(y1, y2) and np.array_equal(y1, runs[None][0]),
           "threads=1, threads=2 and the default differ")
    print("  ok, threads 1 and 2 bit-identical")

    # isbc run --stats: its mask (1 = skipped, isb.branches order) is the same decision
    np.save(os.path.join(a.workdir, "x.npy"), x)
    r = subprocess.run([a.isbc, "run", model, "-i", os.path.join(a.workdir, "x.npy"),
                        "-o", os.path.join(a.workdir, "y.npy"), "--stats"],
                       capture_output=True, text=True)
    expect(r.returncode == 0, f"isbc run failed: {r.stderr}")
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("stats.instance")]
    col = {b["name"]: k for k, b in enumerate(branches)}
    for n, ln in enumerate(lines):
        bits = ln.split("mask=")[1].strip()
        want = np.array([bits[col[b]] == "0" for b in m.branches])
        expect(np.array_equal(want, runs[None][1].mask[n]),
               f"instance {n}: isbc run --stats mask differs from the library's")
    expect(len(lines) == x.shape[0], f"isbc run --stats printed {len(lines)} instances")
    yr = np.load(os.path.join(a.workdir, "y.npy"))  # the JIT's code: rounding may differ
    expect(np.abs(yr - runs[None][0]).max() <= 1e-6 * np.abs(yr).max(),
           f"isbc run and the library differ by {np.abs(yr - runs[None][0]).max():.3g}")
    print("  ok, isbc run --stats and its output agree with the library")

    # ---- a two-input model: by position and by name ---------------------------------------
    r = subprocess.run([sys.executable, os.path.join(ROOT, "docs", "two_branches.py")],
                       cwd=a.workdir, capture_output=True, text=True)
    expect(r.returncode == 0, f"two_branches.py: {r.stderr}")
    tb = isbc.load(isbc.compile(os.path.join(a.workdir, "two_branches.onnx"),
                                os.path.join(a.workdir, "tb.so"), name="tb", isbc=a.isbc))
    expect([t.name for t in tb.inputs] == ["x", "logits"]
           and sorted(tb.branches) == ["relu_branch", "tanh_branch"],
           f"two_branches: inputs {tb.inputs}, branches {tb.branches}")
    xs = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    lg = np.random.default_rng(2).standard_normal((6, 2)).astype(np.float32)
    yp = tb(xs, lg)
    yn = tb(logits=lg, x=xs)
    tbp = onnx.load(os.path.join(a.workdir, "two_branches.onnx"))
    w = {t.name: onnx.numpy_helper.to_array(t) for t in tbp.graph.initializer}
    gts = np.exp(lg - lg.max(1, keepdims=True))
    gts /= gts.sum(1, keepdims=True)
    want = (gts[:, :1] * (gts[:, :1] >= 0.3) * np.maximum(xs @ w["w0"], 0)  # isb.threshold
            + gts[:, 1:2] * (gts[:, 1:2] >= 0.4) * np.tanh(xs @ w["w1"]))
    expect(np.array_equal(yp, yn), "inputs by name and by position differ")
    expect(np.abs(yp - want).max() < 1e-5, f"two_branches differs from NumPy by "
           f"{np.abs(yp - want).max():.3g}")
    print("  ok, two inputs by position and by name, against NumPy")

    # ---- bad calls ------------------------------------------------------------------------
    raises(TypeError, lambda: m(x.astype(np.float64)), "float64 input")
    raises(ValueError, lambda: m(x[:, :, :27]), "wrong shape")
    raises(TypeError, lambda: m(x, x), "two inputs for one")
    raises(TypeError, lambda: tb(x=xs), "missing input by name")
    raises(TypeError, lambda: tb(xs, logits=lg), "positional and named")
    raises(ValueError, lambda: tb(xs, lg[:5]), "batch disagreement")
    raises(ValueError, lambda: m.run(x, threshold=1.5), "threshold 1.5")
    raises(ValueError, lambda: m.run(x, threads=0), "threads 0")
    raises(isbc.IsbcError, lambda: isbc.compile(os.path.join(a.workdir, "x.npy"),
                                                os.path.join(a.workdir, "bad.so"),
                                                isbc=a.isbc), "compiling a non-model")
    raises(isbc.IsbcError, lambda: isbc.load(os.path.join(a.workdir, "x.npy")),
           "loading a non-library")
    print("python.api: PASS")


if __name__ == "__main__":
    main()
