#!/usr/bin/python3
"""check_model.py — one torchvision model through `isbc run`, compared with PyTorch.

Exports MODEL (examples/torchvision/export.py: random weights, seed 0, calibrated BatchNorm,
eval, opset 13, dynamic batch) into --workdir once, with a fixed-seed random-normal input
and PyTorch's output per batch size (cached: re-runs skip export and reference), then runs
`isbc run MODEL.onnx -i IN.npy -o OUT.npy` (with --fixed-shape: plus --shape
input=Bx3x224x224) and requires max|out - ref| <= RTOL * max|ref| and the same top-1 class
per instance. Where the reference's top-2 margin is not above twice the allowed difference,
top-1 is a near-tie and is not compared for that instance (said in the output).
Exit 0 pass, 1 fail."""
import argparse
import fcntl
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# The torchvision example's export.py, ahead of the isbnet example's module of the same name
# that the shared PYTHONPATH (tests/CMakeLists.txt) holds.
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "torchvision"))
CACHE_VERSION = "1"  # bump when the export or the inputs change


def stamp_text(model):
    import torch
    import torchvision
    return f"{CACHE_VERSION} {model} torch {torch.__version__} tv {torchvision.__version__}\n"


def save_npy(path, a):
    tmp = f"{path}.tmp{os.getpid()}.npy"
    np.save(tmp, a)
    os.replace(tmp, path)


def prepare(model, batch, workdir):
    """(model.onnx, input.npy, ref.npy), created once under a lock (tests run in parallel)."""
    from export import IMAGE_SHAPE, export_model
    onnx_path = os.path.join(workdir, f"{model}.onnx")
    inp = os.path.join(workdir, f"{model}.b{batch}.input.npy")
    ref = os.path.join(workdir, f"{model}.b{batch}.ref.npy")
    stamp = os.path.join(workdir, f"{model}.stamp")
    with open(os.path.join(workdir, f"{model}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        want = stamp_text(model)
        fresh = os.path.exists(stamp) and open(stamp).read() == want
        if not fresh:
            for p in (stamp, onnx_path):
                if os.path.exists(p):
                    os.remove(p)
        net = None
        if not os.path.exists(onnx_path):
            print(f"exporting {model} to {onnx_path}")
            net = export_model(model, onnx_path, seed=0)
        if not (fresh and os.path.exists(inp) and os.path.exists(ref)):
            import torch
            from export import build_model
            net = net or build_model(model, seed=0)
            x = np.random.default_rng(1000 + batch).standard_normal(
                (batch, *IMAGE_SHAPE), dtype=np.float32)
            with torch.no_grad():
                y = net(torch.from_numpy(x)).numpy()
            save_npy(inp, x)
            save_npy(ref, y)
        if not fresh:
            with open(stamp, "w") as f:
                f.write(want)
    return onnx_path, inp, ref


def compare(out, ref, rtol):
    """Print the comparison; return True on pass."""
    ok = True
    if out.shape != ref.shape:
        print(f"FAIL: output shape {out.shape}, PyTorch {ref.shape}")
        return False
    if not np.all(np.isfinite(out)):
        print(f"FAIL: {int(np.sum(~np.isfinite(out)))} non-finite output values")
        return False
    scale = float(np.max(np.abs(ref)))
    allowed = rtol * scale
    diff = float(np.max(np.abs(out.astype(np.float64) - ref)))
    verdict = "ok" if diff <= allowed else "FAIL"
    print(f"{verdict}: max|diff| = {diff:.3g}, allowed {allowed:.3g} "
          f"(= {rtol:g} * max|ref| {scale:.4g}; relative {diff / scale if scale else 0:.3g})")
    ok = diff <= allowed
    for n in range(ref.shape[0]):
        r = ref[n].ravel()
        top2 = np.argsort(r)[-2:][::-1]
        margin = float(r[top2[0]] - r[top2[1]])
        got = int(np.argmax(out[n].ravel()))
        if margin <= 2 * allowed:
            print(f"  instance {n}: near-tie (top-2 margin {margin:.3g} <= 2 x allowed): "
                  f"top-1 not compared (PyTorch {top2[0]}, isbc {got})")
            continue
        same = got == int(top2[0])
        print(f"  instance {n}: top-1 PyTorch {top2[0]}, isbc {got} "
              f"{'ok' if same else 'FAIL'} (top-2 margin {margin:.3g})")
        ok = ok and same
    return ok


def main():
    ap = argparse.ArgumentParser(description="compare `isbc run` with PyTorch on one model")
    ap.add_argument("model", help="torchvision model name, e.g. resnet18")
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--fixed-shape", action="store_true",
                    help="fix the batch with --shape input=Bx3x224x224")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--timeout", type=int, default=1200)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    onnx_path, inp, ref = prepare(args.model, args.batch, args.workdir)
    tag = f"{args.model}.b{args.batch}{'.shape' if args.fixed_shape else ''}"
    out = os.path.join(args.workdir, f"{tag}.out.npy")
    if os.path.exists(out):
        os.remove(out)
    cmd = [args.isbc, "run", onnx_path, "-i", inp, "-o", out]
    if args.fixed_shape:
        cmd += ["--shape", "input=" + "x".join(str(d) for d in np.load(inp, mmap_mode="r").shape)]
    print("$ " + " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        print(f"FAIL: isbc run timed out after {args.timeout}s")
        return 1
    if p.returncode != 0:
        print(f"FAIL: isbc run exited with status {p.returncode}")
        return 1
    if not os.path.exists(out):
        print(f"FAIL: isbc run wrote no {out}")
        return 1
    if not compare(np.load(out), np.load(ref), args.rtol):
        return 1
    return 0 if roundtrip(args.isbc, onnx_path, args.workdir, tag) else 1


def roundtrip(isbc, onnx_path, workdir, tag):
    """The IR text form reads back to itself: print(parse(x)) == x, for the graph as
    imported and after the whole pipeline."""
    ok = True
    for stage, extra in (("imported", []), ("optimized", ["--after", "plan"])):
        path = os.path.join(workdir, f"{tag}.{stage}.ir")
        with open(path, "w") as f:
            p = subprocess.run([isbc, "dump", onnx_path] + extra, stdout=f)
        if p.returncode != 0:
            print(f"FAIL: isbc dump ({stage}) exited with status {p.returncode}")
            return False
        again = subprocess.run([isbc, "dump", path], capture_output=True, text=True)
        with open(path) as f:
            text = f.read()
        if again.returncode != 0 or again.stdout != text:
            print(f"FAIL: the {stage} IR does not read back to itself ({path}): "
                  f"{again.stderr.strip()[:300]}")
            ok = False
        else:
            print(f"  IR round trip ({stage}, {len(text.splitlines())} lines): ok")
    return ok


if __name__ == "__main__":
    sys.exit(main())
