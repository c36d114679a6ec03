"""isbc_run.py — the helper the tests/unit Python checks share: save a hand-built ONNX model,
run it through `isbc run` on NumPy inputs, read its outputs back."""
import os
import subprocess

import numpy as np
import onnx


def run_model(isbc, work, name, model, feeds, nout=1, args=()):
    """(exit status, stderr, [outputs] or None) of `isbc run [args]` on `model` with `feeds`."""
    path = os.path.join(work, name + ".onnx")
    onnx.save(model, path)
    cmd = [isbc, "run", path, *args]
    for i, a in enumerate(feeds):
        p = os.path.join(work, f"{name}.in{i}.npy")
        np.save(p, a)
        cmd += ["-i", p]
    outs = [os.path.join(work, f"{name}.out{k}.npy") for k in range(nout)]
    for o in outs:
        cmd += ["-o", o]
    r = subprocess.run(cmd, capture_output=True, text=True)
    got = [np.load(o) for o in outs] if r.returncode == 0 else None
    return r.returncode, r.stderr.strip(), got
