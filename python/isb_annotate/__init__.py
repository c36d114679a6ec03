"""isb_annotate — mark gated branches in a PyTorch module and export an ONNX model carrying
the isbc branch annotations (docs/annotations.md): `isb.version` = "1",
`isb.branches` = JSON [{name, gate, index, value, threshold?}], optional `isb.threshold`,
all in ModelProto.metadata_props, naming tensors that exist in the exported graph.

In the module's forward:

    gates = isb.gate("sel.gates", torch.softmax(logits, -1))      # optional: names the gate
    y = y + isb.branch("cell0.edge1.sep_conv_3x3", gates, 7, w * op(x))

`branch` returns its contribution unchanged. Outside a context it costs nothing; inside
`isb.export` it records the tensors so they get stable ONNX names; inside `isb.masked(T)`
it returns value * (gate[:, index] >= T) (the thresholded reference, in PyTorch); inside
`isb.record()` it records gate rows so skip counts can be read per instance.

    isb.export(model, x, "model.onnx", input_names=["input"], output_names=["logits"],
               dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, threshold=0.1)

ONNX-side tools (no PyTorch needed) are in isb_annotate.onnx_tools: read/validate the
annotations, build the masked reference graph, count per-branch FLOPs."""
import contextlib
import contextvars
import json
import os
import sys
import warnings

from .onnx_tools import (META_BRANCHES, META_THRESHOLD, META_VERSION, branch_flops,  # noqa: F401
                         executed_flops, masked_model, read_annotations, validate)

__all__ = ["branch", "gate", "export", "masked", "masked_as_annotated", "record", "Recorder", "read_annotations",
           "validate", "masked_model", "branch_flops", "executed_flops"]

_active = contextvars.ContextVar("isb_annotate_active", default=None)


class Branch:
    """One recorded call of branch(): the gate and value tensors of this forward pass."""
    __slots__ = ("name", "gate", "index", "value", "threshold")

    def __init__(self, name, gate, index, value, threshold):
        self.name, self.gate, self.index = name, gate, index
        self.value, self.threshold = value, threshold

    def gate_column(self):
        """gate[:, index] with the row of each instance read in row-major order: shape [N]."""
        return self.gate.reshape(self.gate.shape[0], -1)[:, self.index]


class Recorder:
    """Collects the branches (in call order) and gate names of one forward pass.
    With `threshold` set, branch() also masks each contribution: value * (gate >= T)."""

    def __init__(self, threshold=None, per_branch=False):
        self.threshold = threshold
        self.per_branch = per_branch  # a branch's own threshold wins over `threshold`
        self.branches = []
        self.gate_names = {}  # id(tensor) -> name given with gate()
        self._keep = []  # keeps named gates alive so their id() stays unique

    def on_gate(self, name, tensor):
        if id(tensor) in self.gate_names and self.gate_names[id(tensor)] != name:
            raise ValueError(f"isb.gate: one tensor named both '{self.gate_names[id(tensor)]}'"
                             f" and '{name}'")
        if name in self.gate_names.values() and self.gate_names.get(id(tensor)) != name:
            raise ValueError(f"isb.gate: two tensors named '{name}'")
        self.gate_names[id(tensor)] = name
        self._keep.append(tensor)
        return tensor

    def on_branch(self, b):
        import torch
        if torch.jit.is_tracing():  # checked in the eager probe; no tracer warnings
            self.branches.append(b)
            return b.value
        if any(o.name == b.name for o in self.branches):
            raise ValueError(f"isb.branch: duplicate branch name '{b.name}'")
        if b.gate.dim() < 1 or b.value.dim() < 1 or b.gate.shape[0] != b.value.shape[0]:
            raise ValueError(f"isb.branch '{b.name}': gate and value must share the batch "
                             f"dim 0 (gate {tuple(b.gate.shape)}, value {tuple(b.value.shape)})")
        row = b.gate[0].numel() if b.gate.shape[0] else b.gate.numel()
        if not 0 <= b.index < max(row, 1):
            raise ValueError(f"isb.branch '{b.name}': index {b.index} out of range for a gate "
                             f"row of {row} elements")
        self.branches.append(b)
        t = self.threshold
        if self.per_branch and b.threshold is not None:
            t = b.threshold
        if t is None or t <= 0:
            return b.value
        keep = (b.gate_column() >= t).to(b.value.dtype)
        return b.value * keep.view(-1, *([1] * (b.value.dim() - 1)))

    def gate_rows(self):
        """[N, B] tensor: the gate weight of every branch, per instance (columns in call order)."""
        import torch
        return torch.stack([b.gate_column() for b in self.branches], dim=1)

    def skip_mask(self, threshold):
        """[N, B] bool numpy array: True where branch b is skipped for instance n
        (gate[n][index] < threshold). threshold <= 0 skips nothing, as the contract says."""
        rows = self.gate_rows().detach().cpu().numpy()
        if threshold <= 0:
            return rows < float("-inf")
        return rows < threshold

    @property
    def names(self):
        return [b.name for b in self.branches]


