"""isbc — run models compiled by isbc from Python, and drive the compiler.

    import isbc
    isbc.compile("model.onnx", "model.so")          # runs `isbc compile`
    m = isbc.load("model.so")
    y = m(x)                                         # NumPy in, NumPy out
    ys = m(x, logits)                                # several inputs by position ...
    ys = m(input=x, logits=l)                        # ... or by name
    out, st = m.run(x, threshold=0.2, threads=1, stats=True)
    st.branches_run, st.flops_executed / st.flops_dense, st.mask   # mask: bool [batch, branches]
    m.inputs, m.outputs                              # names, dtypes, shapes ('N' = the batch)
    m.branches                                       # the guarded branches' names

`load` needs only the shared library (it carries the runtime; OpenBLAS and NumPy are the
only other things it needs). The library describes itself through the functions of the
generated C API (docs/api.md): PREFIX_input_info / PREFIX_output_info, PREFIX_branch_name and
PREFIX_run_ex. The branch-annotation helper is `isbc.annotate` (the same module as
`isb_annotate`, importable under both names)."""
import ctypes
import os
import shutil
import struct
import subprocess

import numpy as np

__all__ = ["load", "compile", "Model", "Stats", "TensorInfo", "IsbcError"]

# ONNX TensorProto element types -> NumPy (docs/api.md: the dtype codes)
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
           7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
           13: np.uint64}


class IsbcError(RuntimeError):
    """isbc failed: a compile that exited non-zero, or a run that returned an error code."""


class TensorInfo:
    """One input or output: `name`, `dtype` (a NumPy dtype), `shape` (ints; 'N' for the batch)."""
    __slots__ = ("name", "dtype", "shape")

    def __init__(self, name, dtype, shape):
        self.name, self.dtype, self.shape = name, dtype, shape

    def __repr__(self):
        dims = ",".join(str(d) for d in self.shape)
        return f"TensorInfo({self.name!r}, {np.dtype(self.dtype).name}[{dims}])"


class Stats:
    """Statistics of one call (docs/api.md): branch counts summed over the batch, FLOPs of
    the code that ran against the dense model, and `mask`, a bool array [batch, branches]:
    True where that instance ran that branch (order: Model.branches)."""
    __slots__ = ("branches", "branches_run", "branches_skipped", "flops_executed",
                 "flops_dense", "mask")

    def __repr__(self):
        return (f"Stats(branches={self.branches}, run={self.branches_run}, "
                f"skipped={self.branches_skipped}, flops={self.flops_executed}/"
                f"{self.flops_dense})")


class _CStats(ctypes.Structure):
    _fields_ = [("branches", ctypes.c_int64), ("branches_run", ctypes.c_int64),
                ("branches_skipped", ctypes.c_int64), ("flops_executed", ctypes.c_int64),
                ("flops_dense", ctypes.c_int64)]


class _COptions(ctypes.Structure):
    _fields_ = [("threshold", ctypes.c_float), ("threads", ctypes.c_int32),
                ("mask", ctypes.POINTER(ctypes.c_uint8))]


class _CTensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64))]


