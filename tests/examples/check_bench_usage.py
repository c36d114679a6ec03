#!/usr/bin/python3
"""check_bench_usage.py ISBC WORKDIR — bench/run.py refuses what it cannot run, with a
message and a non-zero status, before benchmarking anything: an unknown model, an unknown
engine, a malformed batch list; and a run whose engine fails exits 1."""
import os
import subprocess
import sys

RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "run.py")


def main():
    isbc, work = sys.argv[1], sys.argv[2]
    cases = [
        (["--models", "resnet18,nosuchmodel", "--engines", "isbc"], 2,
         "unknown torchvision model 'nosuchmodel'"),
        (["--models", "resnet18", "--engines", "isbc,tvm"], 2, "unknown engine 'tvm'"),
        (["--models", "resnet18", "--batch", "1,x"], 2, "comma-separated whole numbers"),
        (["--models", "resnet18", "--threads", "0"], 2, "must be >= 1"),
        # an engine that fails (isbc given as /bin/false): reported, exit 1
        (["--models", "squeezenet1_1", "--engines", "isbc", "--threads", "1", "--iters", "1",
          "--warmup", "0", "--isbc", "/bin/false"], 1, "1 engine run(s) failed"),
    ]
    bad = 0
    for argv, status, frag in cases:
        p = subprocess.run([sys.executable, RUN, "--isbc", isbc, "--workdir", work] + argv,
                           capture_output=True, text=True, timeout=600)
        ok = p.returncode == status and frag in p.stderr
        print(f"{'ok  ' if ok else 'FAIL'} {' '.join(argv)}: exit {p.returncode} "
              f"(want {status}){'' if ok else ': ' + p.stderr.strip()[-300:]}")
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
