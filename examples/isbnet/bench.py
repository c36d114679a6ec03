#!/usr/bin/python3
"""The latency columns of the README table, in one run on one machine: for batch 1 and 64
(the first test images), `isbc bench` of isbnet.onnx with skips and dense (--no-skip), the
baseline through isbc, and both models dense through ONNX Runtime (bench/ort_bench.js,
onnxruntime-node installed in bench/ with `npm install --ignore-scripts`); medians of
--iters runs, --rounds rounds interleaved (the median of the round medians is printed). Next
to the skip/dense latency ratio it prints the executed/dense FLOPs ratio of the same images
(`isbc bench`, from the generated code's P_run_stats) and their quotient, the ratio of ratios (1.0 = time saved tracks
FLOPs saved). Reports only; never asserts.

    ./bench.py [--threads 1] [--batches 1,64] [--iters 200] [--rounds 3] [--isbc PATH]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def images(n):
    sys.path.insert(0, HERE)
    import common
    x, _ = common.load("test")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    return np.ascontiguousarray(x[:n])


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.strip().startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON in output: " + text[-300:])


def isbc_bench(isbc, model, xin, threads, iters, extra=()):
    cmd = [isbc, "bench", model, "-i", xin, "--threads", str(threads), "--iters", str(iters),
           "--json", *extra]
    return last_json(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def isbc_ms(isbc, model, xin, threads, iters, extra=()):
    return isbc_bench(isbc, model, xin, threads, iters, extra)["median_ms"]


def ort_ms(model, batch, threads, iters):
    js = os.path.join(ROOT, "bench", "ort_bench.js")
    if not os.path.isdir(os.path.join(ROOT, "bench", "node_modules", "onnxruntime-node")):
        return None
    cmd = ["node", js, model, "--batch", str(batch), "--threads", str(threads), "--iters",
           str(iters)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    return last_json(p.stdout)["median_ms"] if p.returncode == 0 else None


def flops_ratio(isbc, model, xin):
    """Executed / dense FLOPs of the compiled code on these images (P_run_stats)."""
    return isbc_bench(isbc, model, xin, 1, 1)["flops_ratio"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--isbc", default=os.path.join(ROOT, "build", "tools", "isbc"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    isb = os.path.join(HERE, "isbnet.onnx")
    base = os.path.join(HERE, "baseline.onnx")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for b in [int(s) for s in args.batches.split(",")]:
            xin = os.path.join(tmp, f"x{b}.npy")
            np.save(xin, images(b))
            runs = {k: [] for k in ("skip", "dense", "base", "ort", "ort_base")}
            for _ in range(args.rounds):
                runs["skip"].append(isbc_ms(args.isbc, isb, xin, args.threads, args.iters))
                runs["dense"].append(
                    isbc_ms(args.isbc, isb, xin, args.threads, args.iters, ["--no-skip"]))
                runs["base"].append(isbc_ms(args.isbc, base, xin, args.threads, args.iters))
                runs["ort"].append(ort_ms(isb, b, args.threads, args.iters))
                runs["ort_base"].append(ort_ms(base, b, args.threads, args.iters))
            med = {k: statistics.median(v) if None not in v else None for k, v in runs.items()}
            fr = flops_ratio(args.isbc, isb, xin)
            tr = med["skip"] / med["dense"]
            rows.append((b, med, fr, tr))
    print(f"threads {args.threads}, median of {args.rounds} rounds x {args.iters} runs (ms)")
    print("| batch | ISBNet isbc skips | ISBNet isbc dense | ISBNet ORT dense | baseline isbc | "
          "baseline ORT | skip/dense time | executed/dense FLOPs | ratio of ratios |")
    print("|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for b, med, fr, tr in rows:
        print(f"| {b} | {fmt(med['skip'])} | {fmt(med['dense'])} | {fmt(med['ort'])} | "
              f"{fmt(med['base'])} | {fmt(med['ort_base'])} | {tr:.3f} | {fr:.3f} | "
              f"{tr / fr:.2f} |")


if __name__ == "__main__":
    main()
