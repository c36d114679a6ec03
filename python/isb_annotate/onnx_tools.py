"""ONNX side of the isbc branch annotations (docs/annotations.md), needing only
the onnx and numpy packages:

- read_annotations(model) -> (branches, default threshold): parsed metadata_props;
- validate(model): the checks isbc's frontend makes (unknown tensor, index out of range,
  value not downstream of its gate, malformed JSON...), raising ValueError naming the branch;
- masked_model(model, threshold=None): the thresholded reference as an ordinary ONNX graph —
  every branch value multiplied by (gate[:, index] >= threshold);
- branch_flops(model): dense FLOPs per instance and each branch's exclusive-cone FLOPs,
  counted as isbc's node_flops counts them (ir/shape.c: multiply-add = 2), per instance;
- executed_flops(model, skipped): exact FLOPs run per instance for a skip mask (shared
  nodes run while any of their branches is live).
"""
import copy
import json
import math

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

META_VERSION = "isb.version"
META_BRANCHES = "isb.branches"
META_THRESHOLD = "isb.threshold"


def _props(model):
    return {p.key: p.value for p in model.metadata_props}


def read_annotations(model):
    """Returns (branches, default_threshold): branches is a list of dicts with keys name,
    gate, index, value, threshold (the per-branch threshold, or the default). ([], 0.0) when
    the model carries no isb.branches. Raises ValueError on a malformed annotation."""
    props = _props(model)
    if META_BRANCHES not in props:
        return [], 0.0
    if props.get(META_VERSION) != "1":
        raise ValueError(f"isb.version is {props.get(META_VERSION)!r}, expected \"1\"")
    default = 0.0
    if META_THRESHOLD in props:
        try:
            default = float(props[META_THRESHOLD])
        except ValueError:
            raise ValueError(f"isb.threshold {props[META_THRESHOLD]!r} is not a number") from None
        if not math.isfinite(default):
            raise ValueError(f"isb.threshold {props[META_THRESHOLD]!r} is not finite")
    try:
        raw = json.loads(props[META_BRANCHES])
    except json.JSONDecodeError as e:
        raise ValueError(f"isb.branches: malformed JSON: {e}") from None
    if not isinstance(raw, list):
        raise ValueError("isb.branches: expected a JSON array")
    out, seen = [], set()
    for i, b in enumerate(raw):
        if not isinstance(b, dict):
            raise ValueError(f"isb.branches[{i}]: expected an object")
        name = b.get("name")
        who = f"branch '{name}'" if isinstance(name, str) else f"isb.branches[{i}]"
        if not isinstance(name, str) or not name:
            raise ValueError(f"{who}: 'name' must be a non-empty string")
        if name in seen:
            raise ValueError(f"{who}: duplicate name")
        seen.add(name)
        for key in ("gate", "value"):
            if not isinstance(b.get(key), str) or not b[key]:
                raise ValueError(f"{who}: '{key}' must be a tensor name")
        idx = b.get("index")
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
            raise ValueError(f"{who}: 'index' must be a non-negative integer")
        thr = b.get("threshold", default)
        if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not math.isfinite(thr):
            raise ValueError(f"{who}: 'threshold' must be a finite number")
        out.append({"name": name, "gate": b["gate"], "index": idx, "value": b["value"],
                    "threshold": float(thr)})
    return out, default


def _batch1(model):
    """A copy with every symbolic input dim (the batch) set to 1 and shapes re-inferred."""
    m = copy.deepcopy(model)
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    for vi in m.graph.input:
        for d in vi.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                d.dim_value = 1
    return shape_inference.infer_shapes(m)


def _types(model):
    """name -> (elem_type, dims or None) for every typed tensor of the graph."""
    g = model.graph
    types = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        dims = None
        if tt.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        types[vi.name] = (tt.elem_type, dims)
    for t in g.initializer:
        types[t.name] = (t.data_type, list(t.dims))
    return types


