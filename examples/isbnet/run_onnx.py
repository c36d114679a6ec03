"""A small ONNX interpreter on PyTorch tensors, for tests where ONNX Runtime is not
installed: it evaluates the CNN-style graphs PyTorch exports (the ISBNet example, its masked
reference, the MobileNetV2-style baseline) node by node, in float32, and can return any
intermediate tensor (e.g. the gate tensor). Semantics follow the ONNX operator spec at the
opsets PyTorch emits (Slice-10/13, Softmax-13, Squeeze/Unsqueeze-13, Pad-11...). Ops outside
the list raise NotImplementedError naming the node.

    outs = run(model_proto, {"input": x_numpy}, extra=["isb.gates"])   # dict name -> numpy
"""
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


def _attrs(n):
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def _pads2(pads, nd):
    """ONNX pads [b1..bn, e1..en] -> F.pad order (last dim first)."""
    out = []
    for i in reversed(range(nd)):
        out += [pads[i], pads[i + nd]]
    return out


def _conv(x, w, b, a):
    nd = w.dim() - 2
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("Conv auto_pad")
    pads = a.get("pads", [0] * 2 * nd)
    strides = a.get("strides", [1] * nd)
    dil = a.get("dilations", [1] * nd)
    if list(pads[:nd]) == list(pads[nd:]):
        pad = list(pads[:nd])
    else:
        x, pad = F.pad(x, _pads2(pads, nd)), [0] * nd
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    return fn(x, w, b, strides, pad, dil, a.get("group", 1))


def _pool(x, a, kind):
    ks = a["kernel_shape"]
    nd = len(ks)
    pads = a.get("pads", [0] * 2 * nd)
    strides = a.get("strides", [1] * nd)
    ceil = bool(a.get("ceil_mode", 0))
    if kind == "max":
        if a.get("dilations", [1] * nd) != [1] * nd:
            raise NotImplementedError("MaxPool dilations")
        if list(pads[:nd]) != list(pads[nd:]) or any(2 * p > k for p, k in zip(pads, ks)):
            x, pads = F.pad(x, _pads2(pads, nd), value=float("-inf")), [0] * 2 * nd
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
        return fn(x, ks, strides, list(pads[:nd]), ceil_mode=ceil)
    cip = bool(a.get("count_include_pad", 0))
    if list(pads[:nd]) != list(pads[nd:]) or any(2 * p > k for p, k in zip(pads, ks)):
        if not cip:
            raise NotImplementedError("AveragePool with asymmetric pads, count_include_pad=0")
        x, pads = F.pad(x, _pads2(pads, nd)), [0] * 2 * nd
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
    return fn(x, ks, strides, list(pads[:nd]), ceil_mode=ceil, count_include_pad=cip)


def _take(x, idx, axis):
    axis %= x.dim()
    idx = idx.long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    out = x.index_select(axis, idx.reshape(-1))
    return out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def _slice(x, starts, ends, axes, steps):
    axes = list(range(len(starts))) if axes is None else [int(a) % x.dim() for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    sl = [slice(None)] * x.dim()
    for s, e, ax, st in zip(starts, ends, axes, steps):
        if st <= 0:
            raise NotImplementedError("Slice with non-positive steps")
        n = x.shape[ax]
        s = max(0, min(n, s + n if s < 0 else s))
        e = max(0, min(n, e + n if e < 0 else e))
        sl[ax] = slice(int(s), int(e), int(st))
    return x[tuple(sl)]


def _reshape(x, shape):
    shape = [int(s) for s in shape]
    shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


_BINARY = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
           "Pow": torch.pow, "GreaterOrEqual": torch.ge, "Less": torch.lt,
           "Greater": torch.gt, "LessOrEqual": torch.le, "Equal": torch.eq}
_UNARY = {"Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Exp": torch.exp,
          "Log": torch.log, "Sqrt": torch.sqrt, "Neg": torch.neg, "Abs": torch.abs,
          "Not": torch.logical_not, "Identity": lambda t: t, "Erf": torch.erf,
          "Reciprocal": torch.reciprocal, "Floor": torch.floor, "Ceil": torch.ceil,
          "HardSwish": F.hardswish}
_DTYPES = {onnx.TensorProto.FLOAT: torch.float32, onnx.TensorProto.DOUBLE: torch.float64,
           onnx.TensorProto.INT64: torch.int64, onnx.TensorProto.INT32: torch.int32,
           onnx.TensorProto.BOOL: torch.bool, onnx.TensorProto.UINT8: torch.uint8}


