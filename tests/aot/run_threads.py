#!/usr/bin/python3
"""run_threads.py — two different models run at once from two threads (aot.threads): builds a
convolutional model A (grouped convs: im2col + GEMMs split over the run's team) and an MLP B
(GEMMs large enough for OpenBLAS's own threads), `isbc compile`s them with prefixes a and b,
checks each object references the isbrt_abi_<N> symbol the static libisbrt defines (so a
libisbrt of another ABI version fails at link time), links threads_main.c against both and the static libisbrt, and runs it: every
concurrent run must be bit-identical to the model run alone, and OpenBLAS's process-wide
thread count must never change. Exit 0 pass, 1 fail."""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        print(f"command failed with status {r.returncode}", flush=True)
        sys.exit(1)
    return r


def save(path, name, nodes, inp, out, weights):
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + inp)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"] + out)],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def model_a(path, rng):
    w = {"w1": rng.normal(0, 0.2, (64, 16, 3, 3)), "b1": rng.normal(0, 0.1, 64),
         "w2": rng.normal(0, 0.1, (64, 32, 3, 3)), "b2": rng.normal(0, 0.1, 64),
         "w3": rng.normal(0, 0.3, (10, 64)), "b3": rng.normal(0, 0.1, 10)}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], group=2),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[2, 2], group=2),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    save(path, "threads_a", nodes, [32, 40, 40], [10],
         {k: v.astype(np.float32) for k, v in w.items()})
    return 32 * 40 * 40, 10


def model_b(path, rng):
    w = {"w1": rng.normal(0, 0.05, (1024, 512)), "b1": rng.normal(0, 0.1, 1024),
         "w2": rng.normal(0, 0.05, (1024, 512))}
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
        helper.make_node("Tanh", ["h"], ["t"]),
        helper.make_node("MatMul", ["t", "w2"], ["m"]),
        helper.make_node("Relu", ["m"], ["y"]),
    ]
    save(path, "threads_b", nodes, [512], [512], {k: v.astype(np.float32) for k, v in w.items()})
    return 512, 512


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--cc", required=True)
    ap.add_argument("--isbrt", required=True, help="static libisbrt")
    ap.add_argument("--include", required=True, help="directory of isbrt.h")
    ap.add_argument("--blas", default="-lopenblas", help="OpenBLAS link flags (;-separated)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--cflags", default="", help="extra compile and link flags (;-separated)")
    ap.add_argument("--rounds", type=int, default=40)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    rng = np.random.default_rng(11)
    sizes = {"a": model_a(os.path.join(a.workdir, "a.onnx"), rng),
             "b": model_b(os.path.join(a.workdir, "b.onnx"), rng)}
    defined = run(["nm", "--defined-only", a.isbrt], capture_output=True, text=True).stdout
    abi = sorted(set(re.findall(r"\bisbrt_abi_\d+\b", defined)))
    if len(abi) != 1:
        print(f"libisbrt defines {abi or 'no isbrt_abi_<N>'}, expected one")
        sys.exit(1)
    objs = []
    for name in ("a", "b"):
        obj = os.path.join(a.workdir, f"{name}.o")
        run([a.isbc, "compile", os.path.join(a.workdir, f"{name}.onnx"), "-o", obj, "--header",
             os.path.join(a.workdir, f"{name}.h"), "--name", name])
        undefined = run(["nm", "-u", obj], capture_output=True, text=True).stdout.split()
        if abi[0] not in undefined:
            print(f"{name}.o does not reference {abi[0]}: {undefined}")
            sys.exit(1)
        objs.append(obj)
    defs = [f"-D{n.upper()}_IN_PER={s[0]}" for n, s in sizes.items()]
    defs += [f"-D{n.upper()}_OUT_PER={s[1]}" for n, s in sizes.items()]
    blas = [f for f in a.blas.split(";") if f]
    cflags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-pthread"]
    cflags += [f for f in a.cflags.split(";") if f]
    prog = os.path.join(a.workdir, "prog")
    run([a.cc] + cflags + defs + ["-I", a.workdir, "-I", a.include, "-o", prog,
                                  os.path.join(HERE, "threads_main.c")] + objs +
        [a.isbrt] + blas + ["-lm"])
    run([prog, "4", "48", str(a.rounds)])
    print("aot.threads: PASS")


if __name__ == "__main__":
    main()