def validate(model):
    """Checks the annotations against the graph; raises ValueError naming the branch.
    Returns read_annotations(model)."""
    branches, default = read_annotations(model)
    g = model.graph
    producer = {o: n for n in g.node for o in n.output if o}
    inputs = {i.name for i in g.input}
    inits = {t.name for t in g.initializer}
    types = _types(_batch1(model))
    for b in branches:
        who = f"branch '{b['name']}'"
        for key in ("gate", "value"):
            t = b[key]
            if t not in producer and not (key == "gate" and (t in inputs or t in inits)):
                raise ValueError(f"{who}: unknown tensor '{t}' ({key})")
        dims = types.get(b["gate"], (0, None))[1]
        if dims is not None and len(dims) >= 1 and all(d is not None for d in dims[1:]):
            row = int(np.prod(dims[1:], dtype=np.int64))
            if b["index"] >= row:
                raise ValueError(f"{who}: index {b['index']} out of range: gate '{b['gate']}' "
                                 f"rows hold {row} elements")
        # value must be downstream of gate.
        seen, stack, found = set(), [b["value"]], False
        while stack and not found:
            t = stack.pop()
            if t == b["gate"]:
                found = True
            elif t not in seen and t in producer:
                seen.add(t)
                stack.extend(i for i in producer[t].input if i)
        if not found:
            raise ValueError(f"{who}: value '{b['value']}' is not downstream of gate "
                             f"'{b['gate']}'")
    return branches, default


def masked_model(model, threshold=None, compare="ge"):
    """The thresholded reference (docs/annotations.md): a copy of `model` where each branch value is
    multiplied by (gate[:, index] >= T), T = `threshold` if given (overrides every branch,
    like `isbc --threshold`), else the branch's own threshold or isb.threshold. Branches with
    T <= 0 are left dense. The masked tensor keeps the value's name; the unmasked one is
    renamed '<value>.unmasked'. compare="ge" uses GreaterOrEqual (ONNX opset >= 12);
    compare="not_less" uses Not(Less(...)), the same predicate with opset-7 ops.
    The isb.* metadata is dropped (the result is a plain dense model); the threshold used
    is recorded as isb.reference_threshold."""
    branches, _ = validate(model)
    m = copy.deepcopy(model)
    g = m.graph
    opset = max([o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] or [1])
    if compare == "ge" and opset < 12:
        compare = "not_less"
    types = _types(_batch1(model))
    by_value, gates = {}, {}
    for b in branches:
        t = b["threshold"] if threshold is None else float(threshold)
        if t > 0:
            by_value.setdefault(b["value"], []).append((b, t))
            gates.setdefault(b["gate"], None)

    inits, flat = [], {}

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def mask_nodes(value, items):
        out = []
        src = f"{value}.unmasked"
        cur = src
        vtype, vdims = types.get(value, (onnx.TensorProto.FLOAT, None))
        if vdims is None:
            raise ValueError(f"masked_model: rank of '{value}' unknown")
        for k, (b, t) in enumerate(items):
            p = f"isb.mask/{b['name']}/"
            gtype = types.get(b["gate"], (onnx.TensorProto.FLOAT, None))[0]
            gnp = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[gtype]
            idx = const(p + "index", np.array([b["index"]], dtype=np.int64))
            thr = const(p + "threshold", np.array(t, dtype=gnp))
            shape = const(p + "shape", np.array([-1] + [1] * (len(vdims) - 1), dtype=np.int64))
            out.append(helper.make_node("Gather", [flat[b["gate"]], idx], [p + "weight"], axis=1))
            if compare == "ge":
                out.append(helper.make_node("GreaterOrEqual", [p + "weight", thr], [p + "on"]))
            else:
                out.append(helper.make_node("Less", [p + "weight", thr], [p + "off"]))
                out.append(helper.make_node("Not", [p + "off"], [p + "on"]))
            out.append(helper.make_node("Cast", [p + "on"], [p + "onf"], to=vtype))
            out.append(helper.make_node("Reshape", [p + "onf", shape], [p + "mask"]))
            dst = value if k == len(items) - 1 else p + "masked"
            out.append(helper.make_node("Mul", [cur, p + "mask"], [dst], name=p + "mul"))
            cur = dst
        return src, out

    def flatten_node(gate):
        flat[gate] = f"isb.mask/{gate}.rows"
        return helper.make_node("Flatten", [gate], [flat[gate]], axis=1)

    new_nodes = [flatten_node(t) for t in gates if t not in {o for n in g.node for o in n.output}]
    for n in g.node:
        extra = []
        for i, o in enumerate(n.output):
            if o in gates:
                extra.append(flatten_node(o))
            if o in by_value:
                src, nodes = mask_nodes(o, by_value[o])
                n.output[i] = src
                extra.extend(nodes)
        new_nodes.append(n)
        new_nodes.extend(extra)
    del g.node[:]
    g.node.extend(new_nodes)
    g.initializer.extend(inits)
    props = {p.key: p.value for p in m.metadata_props if not p.key.startswith("isb.")}
    props["isb.reference_threshold"] = "per-branch" if threshold is None else repr(float(threshold))
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    return m


