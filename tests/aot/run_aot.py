#!/usr/bin/python3
"""run_aot.py — the AOT path end to end: make the model and its numpy reference
(make_model.py), `isbc compile` it to an object and to a shared library (each with its
header), build main.c against each with the C compiler as a user would (object + static
libisbrt + OpenBLAS + libm; or the .so), run both, and require they match the reference.
Exit 0 pass, 1 fail."""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, **kw)
    if r.returncode != 0:
        print(f"command failed with status {r.returncode}", flush=True)
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--cc", required=True)
    ap.add_argument("--isbrt", required=True, help="static libisbrt")
    ap.add_argument("--blas", default="-lopenblas", help="OpenBLAS link flags (;-separated)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--cflags", default="",
                    help="extra compile and link flags (;-separated), e.g. sanitizers")
    ap.add_argument("--batch", type=int, default=3)
    a = ap.parse_args()
    blas = [f for f in a.blas.split(";") if f]
    obj_dir, so_dir = os.path.join(a.workdir, "obj"), os.path.join(a.workdir, "so")
    for d in (a.workdir, obj_dir, so_dir):
        os.makedirs(d, exist_ok=True)
    run([sys.executable, os.path.join(HERE, "make_model.py"), a.workdir, str(a.batch)])
    model = os.path.join(a.workdir, "model.onnx")
    data = [os.path.join(a.workdir, f) for f in ("input.bin", "expected0.bin", "expected1.bin")]
    main_c = os.path.join(HERE, "main.c")
    cflags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"]
    cflags += [f for f in a.cflags.split(";") if f]

    # object file + header, linked with the static runtime
    obj = os.path.join(obj_dir, "net.o")
    run([a.isbc, "compile", model, "-o", obj, "--header", os.path.join(obj_dir, "net.h"),
         "--name", "net"])
    prog = os.path.join(obj_dir, "prog")
    run([a.cc] + cflags + ["-I", obj_dir, "-o", prog, main_c, obj, a.isbrt] + blas + ["-lm"])
    run([prog, str(a.batch)] + data)

    # shared library + header (generic CPU, -O3): needs only OpenBLAS and libm at run time
    so = os.path.join(so_dir, "libnet.so")
    run([a.isbc, "compile", model, "-o", so, "--header", os.path.join(so_dir, "net.h"),
         "--name", "net", "-O3", "--cpu", "generic"])
    # the .so exports the model's functions and keeps its copy of the runtime private, so
    # two models (or a program with its own libisbrt) never call into each other's runtime
    dyn = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True,
                         check=True).stdout.split()
    leaked = sorted(s for s in dyn if s.startswith("isbrt_"))
    if leaked or not any(s.startswith("net_") for s in dyn):
        print(f"libnet.so exports runtime symbols {leaked[:5]} or no net_ function")
        sys.exit(1)
    prog = os.path.join(so_dir, "prog")
    run([a.cc] + cflags + ["-I", so_dir, "-o", prog, main_c, "-L", so_dir, "-lnet",
                           f"-Wl,-rpath,{so_dir}", "-lm"])
    run([prog, str(a.batch)] + data)
    print("aot.example: PASS")


if __name__ == "__main__":
    main()
