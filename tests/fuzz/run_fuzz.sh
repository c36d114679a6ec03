#!/bin/sh
# run_fuzz.sh FUZZER OUTDIR -runs=N SEEDDIR... — one short, deterministic libFuzzer run: a fresh
# OUTDIR receives the new inputs, the seed directories are only read. Exit status: libFuzzer's
# (0, or non-zero with a crash-*/leak-*/oom-*/timeout-* reproducer in OUTDIR/..).
set -e
fuzzer=$1 out=$2 runs=$3
shift 3
rm -rf "$out"
mkdir -p "$out"
cd "$out/.."
exec "$fuzzer" "$runs" -seed=1 -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 "$out" "$@"