# How isbc counts each op's FLOPs: the flops column of isbc's op table (ir/ops.def),
# for the ONNX ops it keeps; an op not listed counts 0. tests/unit/check_isb_annotate.py checks
# this table against ir/ops.def and the counts against `isbc info`.
_FLOPS_RULES = {
    "out": "Relu Sigmoid Tanh Exp Log Sqrt Neg Abs Reciprocal Floor Ceil Erf Not Clip LeakyRelu "
           "HardSigmoid HardSwish Add Sub Mul Div Pow Max Min Equal Less Greater Where Sin Cos "
           "Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh Softplus Softsign Selu Elu Celu "
           "ThresholdedRelu Shrink Round Sign IsNaN IsInf GreaterOrEqual LessOrEqual And Or Xor "
           "Mod BitShift PRelu Sum Mean CastLike",
    "in": "GlobalAveragePool GlobalMaxPool ReduceMean ReduceSum ReduceMax ReduceMin ArgMax ArgMin "
          "ReduceL1 ReduceL2 ReduceSumSquare ReduceLogSum ReduceLogSumExp ReduceProd Hardmax "
          "CumSum NegativeLogLikelihoodLoss",
    "conv": "Conv", "conv_transpose": "ConvTranspose", "gemm": "Gemm", "matmul": "MatMul",
    "pool": "MaxPool AveragePool", "softmax": "Softmax LogSoftmax",
    "softmax_in": "SoftmaxCrossEntropyLoss", "batchnorm": "BatchNormalization",
    "norm": "LayerNormalization InstanceNormalization MeanVarianceNormalization",
    "lpnorm": "LpNormalization", "grid_sample": "GridSample", "rnn": "RNN GRU LSTM",
}
_FLOPS_RULE = {op: rule for rule, ops in _FLOPS_RULES.items() for op in ops.split()}


