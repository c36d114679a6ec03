#!/usr/bin/python3
"""Bad isb.branches annotations (docs/annotations.md): corrupted copies of
examples/isbnet/isbnet.onnx written with onnx at test time; `isbc run` must exit 1 with a
message naming the branch (or, for malformed JSON, the annotation), never run densely.

    check_bad_annotations.py --isbc ISBC --workdir DIR"""
import argparse
import json
import os
import subprocess
import sys

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
EX = os.path.join(HERE, "..", "..", "examples", "isbnet")
MODEL = os.path.join(EX, "isbnet.onnx")
SAMPLE = os.path.join(EX, "samples", "batch8.npy")
B = "cell1.edge2.avg_pool_3x3"  # the branch we corrupt


def corrupt(m, fn):
    for p in m.metadata_props:
        if p.key == "isb.branches":
            p.value = fn(p.value)
    return m


def edit(field, value):
    def fn(text):
        bs = json.loads(text)
        for b in bs:
            if b["name"] == B:
                if value is None:
                    del b[field]
                else:
                    b[field] = value
        return json.dumps(bs)
    return fn


CASES = [
    # (name, edit of the JSON text, substrings the error must contain)
    ("unknown_gate", edit("gate", "no.such.gate"), [B, "unknown gate tensor 'no.such.gate'"]),
    ("unknown_value", edit("value", "isb/nope"), [B, "unknown value tensor 'isb/nope'"]),
    ("index_out_of_range", edit("index", 72), [B, "index 72 out of range"]),
    ("negative_index", edit("index", -1), [B, "negative index"]),
    ("not_downstream", edit("value", "input"), [B, "not downstream of gate"]),
    ("missing_index", edit("index", None), [B, "missing field 'index'"]),
    ("index_not_number", edit("index", "3"), [B, "field 'index' must be a number"]),
    ("malformed_json", lambda t: t[:len(t) // 2], ["isb.branches", "malformed JSON"]),
    ("not_an_array", lambda t: "{}", ["isb.branches", "expected a JSON array"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    bad = 0
    for name, fn, want in CASES:
        path = os.path.join(args.workdir, f"bad_{name}.onnx")
        onnx.save(corrupt(onnx.load(MODEL), fn), path)
        for extra in ([], ["--no-skip"]):
            r = subprocess.run([args.isbc, "run", path, "-i", SAMPLE] + extra,
                               capture_output=True, text=True)
            ok = r.returncode == 1 and all(w in r.stderr for w in want)
            print(f"{'ok  ' if ok else 'FAIL'} {name} {' '.join(extra)}: exit {r.returncode}: "
                  f"{r.stderr.strip()[:200]}")
            bad += not ok
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
