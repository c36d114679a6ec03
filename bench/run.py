#!/usr/bin/python3
"""bench/run.py — isbc against ONNX Runtime and PyTorch, same machine, same run.

For each model × batch × threads it times `isbc bench --json`, bench/ort_bench.js
(onnxruntime-node, `npm install --ignore-scripts` in bench/) and PyTorch (eager, no_grad,
torch.set_num_threads), each in its own process, and prints median latency per engine and
the ratios isbc/ORT and isbc/PyTorch (below 1 means isbc is faster). It reports; it never
asserts. Models are torchvision exports (examples/torchvision/export.py, random weights,
seed 0) cached in --workdir."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ENGINES = ("isbc", "ort", "torch")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "examples", "torchvision"))


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON object in output")


def run_engine(cmd, timeout):
    """Run one benchmark process; returns (dict, None) or (None, short error)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timeout after {timeout}s"
    except OSError as e:
        return None, str(e)
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return None, f"exit {p.returncode}: {err}"
    try:
        return last_json(p.stdout), None
    except ValueError as e:
        return None, str(e)


def torch_worker(args):
    """In a fresh process: time the PyTorch model; print one JSON line."""
    import numpy as np
    import torch
    from export import build_model
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = build_model(args.model, seed=0)
    x = torch.from_numpy(np.load(args.input))
    times = []
    with torch.no_grad():
        for _ in range(args.warmup):
            model(x)
        for _ in range(args.iters):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    q = np.quantile(np.array(times), [0.5, 0.1, 0.9])
    print(json.dumps({"engine": "pytorch", "version": torch.__version__,
                      "median_ms": round(float(q[0]), 3), "p10_ms": round(float(q[1]), 3),
                      "p90_ms": round(float(q[2]), 3), "iters": args.iters,
                      "threads": args.threads, "batch": int(x.shape[0])}))
    return 0


def prepare(model, batches, workdir):
    """Export the model (cached) and one fixed-seed input per batch size."""
    import numpy as np
    from export import IMAGE_SHAPE, export_model
    path = os.path.join(workdir, f"{model}.onnx")
    if not os.path.exists(path):
        print(f"exporting {model} ...", file=sys.stderr)
        export_model(model, path, seed=0)
    inputs = {}
    for b in batches:
        inp = os.path.join(workdir, f"{model}.b{b}.npy")
        if not os.path.exists(inp):
            rng = np.random.default_rng(0)
            np.save(inp, rng.standard_normal((b, *IMAGE_SHAPE), dtype=np.float32))
        inputs[b] = inp
    return path, inputs


def fmt(r):
    return f"{r['median_ms']:.2f}" if r else "fail"


def gflops(r):
    return f"{r['gflops']:.1f}" if r and "gflops" in r else "-"


def ratio(a, b):
    return f"{a['median_ms'] / b['median_ms']:.2f}" if a and b else "-"


def main():
    ap = argparse.ArgumentParser(description="isbc vs ONNX Runtime vs PyTorch latency")
    ap.add_argument("--isbc", default=os.path.join(ROOT, "build", "tools", "isbc"))
    ap.add_argument("--models", default="resnet18", help="comma-separated torchvision names")
    ap.add_argument("--batch", default="1", help="comma-separated batch sizes")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--engines", default="isbc,ort,torch")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--timeout", type=int, default=900, help="seconds per engine run")
    ap.add_argument("--json", help="also write all results to this file")
    ap.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        args.threads = int(args.threads)
        return torch_worker(args)

    engines = args.engines.split(",")
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        ap.error(f"unknown engine {', '.join(repr(e) for e in unknown)} "
                 f"(known: {', '.join(ENGINES)})")
    try:
        batches = [int(b) for b in args.batch.split(",")]
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        ap.error("--batch and --threads take comma-separated whole numbers")
    if min(batches) < 1 or min(threads) < 1:
        ap.error("--batch and --threads must be >= 1")
    import torchvision
    models = args.models.split(",")
    bad = [m for m in models if not callable(getattr(torchvision.models, m, None))
           or m.startswith("_") or m[0].isupper()]
    if bad:
        ap.error(f"unknown torchvision model {', '.join(repr(m) for m in bad)} "
                 f"(e.g. resnet18, mobilenet_v2, squeezenet1_1, efficientnet_b0)")
    if "isbc" in engines and not os.access(args.isbc, os.X_OK):
        ap.error(f"--isbc {args.isbc}: not an executable (build isbc first)")
    os.makedirs(args.workdir, exist_ok=True)
    ort_js = os.path.join(HERE, "ort_bench.js")
    if "ort" in engines and not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        print("bench: onnxruntime-node missing; run: (cd bench && npm install --ignore-scripts)",
              file=sys.stderr)
        return 1
    node = shutil.which("node") or "node"
    common = ["--iters", str(args.iters)]
    results = []
    for model in models:
        path, inputs = prepare(model, batches, args.workdir)
        for b in batches:
            for t in threads:
                row = {"model": model, "batch": b, "threads": t}
                if "isbc" in engines:
                    row["isbc"], row["isbc_err"] = run_engine(
                        [args.isbc, "bench", path, "-i", inputs[b], "--threads", str(t),
                         "--warmup", str(args.warmup), "--json"] + common, args.timeout)
                if "ort" in engines:
                    row["ort"], row["ort_err"] = run_engine(
                        [node, ort_js, path, "--batch", str(b), "--threads", str(t),
                         "--warmup", str(args.warmup)] + common, args.timeout)
                if "torch" in engines:
                    row["torch"], row["torch_err"] = run_engine(
                        [sys.executable, os.path.abspath(__file__), "--torch-worker",
                         "--model", model, "--input", inputs[b], "--threads", str(t),
                         "--warmup", str(args.warmup)] + common, args.timeout)
                for e in ("isbc", "ort", "torch"):
                    if row.get(f"{e}_err"):
                        print(f"bench: {model} b{b} t{t} {e}: {row[f'{e}_err']}", file=sys.stderr)
                results.append(row)

    print(f"\n{'model':<18} {'batch':>5} {'thr':>3} {'isbc ms':>9} {'ORT ms':>9} "
          f"{'PyTorch ms':>10} {'isbc/ORT':>8} {'isbc/PT':>8} {'GFLOP/s':>8}")
    for r in results:
        cell = {e: fmt(r.get(e)) if e in engines else "-" for e in ENGINES}
        print(f"{r['model']:<18} {r['batch']:>5} {r['threads']:>3} {cell['isbc']:>9} "
              f"{cell['ort']:>9} {cell['torch']:>10} "
              f"{ratio(r.get('isbc'), r.get('ort')):>8} {ratio(r.get('isbc'), r.get('torch')):>8} "
              f"{gflops(r.get('isbc')):>8}")
    print("(median latency over --iters runs; ratio < 1 means isbc is faster; GFLOP/s is "
          "isbc's)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    failed = sum(1 for r in results for e in engines if r.get(f"{e}_err"))
    if failed:
        print(f"bench: {failed} engine run(s) failed (see above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