def _dynamic_symbols(path):
    """Names in an ELF shared object's dynamic symbol table (no binutils needed)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise IsbcError(f"{path}: not a 64-bit little-endian ELF shared library")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
    names = []
    for sh in sections:
        if sh[1] != 11:  # SHT_DYNSYM
            continue
        strtab = sections[sh[6]]
        for off in range(sh[4], sh[4] + sh[5], sh[9] or 24):
            st_name, st_info, _, st_shndx = struct.unpack_from("<IBBH", data, off)
            if st_shndx == 0 or st_info & 0xF != 2:  # defined functions only
                continue
            start = strtab[4] + st_name
            names.append(data[start:data.index(b"\0", start)].decode())
    return names


def _prefix_of(path, name):
    syms = set(_dynamic_symbols(path))
    prefixes = sorted(s[:-len("_run_ex")] for s in syms if s.endswith("_run_ex")
                      and s[:-len("_run_ex")] + "_input_info" in syms)
    if name is not None:
        if name not in prefixes:
            raise IsbcError(f"{path}: no model named {name!r} (has: {', '.join(prefixes) or 'none'})")
        return name
    if not prefixes:
        raise IsbcError(f"{path}: not a model compiled by this isbc (no PREFIX_run_ex; "
                        "recompile it with `isbc compile -o OUT.so`)")
    if len(prefixes) > 1:
        raise IsbcError(f"{path} holds several models ({', '.join(prefixes)}): pass name=")
    return prefixes[0]


class Model:
    """A compiled model loaded from a shared library. Thread-safe: every call has its own
    workspace (the generated code keeps no state)."""

    def __init__(self, path, name=None):
        self.path = os.path.abspath(path)
        self.name = _prefix_of(self.path, name)
        self._lib = lib = ctypes.CDLL(self.path)
        fn = lambda s: getattr(lib, f"{self.name}_{s}")  # noqa: E731
        self._ws_size = fn("workspace_size")
        self._ws_size.argtypes, self._ws_size.restype = [ctypes.c_int64], ctypes.c_size_t
        self._run = fn("run_ex")
        self._run.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_void_p),
                              ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p,
                              ctypes.POINTER(_COptions), ctypes.POINTER(_CStats)]
        self._run.restype = ctypes.c_int
        self.inputs = self._infos(fn("input_info"))
        self.outputs = self._infos(fn("output_info"))
        bname = fn("branch_name")
        bname.argtypes, bname.restype = [ctypes.c_int], ctypes.c_char_p
        self.branches = []
        while (b := bname(len(self.branches))) is not None:
            self.branches.append(b.decode())
        self.batch_symbolic = any("N" in t.shape for t in self.inputs)

    @staticmethod
    def _infos(f):
        f.argtypes, f.restype = [ctypes.c_int], ctypes.POINTER(_CTensorInfo)
        out = []
        while (p := f(len(out))):
            t = p.contents
            shape = tuple("N" if t.dims[d] < 0 else int(t.dims[d]) for d in range(t.rank))
            if t.dtype not in _DTYPES:
                raise IsbcError(f"tensor {t.name.decode()!r}: element type {t.dtype} not supported")
            out.append(TensorInfo(t.name.decode(), np.dtype(_DTYPES[t.dtype]), shape))
        return out

    def __repr__(self):
        return f"isbc.Model({self.path!r}, inputs={self.inputs}, outputs={self.outputs})"

    def __call__(self, *args, **kwargs):
        outs = self.run(*args, **kwargs)
        return outs[0] if len(outs) == 1 else outs

    def _arrange(self, args, kwargs):
        if args and kwargs:
            raise TypeError("pass the inputs by position or by name, not both")
        if kwargs:
            unknown = set(kwargs) - {t.name for t in self.inputs}
            if unknown:
                raise TypeError(f"no input named {sorted(unknown)[0]!r} "
                                f"(inputs: {', '.join(t.name for t in self.inputs)})")
            missing = [t.name for t in self.inputs if t.name not in kwargs]
            if missing:
                raise TypeError(f"missing input {missing[0]!r}")
            args = [kwargs[t.name] for t in self.inputs]
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} inputs "
                            f"({', '.join(t.name for t in self.inputs)}), got {len(args)}")
        arrays = []
        for t, a in zip(self.inputs, args):
            a = np.asarray(a)
            if a.dtype != t.dtype:
                raise TypeError(f"input {t.name!r}: expected {t.dtype.name}, got {a.dtype.name} "
                                f"(convert with .astype(np.{t.dtype.name}))")
            arrays.append(np.ascontiguousarray(a))
        batch = 1
        if self.batch_symbolic:
            lead = {a.shape[0] for t, a in zip(self.inputs, arrays) if t.shape and t.shape[0] == "N"
                    and a.ndim}
            if len(lead) != 1:
                raise ValueError("the inputs disagree on the batch (leading) dim: "
                                 + ", ".join(f"{t.name} {a.shape}" for t, a in zip(self.inputs, arrays)))
            batch = lead.pop()
            if batch < 1:
                raise ValueError("the batch must be at least 1")
        for t, a in zip(self.inputs, arrays):
            want = tuple(batch if d == "N" else d for d in t.shape)
            if a.shape != want:
                raise ValueError(f"input {t.name!r}: expected shape {want}, got {a.shape}")
        return arrays, batch

    def run(self, *args, threshold=None, threads=None, stats=False, **kwargs):
        """Run on NumPy arrays; returns the list of outputs, and a Stats when stats=True.
        threshold: overrides every branch's compiled threshold for this call (0 runs every
        branch; only a model compiled with skipping on has guards to apply it to).
        threads: the thread team of this call (default: the OpenBLAS thread setting)."""
        arrays, batch = self._arrange(args, kwargs)
        outs = [np.empty(tuple(batch if d == "N" else d for d in t.shape), t.dtype)
                for t in self.outputs]
        opts = _COptions(threshold=-1.0, threads=0, mask=None)
        if threshold is not None:
            threshold = float(threshold)
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold must be in [0, 1], got {threshold}")
            opts.threshold = threshold
        if threads is not None:
            if int(threads) != threads or not 1 <= threads <= 1024:
                raise ValueError(f"threads must be an integer in [1, 1024], got {threads}")
            opts.threads = int(threads)
        mask = None
        if stats and self.branches:
            mask = np.zeros((batch, len(self.branches)), np.uint8)
            opts.mask = mask.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
        size = self._ws_size(batch)
        if size == ctypes.c_size_t(-1).value:
            raise ValueError(f"batch {batch} is larger than this model supports")
        buf = np.empty(size + 64, np.uint8)
        ws = buf.ctypes.data + (-buf.ctypes.data) % 64
        ins = (ctypes.c_void_p * max(1, len(arrays)))(*[a.ctypes.data for a in arrays])
        outp = (ctypes.c_void_p * max(1, len(outs)))(*[o.ctypes.data for o in outs])
        cst = _CStats()
        rc = self._run(batch, ins, outp, ws, ctypes.byref(opts), ctypes.byref(cst))
        if rc != 0:
            raise IsbcError(f"{self.name}_run_ex returned {rc} (bad argument or bad input data, "
                            "e.g. an index out of range)")
        if not stats:
            return outs
        st = Stats()
        for f, _ in _CStats._fields_:
            setattr(st, f, int(getattr(cst, f)))
        st.mask = (mask if mask is not None else np.zeros((batch, 0), np.uint8)).astype(bool)
        return outs, st


def load(path, name=None):
    """Load a shared library written by `isbc compile -o OUT.so` (name: the --name prefix,
    needed only when the library holds several models)."""
    return Model(path, name)


def _isbc_binary(isbc):
    exe = isbc or os.environ.get("ISBC") or shutil.which("isbc")
    if not exe:
        raise IsbcError("cannot find the isbc compiler: put it on PATH, set ISBC, or pass isbc=")
    return exe


def compile(model, output, *, name=None, header=None, threshold=None, skip=True, shapes=None,
            binds=None, cpu=None, opt_level=None, isbc=None, extra_args=()):
    """Compile an ONNX file with `isbc compile` into OUTPUT (.so or .o); returns the output
    path. shapes: {input: (dims...)} (--shape); binds: {input: tensor file} (--bind);
    threshold: --threshold; skip=False: --no-skip (dense); cpu: --cpu; opt_level: 0-3.
    Raises IsbcError with isbc's message when the compile fails."""
    cmd = [_isbc_binary(isbc), "compile", os.fspath(model), "-o", os.fspath(output)]
    if name is not None:
        cmd += ["--name", name]
    if header is not None:
        cmd += ["--header", os.fspath(header)]
    if threshold is not None:
        cmd += ["--threshold", repr(float(threshold))]
    if not skip:
        cmd += ["--no-skip"]
    for k, dims in (shapes or {}).items():
        cmd += ["--shape", f"{k}={'x'.join(str(int(d)) for d in dims)}"]
    for k, v in (binds or {}).items():
        cmd += ["--bind", f"{k}={os.fspath(v)}"]
    if cpu is not None:
        cmd += ["--cpu", cpu]
    if opt_level is not None:
        cmd += [f"-O{int(opt_level)}"]
    cmd += list(extra_args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise IsbcError((r.stderr or r.stdout).strip() or f"isbc exited with {r.returncode}")
    return os.fspath(output)


def __getattr__(attr):
    if attr == "annotate":  # isbc.annotate: the branch-annotation helper (needs PyTorch)
        import importlib
        return importlib.import_module("isb_annotate")
    raise AttributeError(f"module 'isbc' has no attribute {attr!r}")
