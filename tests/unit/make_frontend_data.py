#!/usr/bin/python3
"""Test data for test_tensor_io (the frontend's tensor files and ONNX importer).

  make_frontend_data.py gen OUTDIR TESTDATA   files written by numpy / onnx (fixture)
  make_frontend_data.py check OUTDIR          numpy / onnx read the files test_tensor_io wrote

For every tensor file X written here, X.bin holds the expected bytes (C order, little-endian)
and X.shape the dims, so the C test compares bit for bit without knowing the content."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save_expected(path, arr):
    arr = np.require(arr, requirements="C")
    with open(path + ".bin", "wb") as f:
        f.write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
    with open(path + ".shape", "w") as f:
        f.write(" ".join(str(d) for d in arr.shape) + "\n")


def arrays():
    rng = np.random.default_rng(7)
    f32 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    f32.flat[:6] = [np.nan, np.inf, -np.inf, -0.0, 1e-45, np.finfo(np.float32).max]
    return {
        "f32": f32,
        "f64": rng.standard_normal((5,)) * 1e300,
        "i64": np.array([np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max]).reshape(2, 2),
        "i32": rng.integers(-(2**31), 2**31, (3, 1, 2), dtype=np.int32),
        "i16": rng.integers(-(2**15), 2**15, (7,), dtype=np.int16),
        "u16": rng.integers(0, 2**16, (2, 2), dtype=np.uint16),
        "u32": rng.integers(0, 2**32, (3,), dtype=np.uint32),
        "u64": np.array([0, 1, 2**64 - 1], dtype=np.uint64),
        "i8": np.arange(-128, 128, dtype=np.int8).reshape(16, 16),
        "u8": np.arange(256, dtype=np.uint8).reshape(2, 8, 16),
        "bool": rng.integers(0, 2, (3, 4)).astype(np.bool_),
        "scalar": np.float32(3.5).reshape(()),
        "empty": np.zeros((2, 0, 3), dtype=np.float32),
        "rank8": np.arange(2 * 1 * 2 * 1 * 2 * 1 * 2 * 3, dtype=np.int64).reshape(2, 1, 2, 1, 2, 1, 2, 3),
    }


ONNX_DT = {
    "f32": TensorProto.FLOAT, "f64": TensorProto.DOUBLE, "i64": TensorProto.INT64,
    "i32": TensorProto.INT32, "i16": TensorProto.INT16, "u16": TensorProto.UINT16,
    "u32": TensorProto.UINT32, "u64": TensorProto.UINT64, "i8": TensorProto.INT8,
    "u8": TensorProto.UINT8, "bool": TensorProto.BOOL, "scalar": TensorProto.FLOAT,
    "empty": TensorProto.FLOAT, "rank8": TensorProto.INT64,
}


def gen_tensors(out, testdata):
    for key, a in arrays().items():
        np.save(os.path.join(out, f"np_{key}.npy"), a)
        save_expected(os.path.join(out, f"np_{key}.npy"), a)
        # typed data fields (float_data, int32_data, ...), not raw_data
        t = helper.make_tensor(key, ONNX_DT[key], a.shape, a.flatten().tolist(), raw=False)
        with open(os.path.join(out, f"pbtyped_{key}.pb"), "wb") as f:
            f.write(t.SerializeToString())
        save_expected(os.path.join(out, f"pbtyped_{key}.pb"), a)
        t = numpy_helper.from_array(a, key)  # raw_data
        with open(os.path.join(out, f"pbraw_{key}.pb"), "wb") as f:
            f.write(t.SerializeToString())
        save_expected(os.path.join(out, f"pbraw_{key}.pb"), a)
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for ver in [(2, 0), (3, 0)]:
        p = os.path.join(out, f"np_v{ver[0]}.npy")
        with open(p, "wb") as f:
            np.lib.format.write_array(f, a, version=ver)
        save_expected(p, a)
    np.save(os.path.join(out, "bad_fortran.npy"), np.asfortranarray(a))
    np.save(os.path.join(out, "bad_bigendian.npy"), a.astype(">f4"))
    np.save(os.path.join(out, "bad_f16.npy"), a.astype(np.float16))
    np.save(os.path.join(out, "bad_structured.npy"), np.zeros(3, dtype=[("x", "<f4"), ("y", "<i4")]))
    # ONNX backend test data, as onnx's own reader sees it
    for name in ["test_relu/test_data_set_0/input_0.pb", "test_gather_0/test_data_set_0/input_1.pb",
                 "test_and2d/test_data_set_0/input_0.pb", "test_cast_FLOAT_to_DOUBLE/test_data_set_0/output_0.pb"]:
        src = os.path.join(testdata, "node", name)
        t = onnx.load_tensor(src)
        save_expected(os.path.join(out, "td_" + name.split("/")[0] + ".pb"), numpy_helper.to_array(t))


def model(nodes, inputs, outputs, inits=(), opset=13, value_info=(), meta=None, name="g"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="isbc-test")
    m.ir_version = 7
    if meta:
        helper.set_model_props(m, meta)
    return m


def vi(name, dt, shape):
    return helper.make_tensor_value_info(name, dt, shape)


F = TensorProto.FLOAT


def gen_models(out, testdata):
    def save(m, name):
        onnx.save(m, os.path.join(out, name))

    # Old opset forms (opset 9): every attribute that later became an input.
    nodes = [
        helper.make_node("Clip", ["x"], ["c"], name="clip", min=-1.0, max=2.5),
        helper.make_node("Pad", ["c"], ["p"], name="pad", pads=[0, 0, 1, 1, 0, 0, 1, 1], value=0.5, mode="constant"),
        helper.make_node("Slice", ["p"], ["s"], name="slice", starts=[1, 1], ends=[3, 4], axes=[2, 3]),
        helper.make_node("Split", ["s"], ["s0", "s1"], name="split", axis=1, split=[1, 2]),
        helper.make_node("Squeeze", ["s0"], ["q"], name="squeeze", axes=[1]),
        helper.make_node("Unsqueeze", ["q"], ["u"], name="unsqueeze", axes=[0]),
        helper.make_node("ReduceMean", ["s1"], ["rm"], name="rmean", axes=[2, 3], keepdims=1),
        helper.make_node("ReduceSum", ["s1"], ["rs"], name="rsum", axes=[1]),
        helper.make_node("ReduceMax", ["s1"], ["rx"], name="rmax"),
        helper.make_node("Dropout", ["u"], ["dr"], name="drop", ratio=0.25),
        helper.make_node("Clip", ["x"], ["c2"], name="clipmax", max=6.0),
    ]
    save(model(nodes, [vi("x", F, [1, 3, 4, 4])],
               [vi(n, F, None) for n in ["dr", "rm", "rs", "rx", "c2"]], opset=9), "old_forms.onnx")

    # BatchNormalization-7 spatial
    bn_inits = [numpy_helper.from_array(np.ones(3, np.float32), n) for n in ["sc", "b", "m", "v"]]
    bn = lambda sp: helper.make_node("BatchNormalization", ["x", "sc", "b", "m", "v"], ["y"], name="bn", spatial=sp)
    save(model([bn(1)], [vi("x", F, [2, 3, 4, 4])], [vi("y", F, [2, 3, 4, 4])], bn_inits, opset=7), "bn_spatial1.onnx")
    save(model([bn(0)], [vi("x", F, [2, 3, 4, 4])], [vi("y", F, [2, 3, 4, 4])], bn_inits, opset=7), "bn_spatial0.onnx")

    # Initializers in every data field, Constant node forms, metadata, symbolic batch.
    inits = []
    for key, a in arrays().items():
        if key in ("scalar", "empty", "rank8"):
            continue
        inits.append(helper.make_tensor("typed_" + key, ONNX_DT[key], a.shape, a.flatten().tolist()))
        inits.append(numpy_helper.from_array(a, "raw_" + key))
        save_expected(os.path.join(out, "init_" + key), a)
    nodes = [
        helper.make_node("Constant", [], ["k_f"], value_float=1.5),
        helper.make_node("Constant", [], ["k_fs"], value_floats=[1.0, 2.0]),
        helper.make_node("Constant", [], ["k_i"], value_int=-7),
        helper.make_node("Constant", [], ["k_is"], value_ints=[3, 4, 5]),
        helper.make_node("Constant", [], ["k_t"], value=numpy_helper.from_array(np.arange(6, dtype=np.int32).reshape(2, 3))),
        helper.make_node("ConstantOfShape", ["k_is"], ["cos"], name="cos", value=numpy_helper.from_array(np.array([2], np.int64))),
        helper.make_node("Conv", ["x", "w"], ["conv"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["conv"], ["y"], name="relu"),
    ]
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    # ONNX IR < 4 style: the initializer w is also listed as a graph input.
    m = model(nodes, [vi("x", F, ["batch", 3, "h", 8]), vi("w", F, [4, 3, 3, 3])],
              [vi("y", F, ["batch", 4, "h", 8]), vi("cos", TensorProto.INT64, None)], inits + [w],
              value_info=[vi("conv", F, ["batch", 4, "h", 8])],
              meta={"isb.version": "1", "note": "hello"}, name="typed_graph")
    save(m, "typed.onnx")

    # External data beside the model, and external data that tries to leave its directory.
    os.makedirs(os.path.join(out, "ext"), exist_ok=True)
    wv = np.arange(4 * 3 * 3 * 3, dtype=np.float32).reshape(4, 3, 3, 3)
    save_expected(os.path.join(out, "ext", "w"), wv)
    bv = np.array([0.5, -1.5, 2.5, 1e-3], np.float32)
    save_expected(os.path.join(out, "ext", "b"), bv)
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", kernel_shape=[3, 3])
    m = model([conv], [vi("x", F, [1, 3, 5, 5])], [vi("y", F, [1, 4, 3, 3])],
              [numpy_helper.from_array(wv, "w"), numpy_helper.from_array(bv, "b")])
    onnx.save(m, os.path.join(out, "ext", "model.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    for tag, loc in [("dotdot", "../np_f32.npy.bin"), ("abs", "/etc/hostname"), ("missing", "nope.bin")]:
        m = onnx.load(os.path.join(out, "ext", "model.onnx"), load_external_data=False)
        for e in m.graph.initializer[0].external_data:
            if e.key == "location":
                e.value = loc
        onnx.save(m, os.path.join(out, "ext", f"bad_{tag}.onnx"))
    m = onnx.load(os.path.join(out, "ext", "model.onnx"), load_external_data=False)
    m.graph.initializer[0].external_data.add(key="length", value="12")
    onnx.save(m, os.path.join(out, "ext", "bad_length.onnx"))
    if os.path.lexists(os.path.join(out, "ext", "link.bin")):
        os.remove(os.path.join(out, "ext", "link.bin"))
    os.symlink(os.path.join(out, "np_f32.npy.bin"), os.path.join(out, "ext", "link.bin"))
    m = onnx.load(os.path.join(out, "ext", "model.onnx"), load_external_data=False)
    for e in m.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = "link.bin"
    onnx.save(m, os.path.join(out, "ext", "bad_symlink.onnx"))

    # Errors the importer must name.
    x, y = [vi("x", F, [2, 3])], [vi("y", F, [2, 3])]
    save(model([helper.make_node("FooBar", ["x"], ["y"], name="foo")], x, y), "err_unknown_op.onnx")
    n = helper.make_node("FusedConv", ["x"], ["y"], name="fc", domain="com.microsoft")
    m = model([n], x, y)
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    save(m, "err_domain.onnx")
    save(model([helper.make_node("Relu", ["x"], ["y"], name="r", bogus=1)], x, y), "err_attr.onnx")
    save(model([helper.make_node("Relu", ["x"], ["y"], name="r", _act="Relu")], x, y), "err_internal_attr.onnx")
    save(model([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1.5)], x, y), "err_attr_type.onnx")
    save(model([helper.make_node("Add", ["x", "nope"], ["y"], name="add")], x, y), "err_undef.onnx")
    save(model([helper.make_node("Relu", ["x"], ["y"], name="r")], x, y, opset=22), "err_opset22.onnx")
    save(model([helper.make_node("Relu", ["x"], ["y"], name="r"),
                helper.make_node("Relu", ["x"], ["y"], name="r2")], x, y), "err_twice.onnx")
    save(model([helper.make_node("Clip", ["x"], ["y"], name="clip", min=0.0)], x, y, opset=13), "err_clip_attr13.onnx")
    h = helper.make_tensor("h", TensorProto.FLOAT16, [2], [1.0, 2.0])
    save(model([helper.make_node("Add", ["x", "h"], ["y"], name="add")], x, y, [h]), "err_f16.onnx")
    body = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "body", x, y)
    save(model([helper.make_node("Relu", ["x"], ["y"], name="r", body=body)], x, y), "err_graph_attr.onnx")
    save(model([helper.make_node("Conv", ["x"], ["y"], name="c")], x, y), "err_arity.onnx")
    m = model([helper.make_node("Relu", ["x"], ["y"])], x, y)
    m.ClearField("graph")
    save(m, "err_nograph.onnx")

    # Real models relabelled from opset 6 to an opset isbc reads (the attributes are the same).
    for src, opset, strip in [("pytorch-converted/test_ConstantPad2d", 9, ()),
                              ("pytorch-converted/test_GLU", 9, ()),
                              ("pytorch-operator/test_operator_index", 9, ()),
                              ("pytorch-operator/test_operator_clip", 9, ()),
                              ("pytorch-operator/test_operator_reduced_mean", 9, ()),
                              ("pytorch-converted/test_BatchNorm2d_eval", 7, ("is_test",))]:
        m = onnx.load(os.path.join(testdata, src, "model.onnx"))
        m.opset_import[0].version = opset
        for node in m.graph.node:
            keep = [a for a in node.attribute if a.name not in strip]
            del node.attribute[:]
            node.attribute.extend(keep)
        save(m, "relabel_" + os.path.basename(src) + ".onnx")


def check(out):
    """Files test_tensor_io wrote (ours_*) must read back in numpy / onnx bit for bit."""
    bad = 0
    for fn in sorted(os.listdir(out)):
        if not fn.startswith("ours_") or fn.endswith((".bin", ".shape")):
            continue
        p = os.path.join(out, fn)
        if fn.endswith(".npy"):
            a = np.load(p, allow_pickle=False)
        else:
            a = numpy_helper.to_array(onnx.load_tensor(p))
        want = np.fromfile(p + ".bin", dtype=np.uint8).tobytes()
        shape = tuple(int(s) for s in open(p + ".shape").read().split())
        if a.shape != shape or np.require(a, requirements="C").tobytes() != want or a.dtype.byteorder == ">":
            print(f"MISMATCH {fn}: shape {a.shape} vs {shape}")
            bad += 1
    n = len([f for f in os.listdir(out) if f.startswith("ours_") and f.endswith((".npy", ".pb"))])
    if n == 0:
        print("no ours_* files: run test_tensor_io first")
        return 1
    print(f"checked {n} files, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        os.makedirs(sys.argv[2], exist_ok=True)
        gen_tensors(sys.argv[2], sys.argv[3])
        gen_models(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(check(sys.argv[2]))
