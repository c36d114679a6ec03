"""isbc_run.py — the helpers the tests/unit Python checks share: save a hand-built ONNX model,
run it through `isbc run` on NumPy inputs, read its outputs back; evaluate the same model in
ONNX Runtime (onnxruntime-node from npm, bench/ort_eval.js) as an independent reference."""
import json
import os
import shutil
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


ORT_EVAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                        "ort_eval.js")
ORT_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64",
              np.dtype(np.int64): "int64", np.dtype(np.int32): "int32", np.dtype(np.bool_): "bool",
              np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8"}


def ort_run(work, name, m, feeds):
    """ONNX Runtime's outputs of model m on feeds (the model as run_model saved it, in work),
    as float64 arrays, and None; or None and ONNX Runtime's error."""
    ins = [{"name": v.name, "dtype": ORT_DTYPES[a.dtype], "dims": list(a.shape),
            "data": a.ravel().tolist()} for v, a in zip(m.graph.input, feeds)]
    ip, op = os.path.join(work, f"{name}.ort_in.json"), os.path.join(work, f"{name}.ort_out.json")
    with open(ip, "w") as f:
        json.dump(ins, f)
    r = subprocess.run([shutil.which("node") or "node", ORT_EVAL, os.path.join(work, name + ".onnx"),
                        ip, op], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    with open(op) as f:
        outs = json.load(f)["outputs"]
    return [np.array(o["data"], dtype=np.float64).reshape(o["dims"]) for o in outs], None
