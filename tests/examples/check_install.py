#!/usr/bin/python3
"""check_install.py --build DIR --workdir DIR [--cc CC] — an installed isbc works wherever its
prefix is: `cmake --install` into a scratch prefix outside the build tree, the prefix moved
elsewhere, then with the moved prefix only:
- its isbc compiles examples/torchvision's model to an object, linked into the example's C
  program with the flags of `pkg-config isbrt`;
- its isbc compiles the model to a shared library, which links the libisbrt.a installed
  beside it (found from isbc's own location: without that file the link fails);
- the example's own CMakeLists.txt builds the program with find_package(isbrt);
and each program's top-5 is PyTorch's."""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EX = os.path.join(ROOT, "examples", "torchvision")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
failures = []


def check(what, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail and not ok else ''}",
          flush=True)
    if not ok:
        failures.append(what)
    return ok


def run(cmd, env=None, check_rc=True, cwd=None):
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    out = p.stdout + p.stderr
    print(out[-3000:], flush=True)
    if check_rc and p.returncode != 0:
        raise SystemExit(f"FAIL: exit {p.returncode}")
    return p.returncode, out


def top5(text):
    m = re.search(r"instance 0: top-5[^\n]*?((?:\s+\d+:-?[\d.]+){5})", text)
    return [(int(c), float(v)) for c, v in re.findall(r"(\d+):(-?[\d.]+)", m.group(1))] if m \
        else None


def same_top5(got, want):
    if got is None or want is None:
        return False
    ok = all(abs(a[1] - b[1]) <= 2e-4 for a, b in zip(got, want))
    return ok and (got[0][0] == want[0][0] or abs(want[0][1] - want[1][1]) <= 2e-4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--cc", default="cc", help="C compiler command for the programs")
    args = ap.parse_args()
    build, work = os.path.abspath(args.build), os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    cc = shlex.split(args.cc)

    model, inp = os.path.join(work, "model.onnx"), os.path.join(work, "input.npy")
    if not os.path.exists(model):
        run([PY, os.path.join(EX, "export.py"), "--model", "squeezenet1_1", "-o", model])
    run([PY, os.path.join(EX, "make_input.py"), "-o", inp])
    _, out = run([PY, os.path.join(EX, "export.py"), "--model", "squeezenet1_1", "--input", inp,
                  "--no-export"])
    want = top5(out)

    scratch = tempfile.mkdtemp(prefix="isbc-install-")  # outside the build tree
    try:
        first, prefix = os.path.join(scratch, "first"), os.path.join(scratch, "moved")
        run(["cmake", "--install", build, "--prefix", first])
        os.rename(first, prefix)
        isbc = os.path.join(prefix, "bin", "isbc")
        d = os.path.join(scratch, "out")
        os.makedirs(d)

        # pkg-config
        env = dict(os.environ)
        pcdirs = [os.path.join(r, "pkgconfig") for r, dirs, _ in os.walk(prefix)
                  if "pkgconfig" in dirs]
        env["PKG_CONFIG_PATH"] = ":".join(pcdirs)
        _, flags = run(["pkg-config", "--cflags", "--libs", "isbrt"], env=env)
        _, libdir = run(["pkg-config", "--variable=libdir", "isbrt"], env=env)
        libdir = os.path.realpath(libdir.strip())
        check("pkg-config finds the moved prefix", libdir.startswith(os.path.realpath(prefix)),
              libdir)
        run([isbc, "compile", model, "-o", os.path.join(d, "model.o"), "--header",
             os.path.join(d, "model.h"), "--name", "net"])
        exe = os.path.join(d, "classify_pc")
        run(cc + ["-O2", "-std=c11", "-I", d, os.path.join(EX, "main.c"),
                  os.path.join(d, "model.o")] + shlex.split(flags) +
            ["-lopenblas", "-lm", f"-Wl,-rpath,{libdir}", "-o", exe])
        _, out = run([exe, inp])
        check("pkg-config: the program's top-5 is PyTorch's", same_top5(top5(out), want),
              f"{top5(out)} vs {want}")

        # a shared library from the installed isbc
        so = os.path.join(d, "libnet.so")
        run([isbc, "compile", model, "-o", so, "--header", os.path.join(d, "net_so.h"),
             "--name", "net"])
        shutil.copy(os.path.join(d, "net_so.h"), os.path.join(d, "model.h"))
        exe = os.path.join(d, "classify_so")
        run(cc + ["-O2", "-std=c11", "-I", d, os.path.join(EX, "main.c"), so, "-lopenblas",
                  "-lm", f"-Wl,-rpath,{d}", "-o", exe])
        _, out = run([exe, inp])
        check(".so from the moved isbc: top-5 is PyTorch's", same_top5(top5(out), want),
              f"{top5(out)} vs {want}")
        lib = os.path.join(libdir, "libisbrt.a")
        os.rename(lib, lib + ".away")
        rc, out = run([isbc, "compile", model, "-o", os.path.join(d, "again.so")],
                      check_rc=False)
        os.rename(lib + ".away", lib)
        check("the .so links the libisbrt.a beside isbc (without it: no runtime to link)",
              rc == 1 and "isbrt" in out, f"exit {rc}")

        # CMake find_package
        b = os.path.join(scratch, "cmake-build")
        cflags = [a for a in cc[1:]]
        run(["cmake", "-S", EX, "-B", b, f"-DCMAKE_PREFIX_PATH={prefix}",
             f"-DMODEL_ONNX={model}", f"-DCMAKE_C_COMPILER={cc[0]}",
             f"-DCMAKE_C_FLAGS={' '.join(cflags)}", f"-DCMAKE_EXE_LINKER_FLAGS={' '.join(cflags)}"])
        run(["cmake", "--build", b])
        _, out = run([os.path.join(b, "classify"), inp])
        check("find_package(isbrt): the program's top-5 is PyTorch's", same_top5(top5(out), want),
              f"{top5(out)} vs {want}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("FAILED" if failures else "all ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