def gate(name, tensor):
    """Names a gate tensor (first dim = batch) in the exported ONNX; returns it unchanged."""
    rec = _active.get()
    return tensor if rec is None else rec.on_gate(name, tensor)


def branch(name, gate, index, value, threshold=None):
    """Marks `value` — the weighted contribution gate[:, index] x branch(x) — as a gated
    branch. Returns `value` (masked inside isb.masked). `threshold` is the optional
    per-branch threshold written into the annotation."""
    rec = _active.get()
    if rec is None:
        return value
    return rec.on_branch(Branch(name, gate, int(index), value, threshold))


@contextlib.contextmanager
def _activate(rec):
    token = _active.set(rec)
    try:
        yield rec
    finally:
        _active.reset(token)


def record():
    """`with isb.record() as rec: model(x)` — rec.branches, rec.skip_mask(T) afterwards."""
    return _activate(Recorder())


def masked(threshold):
    """`with isb.masked(T): y = model(x)` — the thresholded reference: every branch value
    multiplied by (gate[:, index] >= T). T overrides per-branch thresholds (like isbc's
    --threshold). T <= 0 is the dense model."""
    return _activate(Recorder(threshold=threshold if threshold > 0 else None))


def masked_as_annotated(threshold=None):
    """`with isb.masked_as_annotated(T): y = model(x)` — the thresholded reference of the
    exported annotation as it stands: each branch masked by its own `threshold=` if it was
    given one, else by T (the model's isb.threshold; None or <= 0: that branch is dense)."""
    return _activate(Recorder(threshold=threshold, per_branch=True))


class _InputFlow:
    """A torch function mode that follows which tensors are computed from the model's inputs
    and records each conversion of such a tensor to a Python value (bool(t), t.item(), ...):
    control flow on tensor data, which tracing cannot record. Each event is (conversion,
    "file:line" of the caller, branches recorded so far)."""

    CONVERSIONS = ("__bool__", "item", "__int__", "__float__", "__index__", "tolist")

    def __init__(self, inputs, rec):
        from torch.overrides import TorchFunctionMode

        outer = self

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                return outer._call(func, args, kwargs or {})

        self.mode = Mode()
        self.rec = rec
        self.keep = [t for t in inputs]  # keeps ids unique while the probe runs
        self.ids = {id(t) for t in self.keep}
        self.events = []

    def _tainted(self, x):
        import torch
        if isinstance(x, torch.Tensor):
            return id(x) in self.ids
        if isinstance(x, (list, tuple)):
            return any(self._tainted(y) for y in x)
        return False

    def _call(self, func, args, kwargs):
        import torch
        tainted = self._tainted(args) or self._tainted(list(kwargs.values()))
        name = getattr(func, "__name__", "")
        if tainted and name in self.CONVERSIONS:
            here = os.path.dirname(os.path.abspath(__file__))
            torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
            f = sys._getframe(1)
            while f and (f.f_code.co_filename.startswith(torch_dir) or
                         os.path.dirname(os.path.abspath(f.f_code.co_filename)) == here):
                f = f.f_back
            where = f"{f.f_code.co_filename}:{f.f_lineno}" if f else "?"
            self.events.append((name, where, len(self.rec.branches)))
        out = func(*args, **kwargs)
        if tainted:
            for o in (out if isinstance(out, (list, tuple)) else (out,)):
                if isinstance(o, torch.Tensor) and id(o) not in self.ids:
                    self.ids.add(id(o))
                    self.keep.append(o)
        return out

    def __enter__(self):
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self.mode.__exit__(*exc)


