#!/usr/bin/python3
"""unit.isb_annotate: the test of python/isb_annotate (exit 0 = pass; PYTHONPATH from
tests/CMakeLists.txt: python/ and examples/isbnet/ for run_onnx). A toy model with two gates (a 2-D one and a 3-D one, read row-major), a skip
branch, branches sharing a node, and a branch with its own threshold is exported; then:
the annotations name existing tensors, the gate/value tensors are gone from the outputs
but typed in value_info, the masked ONNX graph (GreaterOrEqual and Not(Less) spellings)
equals PyTorch under isb.masked at several thresholds, threshold 0 is exactly dense, skip
masks match, and bad annotations are rejected with the branch named. The FLOPs counter
(isb_annotate.onnx_tools._node_flops) follows isbc's op table: its rules equal ir/ops.def's
flops column, and, given the isbc binary as the argument, its counts equal `isbc info`'s on
one-node models of every rule."""
import json
import os
import re
import subprocess
import sys
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import isb_annotate as isb  # noqa: E402
import run_onnx  # noqa: E402  (examples/isbnet/run_onnx.py)
from isb_annotate import onnx_tools  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.sel = nn.Linear(4, 3)
        self.sel2 = nn.Linear(4, 4)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.head = nn.Linear(4, 5)

    def forward(self, x):
        p = x.mean((2, 3))
        g = isb.gate("g1", torch.softmax(self.sel(p), -1))                  # [N,3]
        g2 = torch.softmax(self.sel2(p).reshape(-1, 2, 2), -1)              # [N,2,2], unnamed
        shared = torch.relu(x)                                              # used by 2 branches
        y = isb.branch("conv", g, 0, g[:, 0].reshape(-1, 1, 1, 1) * self.conv(shared))
        y = y + isb.branch("skip", g, 1, g[:, 1].reshape(-1, 1, 1, 1) * x)
        y = y + isb.branch("pw", g, 2, g[:, 2].reshape(-1, 1, 1, 1) * self.conv2(shared),
                           threshold=0.25)
        z = y
        for i in range(4):
            z = z + isb.branch(f"c2.b{i}", g2, i,
                               g2[:, i // 2, i % 2].reshape(-1, 1, 1, 1) * torch.tanh(y + i))
        return self.head(z.mean((2, 3)))


def expect_error(proto, mutate, needle):
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    props = {p.key: p.value for p in m.metadata_props}
    mutate(props)
    del m.metadata_props[:]
    for k, v in props.items():
        m.metadata_props.add(key=k, value=v)
    try:
        isb.validate(m)
    except ValueError as e:
        assert needle in str(e), f"error '{e}' lacks '{needle}'"
        return str(e)
    raise AssertionError(f"no error for {needle}")


def edit_branch(i, **kv):
    def f(props):
        b = json.loads(props["isb.branches"])
        b[i].update(kv)
        props["isb.branches"] = json.dumps(b)
    return f


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = Toy().eval()
    x = torch.randn(7, 4, 8, 8)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "toy.onnx")
        proto = isb.export(model, x[:2], path, input_names=["x"], output_names=["y"],
                           dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, threshold=0.2)
        proto = onnx.load(path)
    branches, default = isb.validate(proto)
    assert default == 0.2
    assert [b["name"] for b in branches] == ["conv", "skip", "pw"] + [f"c2.b{i}" for i in range(4)]
    assert [o.name for o in proto.graph.output] == ["y"]
    assert {b["gate"] for b in branches} == {"g1", "isb.gate1"}, branches
    assert branches[2]["threshold"] == 0.25 and branches[0]["threshold"] == 0.2
    vi = {v.name: v for v in proto.graph.value_info}
    for b in branches:
        for t in (b["gate"], b["value"]):
            assert t in vi and vi[t].type.tensor_type.shape.dim[0].dim_param == "batch", t
    producers = {o: n.op_type for n in proto.graph.node for o in n.output}
    assert all(producers[b["value"]] == "Mul" for b in branches), producers

    xs = x.numpy()
    dense = run_onnx.run(proto, {"x": xs})["y"]
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(dense - ref).max() <= 1e-5 * np.abs(ref).max(), "dense ONNX != PyTorch"
    for t in (0.0, 0.2, 0.3, 0.45, None):
        for compare in ("ge", "not_less"):
            m = isb.masked_model(proto, t, compare=compare)
            got = run_onnx.run(m, {"x": xs})["y"]
            if t is None:  # per-branch thresholds: only the torch side needs spelling out
                continue
            with torch.no_grad(), isb.masked(t):
                want = model(x).numpy()
            assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max(), (t, compare)
            if t == 0.0:
                assert np.array_equal(got, dense), "threshold 0 must be exactly dense"
        if t == 0.45:
            assert np.abs(got - dense).max() > 1e-3, "masking at 0.45 should change the output"
    with torch.no_grad(), isb.record() as rec:
        model(x)
    mask = rec.skip_mask(0.3)
    g = run_onnx.run(proto, {"x": xs}, extra=["g1", "isb.gate1"])
    rows = np.concatenate([g["g1"].reshape(7, -1), g["isb.gate1"].reshape(7, -1)], 1)
    assert np.array_equal(mask, rows < 0.3), "skip mask differs"
    assert not rec.skip_mask(0).any()
    info = isb.branch_flops(proto)
    fl = {b["name"]: b["flops"] for b in info["branches"]}
    assert fl["conv"] > fl["pw"] > fl["skip"] > 0 and info["dense"] > sum(fl.values()), info
    assert fl["skip"] == 4 * 8 * 8, fl["skip"]  # the skip branch's cone is only its Mul
    rows = np.zeros((3, 7), dtype=bool)
    rows[1, 0] = True                # conv skipped: the shared Relu still runs for pw
    rows[2, [0, 2]] = True           # conv and pw skipped: the shared Relu is dead too
    ex = isb.executed_flops(proto, rows)
    relu = 4 * 8 * 8
    assert list(ex) == [info["dense"], info["dense"] - fl["conv"],
                        info["dense"] - fl["conv"] - fl["pw"] - relu], (list(ex), fl)

    errs = [
        expect_error(proto, edit_branch(0, gate="nope"), "branch 'conv': unknown tensor 'nope'"),
        expect_error(proto, edit_branch(1, index=3), "branch 'skip': index 3 out of range"),
        expect_error(proto, edit_branch(3, index=4), "branch 'c2.b0': index 4 out of range"),
        expect_error(proto, edit_branch(2, value="x"), "branch 'pw': unknown tensor 'x'"),
        expect_error(proto, lambda p: p.update({"isb.branches": "[{"}), "malformed JSON"),
        expect_error(proto, edit_branch(0, index=-1), "branch 'conv': 'index'"),
        expect_error(proto, edit_branch(0, threshold="hi"), "branch 'conv': 'threshold'"),
        expect_error(proto, lambda p: p.update({"isb.version": "2"}), "isb.version"),
    ]
    # 'conv' does not depend on the second gate.
    errs.append(expect_error(proto, edit_branch(0, gate="isb.gate1", index=0),
                             "branch 'conv': value"))
    for e in errs:
        print("  rejected:", e)
    check_flops_rules()
    if len(sys.argv) > 1:
        check_flops_against_isbc(sys.argv[1])
    print("isb_annotate selftest: OK")


def check_flops_rules():
    """_FLOPS_RULE is ir/ops.def's flops column for every ONNX op isbc keeps after import."""
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ir",
                            "ops.def")).read()
    want = {}
    for name, body in re.findall(r"^OP\((\w+),(.*?)\)\s*$", src, re.S | re.M):
        fl = re.search(r"\bFL_(\w+)", body).group(1).lower()
        if "OPF_INTERNAL" in body or "LOWER_IMPORT" in body or fl == "none":
            continue
        want[name] = fl
    assert len(want) > 90, f"parsed only {len(want)} rows of ir/ops.def"
    got = onnx_tools._FLOPS_RULE
    diff = sorted(set(want.items()) ^ set(got.items()))
    assert not diff, f"isb_annotate's FLOPs rules differ from ir/ops.def: {diff}"


