#!/usr/bin/python3
"""ISBNet end to end (issue 3): `isbc run` on examples/isbnet/isbnet.onnx against the
thresholded reference of docs/annotations.md (each branch value multiplied by
gate >= T, evaluated by examples/isbnet/reference.py), and the per-instance skip masks of
`isbc run --stats` against the reference's gate < T.

    check_isbnet.py --isbc ISBC --workdir DIR --batch B [--threshold T | --no-skip | --default]

Pass criterion: max |isbc - ref| <= 1e-4 * max |ref|, same top-1 for every instance, and the
skip mask equal for every instance and branch. For T > 0.2 the reference must also differ
visibly from the dense model (else a compiler that ignores guards would pass)."""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EX = os.path.join(HERE, "..", "..", "examples", "isbnet")
sys.path.insert(0, EX)
import reference  # noqa: E402

MODEL = os.path.join(EX, "isbnet.onnx")


def images(n):
    """n test images: Fashion-MNIST test set if installed, else the 8 samples repeated with
    deterministic perturbations."""
    try:
        import common
        x, _ = common.load("test")
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 3:
            x = x[:, None]
        return np.ascontiguousarray(x[:n])
    except Exception as e:  # noqa: BLE001
        print(f"note: test set unavailable ({e}); using perturbed samples")
        s = np.load(os.path.join(EX, "samples", "batch8.npy"))
        rng = np.random.default_rng(0)
        reps = [np.clip(s + rng.normal(0, 0.05, s.shape).astype(np.float32), 0, 1) for _ in range(n // 8 + 1)]
        return np.ascontiguousarray(np.concatenate(reps)[:n].astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threshold", type=float)
    ap.add_argument("--no-skip", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    tag = f"b{args.batch}_" + ("noskip" if args.no_skip else f"t{args.threshold}" if args.threshold is not None else "default")
    x = images(args.batch)
    xin = os.path.join(args.workdir, f"x_{tag}.npy")
    out = os.path.join(args.workdir, f"y_{tag}.npy")
    np.save(xin, x)
    cmd = [args.isbc, "run", MODEL, "-i", xin, "-o", out, "--stats"]
    ref_t = args.threshold
    if args.no_skip:
        cmd.append("--no-skip")
        ref_t = 0.0
    elif args.threshold is not None:
        cmd += ["--threshold", repr(args.threshold)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}: {r.stderr}")
    y = np.load(out)
    outs, gates = reference.reference_logits(x, threshold=ref_t)
    ref = outs["logits"]
    names, skipped = reference.skip_mask(gates, threshold=ref_t)
    err = float(np.abs(y - ref).max())
    scale = float(np.abs(ref).max())
    print(f"{tag}: max|diff| {err:.3g} (max|ref| {scale:.3g}), top-1 equal "
          f"{int((y.argmax(1) == ref.argmax(1)).sum())}/{len(y)}")
    ok = err <= 1e-4 * scale and (y.argmax(1) == ref.argmax(1)).all()
    masks = {}
    for line in r.stdout.splitlines():
        if line.startswith("stats.instance "):
            f = line.split()
            kv = dict(p.split("=", 1) for p in f[2:])
            masks[int(f[1])] = kv
    if sorted(masks) != list(range(args.batch)):
        print(f"FAIL: --stats reported instances {sorted(masks)[:5]}..., expected {args.batch}")
        ok = False
    else:
        for n in range(args.batch):
            want = "".join("1" if s else "0" for s in skipped[n])
            got = masks[n]["mask"]
            if got != want or int(masks[n]["skipped"]) != int(skipped[n].sum()):
                print(f"FAIL: instance {n}: skipped {masks[n]['skipped']} (mask {got}), "
                      f"reference {int(skipped[n].sum())} (mask {want})")
                ok = False
                break
        print(f"{tag}: skip masks equal for {args.batch} instances "
              f"(mean skipped {skipped.sum(1).mean():.2f} of {skipped.shape[1]})")
    if ref_t is not None and ref_t > 0.2:
        dense, _ = reference.reference_logits(x, threshold=0.0)
        vis = float(np.abs(dense["logits"] - ref).max()) / scale
        print(f"{tag}: masked reference differs from dense by {vis:.3f} of max|ref|")
        if args.batch >= 3 and vis < 0.01:
            print("FAIL: threshold does not change the output visibly; the test proves nothing")
            ok = False
    if not ok:
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
