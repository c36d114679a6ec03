#!/usr/bin/python3
"""check_makefiles.py --build DIR --workdir DIR [--cc CC] — the example Makefiles rebuild what
a changed make variable affects, and nothing else:
- examples/isbnet: `make run THRESHOLD=0.5` after `make run` recompiles with --threshold 0.5,
  and the compiled program's skip count equals `isbc run --threshold 0.5 --stats`; running it
  again rebuilds nothing; going back to the default threshold recompiles again;
- examples/torchvision: `make run MODEL=mobilenet_v3_small` after the default model exports
  and compiles the new model, whose top-5 matches PyTorch's (`make reference`); running it
  again rebuilds nothing."""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
failures = []


def check(what, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}")
    if not ok:
        failures.append(what)


def make(example, target, args, **var):
    cmd = ["make", "--no-print-directory", "-C", os.path.join(ROOT, "examples", example),
           target, f"BUILD={args.build}", f"OUT={os.path.join(args.workdir, example)}"]
    if args.cc:
        cmd.append(f"CC={args.cc}")
    cmd += [f"{k}={v}" for k, v in var.items()]
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    print(p.stdout + p.stderr, flush=True)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: make exited with {p.returncode}")
    return p.stdout


def skipped(out):
    m = re.search(r"over (\d+) instances (\d+) run, (\d+) skipped", out)
    return int(m.group(3)) if m else None


def isbnet(args):
    isbc = os.path.join(args.build, "tools", "isbc")
    ex = os.path.join(ROOT, "examples", "isbnet")
    first = make("isbnet", "run", args)
    second = make("isbnet", "run", args, THRESHOLD="0.5")
    check("THRESHOLD=0.5 recompiles with --threshold 0.5",
          "isbc compile" in second and "--threshold 0.5" in second)
    r = subprocess.run([isbc, "run", os.path.join(ex, "isbnet.onnx"), "-i",
                        os.path.join(ex, "samples", "batch8.npy"), "--threshold", "0.5",
                        "--stats"], capture_output=True, text=True, check=True)
    want = sum(int(m) for m in re.findall(r"stats\.instance \d+ run=\d+ skipped=(\d+)", r.stdout))
    check(f"THRESHOLD=0.5: the program skips as `isbc run --threshold 0.5` ({want})",
          skipped(second) == want, f"program: {skipped(second)}")
    check("THRESHOLD=0.5 skips more than the default 0.1",
          skipped(second) is not None and skipped(first) is not None
          and skipped(second) > skipped(first), f"{skipped(first)} then {skipped(second)}")
    third = make("isbnet", "run", args, THRESHOLD="0.5")
    check("the same THRESHOLD again rebuilds nothing",
          "isbc compile" not in third and skipped(third) == skipped(second))
    fourth = make("isbnet", "run", args)
    check("back to the default threshold recompiles",
          "isbc compile" in fourth and skipped(fourth) == skipped(first))


def top5(out):
    m = re.search(r"instance 0: top-5[^\n]*?((?:\s+\d+:-?[\d.]+){5})", out)
    return [(int(c), float(v)) for c, v in re.findall(r"(\d+):(-?[\d.]+)", m.group(1))] if m \
        else None


def torchvision(args):
    make("torchvision", "run", args)
    second = make("torchvision", "run", args, MODEL="mobilenet_v3_small")
    check("MODEL=mobilenet_v3_small exports and compiles it",
          "export.py --model mobilenet_v3_small" in second and "isbc compile" in second)
    ref = make("torchvision", "reference", args, MODEL="mobilenet_v3_small")
    got, want = top5(second), top5(ref)
    ok = got is not None and want is not None
    if ok:
        # the same five scores (printed with 4 decimals); the same best class unless the
        # first two are within rounding
        ok = all(abs(a[1] - b[1]) <= 2e-4 for a, b in zip(got, want))
        ok = ok and (got[0][0] == want[0][0] or abs(want[0][1] - want[1][1]) <= 2e-4)
    check("MODEL=mobilenet_v3_small: top-5 as PyTorch's", ok, f"isbc {got}, PyTorch {want}")
    third = make("torchvision", "run", args, MODEL="mobilenet_v3_small")
    check("the same MODEL again rebuilds nothing",
          "export.py" not in third and "isbc compile" not in third and top5(third) == got)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="the isbc build tree")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--cc", help="C compiler command for the example programs")
    ap.add_argument("--only", choices=["isbnet", "torchvision"])
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.workdir = os.path.abspath(args.workdir)
    if args.only in (None, "isbnet"):
        isbnet(args)
    if args.only in (None, "torchvision"):
        torchvision(args)
    print("FAILED" if failures else "all ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