def flops_models():
    """(name, one-node model) for every FLOPs rule, a few ops each, batch symbolic."""
    F, I64 = TensorProto.FLOAT, TensorProto.INT64

    def one(op, ins, outs, opset=13, inits=(), **attrs):
        g = helper.make_graph([helper.make_node(op, [n for n, _, _ in ins],
                                                [o[0] for o in outs], **attrs)], op,
                              [helper.make_tensor_value_info(n, t, s) for n, t, s in ins
                               if n not in {i.name for i in inits}],
                              [helper.make_tensor_value_info(n, o[0] if o else F, s)
                               for n, s, *o in outs],
                              list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        return m

    def w(name, *shape):
        return onnx.numpy_helper.from_array(np.ones(shape, np.float32), name)
    x = ("x", F, ["N", 4, 6, 5])
    yield "Relu", one("Relu", [x], [("y", ["N", 4, 6, 5])])
    yield "Add", one("Add", [x, ("b", F, [5])], [("y", ["N", 4, 6, 5])])
    yield "HardSigmoid", one("HardSigmoid", [x], [("y", ["N", 4, 6, 5])])
    yield "Softplus", one("Softplus", [x], [("y", ["N", 4, 6, 5])])
    yield "Identity", one("Identity", [x], [("y", ["N", 4, 6, 5])])
    yield "ReduceMean", one("ReduceMean", [x], [("y", ["N", 4, 1, 1])], axes=[2, 3])
    yield "GlobalAveragePool", one("GlobalAveragePool", [x], [("y", ["N", 4, 1, 1])])
    yield "ArgMax", one("ArgMax", [x], [("y", ["N", 4, 6, 1], I64)], axis=3)
    yield "Conv", one("Conv", [x, ("W", F, [6, 2, 3, 3])], [("y", ["N", 6, 4, 3])],
                      inits=[w("W", 6, 2, 3, 3)], group=2)
    yield "ConvTranspose", one("ConvTranspose", [x, ("W", F, [4, 3, 2, 2])],
                               [("y", ["N", 3, 7, 6])], inits=[w("W", 4, 3, 2, 2)])
    yield "Gemm", one("Gemm", [("a", F, ["N", 7]), ("B", F, [3, 7])], [("y", ["N", 3])],
                      inits=[w("B", 3, 7)], transB=1)
    yield "MatMul", one("MatMul", [x, ("B", F, [5, 2])], [("y", ["N", 4, 6, 2])],
                        inits=[w("B", 5, 2)])
    yield "MaxPool", one("MaxPool", [x], [("y", ["N", 4, 2, 2])], kernel_shape=[3, 2],
                         strides=[2, 2])
    yield "AveragePool", one("AveragePool", [x], [("y", ["N", 4, 4, 4])], kernel_shape=[3, 2])
    yield "Softmax", one("Softmax", [x], [("y", ["N", 4, 6, 5])])
    yield "BatchNormalization", one(
        "BatchNormalization", [x] + [(k, F, [4]) for k in "sbmv"], [("y", ["N", 4, 6, 5])],
        inits=[w(k, 4) for k in "sbmv"])
    yield "LayerNormalization", one("LayerNormalization", [x, ("s", F, [5])],
                                    [("y", ["N", 4, 6, 5])], opset=17, inits=[w("s", 5)])
    yield "InstanceNormalization", one(
        "InstanceNormalization", [x, ("s", F, [4]), ("b", F, [4])], [("y", ["N", 4, 6, 5])],
        inits=[w("s", 4), w("b", 4)])
    yield "LpNormalization", one("LpNormalization", [x], [("y", ["N", 4, 6, 5])], axis=1)
    yield "SoftmaxCrossEntropyLoss", one(
        "SoftmaxCrossEntropyLoss", [("z", F, ["N", 4]), ("t", I64, ["N"])], [("y", ["N"])],
        reduction="none")
    for mode in ("bilinear", "nearest", "bicubic"):
        yield f"GridSample.{mode}", one("GridSample", [x, ("g", F, ["N", 3, 2, 2])],
                                        [("y", ["N", 4, 3, 2])], opset=16, mode=mode)
    for op, gates in (("LSTM", 4), ("GRU", 3), ("RNN", 1)):
        yield op, one(op, [("X", F, [7, 2, 3]), ("W", F, [2, gates * 5, 3]),
                           ("R", F, [2, gates * 5, 5])], [("Y", [7, 2, 2, 5])], opset=14,
                      inits=[w("W", 2, gates * 5, 3), w("R", 2, gates * 5, 5)], hidden_size=5,
                      direction="bidirectional")


def check_flops_against_isbc(isbc):
    """The Python counter and `isbc info` agree on one-node models of every rule."""
    with tempfile.TemporaryDirectory() as d:
        for name, m in flops_models():
            path = os.path.join(d, name + ".onnx")
            onnx.save(m, path)
            r = subprocess.run([isbc, "info", path], capture_output=True, text=True)
            got = re.search(r"^dense FLOPs per instance: (\d+)", r.stdout, re.M)
            assert r.returncode == 0 and got, f"{name}: isbc info: {r.stderr}"
            mb = onnx_tools._batch1(m)
            types = onnx_tools._types(mb)
            py = sum(onnx_tools._node_flops(n, types) for n in mb.graph.node)
            assert int(got.group(1)) == py, f"{name}: isbc info {got.group(1)}, Python {py}"
            print(f"  FLOPs {name}: {py} (isbc info agrees)")


if __name__ == "__main__":
    main()
