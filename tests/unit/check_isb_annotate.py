#!/usr/bin/python3
"""unit.isb_annotate: the test of python/isb_annotate (exit 0 = pass; PYTHONPATH from
tests/CMakeLists.txt: python/ and examples/isbnet/ for run_onnx). A toy model with two gates (a 2-D one and a 3-D one, read row-major), a skip
branch, branches sharing a node, and a branch with its own threshold is exported; then:
the annotations name existing tensors, the gate/value tensors are gone from the outputs
but typed in value_info, the masked ONNX graph (GreaterOrEqual and Not(Less) spellings)
equals PyTorch under isb.masked at several thresholds, threshold 0 is exactly dense, skip
masks match, and bad annotations are rejected with the branch named."""
import json
import os
import sys
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import isb_annotate as isb  # noqa: E402
import run_onnx  # noqa: E402  (examples/isbnet/run_onnx.py)


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
    print("isb_annotate selftest: OK")


if __name__ == "__main__":
    main()