def _node_flops(n, types):
    """FLOPs of one node per instance, as isbc's node_flops (ir/shape.c) counts them."""
    def dims(t):
        d = types.get(t, (0, None))[1] if t else None
        return d if d is not None and None not in d else None

    def numel(t):
        d = dims(t)
        return int(np.prod(d, dtype=np.int64)) if d is not None else 0
    out = numel(n.output[0]) if n.output else 0
    inp = numel(n.input[0]) if n.input else 0
    w = dims(n.input[1]) if len(n.input) > 1 else None
    attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
    rule = _FLOPS_RULE.get(n.op_type)
    if rule == "out":
        return out
    if rule == "in":
        return inp
    if rule in ("conv", "conv_transpose"):
        k = int(np.prod(w[1:], dtype=np.int64)) if w and len(w) >= 2 else 0
        return 2 * (out if rule == "conv" else inp) * k
    a = dims(n.input[0]) if n.input else None
    if rule == "gemm":
        return 2 * out * a[0 if attrs.get("transA", 0) else 1] if a and len(a) == 2 else 0
    if rule == "matmul":
        return 2 * out * a[-1] if a else 0
    if rule == "pool":
        ks = attrs.get("kernel_shape")
        return out * int(np.prod(ks)) if ks else out
    if rule in ("softmax", "softmax_in"):
        return 5 * (out if rule == "softmax" else inp)
    if rule == "batchnorm":
        return 2 * out
    if rule in ("norm", "lpnorm"):
        return (7 if rule == "norm" else 3) * inp
    if rule == "grid_sample":
        mode = attrs.get("mode", b"bilinear")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        return 2 * {"nearest": 1, "bicubic": 16, "cubic": 16}.get(mode, 4) * out
    if rule == "rnn":  # per direction and step: 2 * G*H * (I + H + 1), per instance
        if not a or not w or len(a) != 3 or len(w) != 3:
            return 0
        layout = attrs.get("layout", 0)
        seq, batch = (a[1], a[0]) if layout else (a[0], a[1])
        gates = {"LSTM": 4, "GRU": 3}.get(n.op_type, 1)
        return batch * w[0] * seq * 2 * w[1] * (w[2] + w[1] // gates + 1)
    return 0


def branch_flops(model):
    """Returns {"dense": FLOPs per instance of the whole graph, "branches": [{"name",
    "flops", "nodes"}] in annotation order}: each branch's exclusive cone (the nodes that
    exist only to produce its value, docs/annotations.md) and their FLOPs. Executed FLOPs of an
    instance = dense - sum of the flops of its skipped branches (exact when no node is
    shared by several branches)."""
    branches, _ = validate(model)
    m = _batch1(model)
    types = _types(m)
    g = m.graph
    producer = {o: i for i, n in enumerate(g.node) for o in n.output if o}
    consumers = {}
    for i, n in enumerate(g.node):
        for t in n.input:
            consumers.setdefault(t, set()).add(i)
    outputs = {o.name for o in g.output}
    flops = [_node_flops(n, types) for n in g.node]
    res = {"dense": int(sum(flops)), "branches": []}
    for b in branches:
        cone = {producer[b["value"]]}
        changed = True
        while changed:
            changed = False
            for i in list(cone):
                for t in g.node[i].input:
                    p = producer.get(t)
                    if p is None or p in cone:
                        continue
                    outs = g.node[p].output
                    if any(o in outputs for o in outs):
                        continue
                    if all(consumers.get(o, set()) <= cone for o in outs if o):
                        cone.add(p)
                        changed = True
        res["branches"].append({"name": b["name"], "flops": int(sum(flops[i] for i in cone)),
                                "nodes": sorted(g.node[i].name or g.node[i].output[0]
                                                for i in cone)})
    return res


def executed_flops(model, skipped):
    """Exact executed FLOPs per instance under the annotation semantics (docs/annotations.md): for
    instance n, the values of its skipped branches (skipped[n, b], b in annotation order)
    are zero, and a node runs iff one of its outputs is a graph output or is needed by a
    running node (a node shared by several branches runs while any of them is live).
    skipped: bool [N, B]. Returns int64 [N]; a row of all False gives the dense FLOPs."""
    branches, _ = validate(model)
    m = _batch1(model)
    types = _types(m)
    g = m.graph
    flops = [_node_flops(n, types) for n in g.node]
    outputs = {o.name for o in g.output}
    values = [b["value"] for b in branches]
    skipped = np.asarray(skipped, dtype=bool)
    if skipped.ndim != 2 or skipped.shape[1] != len(values):
        raise ValueError(f"executed_flops: skip mask shape {skipped.shape}, expected [N, "
                         f"{len(values)}]")
    cache, out = {}, np.zeros(skipped.shape[0], dtype=np.int64)
    for n, row in enumerate(skipped):
        key = np.packbits(row).tobytes()
        if key not in cache:
            dead = {v for v, s in zip(values, row) if s}
            needed = set(outputs)
            total = 0
            for i in range(len(g.node) - 1, -1, -1):  # ONNX nodes are topologically sorted
                node = g.node[i]
                if any(o in needed for o in node.output if o):
                    total += flops[i]
                    needed.update(t for t in node.input if t and t not in dead)
            cache[key] = total
        out[n] = cache[key]
    return out