def _node(n, i):
    """Outputs (list of tensors) of node n on inputs i (list of tensors or None)."""
    op, a = n.op_type, _attrs(n)
    if op in _BINARY:
        return [_BINARY[op](i[0], i[1])]
    if op in _UNARY:
        return [_UNARY[op](i[0])]
    if op == "Constant":
        return [torch.from_numpy(numpy_helper.to_array(a["value"]).copy())]
    if op == "Conv":
        return [_conv(i[0], i[1], i[2] if len(i) > 2 else None, a)]
    if op == "MaxPool":
        return [_pool(i[0], a, "max")]
    if op == "AveragePool":
        return [_pool(i[0], a, "avg")]
    if op == "GlobalAveragePool":
        return [i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True)]
    if op == "GlobalMaxPool":
        return [i[0].amax(dim=tuple(range(2, i[0].dim())), keepdim=True)]
    if op == "BatchNormalization":
        x, s, b, m, v = i[:5]
        sh = [1, -1] + [1] * (x.dim() - 2)
        y = (x - m.reshape(sh)) / torch.sqrt(v.reshape(sh) + a.get("epsilon", 1e-5))
        return [y * s.reshape(sh) + b.reshape(sh)]
    if op == "Gemm":
        A = i[0].t() if a.get("transA", 0) else i[0]
        B = i[1].t() if a.get("transB", 0) else i[1]
        y = a.get("alpha", 1.0) * (A @ B)
        if len(i) > 2 and i[2] is not None:
            y = y + a.get("beta", 1.0) * i[2]
        return [y]
    if op == "MatMul":
        return [i[0] @ i[1]]
    if op == "Softmax":
        return [torch.softmax(i[0], a.get("axis", -1))]
    if op == "LogSoftmax":
        return [torch.log_softmax(i[0], a.get("axis", -1))]
    if op == "Flatten":
        ax = a.get("axis", 1) % max(i[0].dim(), 1)
        return [i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)]
    if op == "Reshape":
        return [_reshape(i[0], i[1].tolist())]
    if op == "Gather":
        return [_take(i[0], i[1], a.get("axis", 0))]
    if op == "Concat":
        return [torch.cat(i, a["axis"])]
    if op == "Slice":
        if "starts" in a:  # opset < 10
            return [_slice(i[0], a["starts"], a["ends"], a.get("axes"), None)]
        g = [t.tolist() if t is not None else None for t in i[1:]] + [None] * 4
        return [_slice(i[0], g[0], g[1], g[2], g[3])]
    if op == "Pad":
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        pads = a["pads"] if "pads" in a else i[1].tolist()
        val = a.get("value", 0.0) if "pads" in a else (
            float(i[2]) if len(i) > 2 and i[2] is not None else 0.0)
        return [F.pad(i[0], _pads2(pads, i[0].dim()), mode=mode, value=val)]
    if op == "Cast":
        return [i[0].to(_DTYPES[a["to"]])]
    if op == "Clip":
        lo = i[1] if len(i) > 1 and i[1] is not None else a.get("min")
        hi = i[2] if len(i) > 2 and i[2] is not None else a.get("max")
        return [torch.clamp(i[0], None if lo is None else float(lo),
                            None if hi is None else float(hi))]
    if op == "Unsqueeze":
        axes = a["axes"] if "axes" in a else i[1].tolist()
        y = i[0]
        r = y.dim() + len(axes)
        for ax in sorted(int(x) % r for x in axes):
            y = y.unsqueeze(ax)
        return [y]
    if op == "Squeeze":
        axes = a.get("axes") or (i[1].tolist() if len(i) > 1 and i[1] is not None else None)
        if axes is None:
            return [i[0].squeeze()]
        y = i[0]
        for ax in sorted((int(x) % y.dim() for x in axes), reverse=True):
            y = y.squeeze(ax)
        return [y]
    if op == "Transpose":
        return [i[0].permute(*a.get("perm", list(reversed(range(i[0].dim())))))]
    if op == "Shape":
        return [torch.tensor(list(i[0].shape), dtype=torch.int64)]
    if op == "ReduceMean":
        return [i[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1)))]
    if op == "Dropout":
        return [i[0]]
    raise NotImplementedError(f"run_onnx: unsupported op {op} at node '{n.name}'")


@torch.no_grad()
def run(model, feeds, extra=()):
    """Evaluates `model` (ModelProto or path) on `feeds` {input name: numpy array}; returns
    {name: numpy array} for the graph outputs and the tensors named in `extra`."""
    if isinstance(model, str):
        model = onnx.load(model)
    g = model.graph
    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    for k, v in feeds.items():
        env[k] = torch.from_numpy(np.ascontiguousarray(v))
    want = [o.name for o in g.output] + list(extra)
    last = {}
    for k, n in enumerate(g.node):
        for t in n.input:
            last[t] = k
    for k, n in enumerate(g.node):
        ins = [env[t] if t else None for t in n.input]
        try:
            outs = _node(n, ins)
        except NotImplementedError:
            raise
        except Exception as e:
            raise RuntimeError(f"run_onnx: node '{n.name}' ({n.op_type}): {e}") from e
        for name, t in zip(n.output, outs):
            if name:
                env[name] = t
        for t in n.input:  # free activations after their last use
            if last.get(t) == k and t not in want and t not in feeds:
                env.pop(t, None)
    return {k: env[k].numpy() for k in want}