def _flatten(out):
    import torch
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in _flatten(out[k])]
    raise TypeError(f"isb.export: unsupported model output type {type(out).__name__}")


def _plan(rec, outs):
    """Names for the extra outputs: unique gates first (by identity), then values.
    Returns (extra tensors, their names, annotation entries)."""
    out_ids = {id(t): i for i, t in enumerate(outs)}
    extra, names, entries, gate_name = [], [], [], {}
    for b in rec.branches:
        gid = id(b.gate)
        if gid not in gate_name:
            name = rec.gate_names.get(gid, f"isb.gate{len(gate_name)}")
            gate_name[gid] = name
            if gid in out_ids:
                gate_name[gid] = ("out", out_ids[gid])
            else:
                extra.append(b.gate)
                names.append(name)
        entries.append({"name": b.name, "gate": gate_name[gid], "index": b.index,
                        "value": f"isb/{b.name}", "threshold": b.threshold})
        if id(b.value) in out_ids:
            entries[-1]["value"] = ("out", out_ids[id(b.value)])
        else:
            extra.append(b.value)
            names.append(f"isb/{b.name}")
    return extra, names, entries


def export(model, args, f, *, input_names=None, output_names=None, dynamic_axes=None,
           threshold=None, opset_version=13, check=True, **kwargs):
    """torch.onnx.export(model, args, f, ...) plus the isbc branch annotations.

    The branches marked with isb.branch() during the traced forward are returned as extra
    graph outputs with chosen names (so the tensors keep those names), then the extra
    outputs are removed again (their types move to value_info) and metadata_props gets
    isb.version, isb.branches and, if `threshold` is given, isb.threshold. A batch axis
    declared dynamic on the inputs is declared on the marked tensors too. Checks the
    result with onnx.checker and validate(). Returns the ModelProto written to `f` (a path).
    """
    import onnx
    import torch

    if not isinstance(args, tuple):
        args = (args,)
    was_training = model.training
    model.eval()
    # Probe once eagerly: how many outputs, which branches, and whether Python control flow
    # depends on tensor data before a branch (tracing would keep only this input's path).
    with torch.no_grad(), record() as rec:
        with _InputFlow([a for a in args if isinstance(a, torch.Tensor)], rec) as flow:
            outs = _flatten(model(*args))
        flow.keep.clear()
    if not rec.branches:
        raise ValueError("isb.export: the forward pass marked no branch (isb.branch)")
    for conv, where, nb in flow.events:
        if nb < len(rec.branches):
            name = rec.branches[nb].name
            raise ValueError(
                f"isb.export: {where}: the forward converts a tensor computed from the input to "
                f"a Python value ({conv}) before branch '{name}': an `if` (or loop) on tensor "
                f"data around a branch. The exported graph would keep only the path this "
                f"example input takes. Mark every path with isb.branch and let its gate decide, "
                f"or select with torch.where.")
    if threshold is None and all(b.threshold is None for b in rec.branches):
        warnings.warn("isb.export: no threshold given (export(..., threshold=T) or "
                      "isb.branch(..., threshold=T)): every branch's threshold is 0, so the "
                      "compiled model runs every branch unless isbc is given --threshold",
                      stacklevel=2)
    extra, extra_names, _ = _plan(rec, outs)
    n_out = len(outs)
    output_names = list(output_names or [f"output{i}" for i in range(n_out)])
    if len(output_names) != n_out:
        raise ValueError(f"isb.export: {len(output_names)} output names for {n_out} outputs")
    clash = set(output_names) & set(extra_names)
    if clash:
        raise ValueError(f"isb.export: output names clash with annotation names {sorted(clash)}")

    traced = {}
    inner_forward = model.forward

    def forward(*a):
        with record() as r:
            o = _flatten(inner_forward(*a))
        ex, names, entries = _plan(r, o)
        traced.update(names=names, entries=entries)
        return tuple(o) + tuple(ex)

    dyn = dict(dynamic_axes or {})
    batch = None
    for name in (input_names or []):
        ax = dyn.get(name)
        if isinstance(ax, dict) and 0 in ax:
            batch = ax[0]
        elif isinstance(ax, (list, tuple)) and 0 in ax:
            batch = f"{name}_dynamic_axes_1"
        if batch is not None:
            break
    if batch is not None:
        for name in extra_names:
            dyn[name] = {0: batch}

    tmp = f"{f}.tmp{os.getpid()}"
    try:
        # The forward is patched on the instance (not wrapped in another module) so the
        # exported node names keep the model's own scope names.
        model.forward = forward
        with torch.no_grad():
            torch.onnx.export(model, args, tmp, input_names=input_names,
                              output_names=output_names + extra_names,
                              dynamic_axes=dyn or None, opset_version=opset_version, **kwargs)
        if traced.get("names") != extra_names:
            raise RuntimeError("isb.export: the traced forward marked different branches than "
                               "the eager one (data-dependent control flow around isb.branch?)")
        proto = onnx.load(tmp)
    finally:
        if "forward" in model.__dict__:
            del model.forward
        if os.path.exists(tmp):
            os.remove(tmp)
        model.train(was_training)

    g = proto.graph
    keep = [o for o in g.output if o.name not in set(extra_names)]
    moved = [o for o in g.output if o.name in set(extra_names)]
    produced = {o for n in g.node for o in n.output} | {i.name for i in g.input}
    missing = [n for n in extra_names if n not in produced]
    if missing:
        raise RuntimeError(f"isb.export: marked tensors missing from the graph: {missing}")
    del g.output[:]
    g.output.extend(keep)
    # The marked tensors' types go to value_info, with shapes inferred by ONNX from the
    # inputs (the exporter's output shapes may carry made-up symbolic dims).
    marked = set(extra_names)
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    del probe.graph.value_info[:]
    for o in probe.graph.output:
        o.type.tensor_type.ClearField("shape")
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(probe).graph.value_info}
    old = [v for v in g.value_info if v.name not in marked]
    del g.value_info[:]
    g.value_info.extend(old)
    for o in moved:
        vi = onnx.ValueInfoProto()
        vi.CopyFrom(inferred.get(o.name, o))
        dims = vi.type.tensor_type.shape.dim
        if batch is not None and len(dims) and not dims[0].HasField("dim_value"):
            dims[0].dim_param = str(batch)
        g.value_info.append(vi)

    real_out = [o.name for o in keep]
    entries = []
    for e in traced["entries"]:
        e = dict(e)
        for key in ("gate", "value"):
            if isinstance(e[key], tuple):
                e[key] = real_out[e[key][1]]
        if e["threshold"] is None:
            del e["threshold"]
        else:
            e["threshold"] = float(e["threshold"])
        entries.append(e)
    props = {p.key: p.value for p in proto.metadata_props if not p.key.startswith("isb.")}
    props[META_VERSION] = "1"
    props[META_BRANCHES] = json.dumps(entries, separators=(",", ":"))
    if threshold is not None:
        props[META_THRESHOLD] = repr(float(threshold))
    del proto.metadata_props[:]
    for k, v in props.items():
        proto.metadata_props.add(key=k, value=v)

    if check:
        onnx.checker.check_model(proto)
        validate(proto)
    tmp = f"{f}.tmp{os.getpid()}"
    onnx.save(proto, tmp)
    os.replace(tmp, f)
    return proto
