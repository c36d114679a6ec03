#!/usr/bin/python3
"""run_bad.py — one bad-input case: isbc must fail cleanly with the expected message.

A case is NAME.args (isbc's arguments, one line, shell-quoted; {work} is the work dir
holding the generated inputs), NAME.err (fragments, one per line, each of which must occur
in stderr, case-insensitively), optionally NAME.status (expected exit status, default 1:
bad input; 2 is a usage error) and NAME.absent (files, one per line, that must not exist
after the run: outputs a failed command must not leave behind; removed before the run). A signal, any other status, empty stderr, or a sanitizer,
assertion or LLVM crash report fails the case. The inputs (empty, random, truncated and
unsupported models, tensors of the wrong shape) are made here, deterministically."""
import argparse
import os
import shlex
import subprocess
import sys

import numpy as np

CRASH_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "Assertion",
               "LLVM ERROR", "Stack dump", "Segmentation fault", "core dumped")


def write(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def models():
    """name -> serialized ONNX model bytes."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    out = {}
    # A valid model: pixels [N,3,8,8] -> Conv(16, 3x3, pad 1) -> Relu.
    w = helper.make_tensor("w", TensorProto.FLOAT, [16, 3, 3, 3],
                           rng.standard_normal(432).astype(np.float32).tobytes(), raw=True)
    g = helper.make_graph(
        [helper.make_node("Conv", ["pixels", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["y"], name="relu")],
        "small", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16, 8, 8])], [w])
    small = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(small)
    out["small"] = small.SerializeToString()
    # NonMaxSuppression (opset 10+): a real ONNX op isbc does not implement.
    g = helper.make_graph(
        [helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"], name="nms")],
        "nms", [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 6, 4]),
                helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 6])],
        [helper.make_tensor_value_info("sel", TensorProto.INT64, ["K", 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    out["nms"] = m.SerializeToString()
    # An op from a custom domain.
    g = helper.make_graph(
        [helper.make_node("FancyOp", ["pixels"], ["y"], name="fancy", domain="com.example")],
        "custom", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 8, 8])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                            helper.make_opsetid("com.example", 1)])
    out["custom"] = m.SerializeToString()
    # Reshape whose shape is a graph input: isbc needs it bound (--bind shape=FILE).
    g = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
        "reshape", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4]),
                    helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [6, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    out["reshape"] = m.SerializeToString()
    # Annotated (docs/annotations.md): two branches gated by a Softmax, gate weights in [0, 1].
    nodes = [helper.make_node("Softmax", ["logits"], ["gates"], axis=1),
             helper.make_node("Relu", ["x"], ["r"])]
    for k in range(2):
        nodes += [helper.make_node("Gather", ["gates", f"i{k}"], [f"g{k}"], axis=1),
                  helper.make_node("Unsqueeze", [f"g{k}", "ax1"], [f"gc{k}"]),
                  helper.make_node("Mul", [f"gc{k}", "r" if k == 0 else "x"], [f"v{k}"])]
    nodes.append(helper.make_node("Add", ["v0", "v1"], ["y"]))
    g = helper.make_graph(
        nodes, "annotated",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor("i0", TensorProto.INT64, [], [0]),
         helper.make_tensor("i1", TensorProto.INT64, [], [1]),
         helper.make_tensor("ax1", TensorProto.INT64, [1], [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    for k, v in {"isb.version": "1", "isb.threshold": "0.3", "isb.branches":
                 '[{"name":"b0","gate":"gates","index":0,"value":"v0"},'
                 '{"name":"b1","gate":"gates","index":1,"value":"v1"}]'}.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    out["annotated"] = m.SerializeToString()
    # Hostile models (issue 9). Max(x, "", y): a variadic input given as "" (not optional).
    g = helper.make_graph(
        [helper.make_node("Max", ["x", "", "y"], ["z"], name="max")],
        "max_empty", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4]),
                      helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3, 4])])
    out["max_empty"] = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    # A 4-element tensor reshaped to [2^62+1, 4]: the element count wraps to 4 in int64.
    big = helper.make_tensor("big", TensorProto.INT64, [2], [(1 << 62) + 1, 4])
    g = helper.make_graph(
        [helper.make_node("Reshape", ["x4", "big"], ["y"], name="reshape_big")],
        "reshape_big", [helper.make_tensor_value_info("x4", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [big])
    out["reshape_big"] = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    # An elementwise model over a declared dim of 2^62 (a 2^64-byte input).
    g = helper.make_graph(
        [helper.make_node("Relu", ["huge"], ["y"], name="relu")],
        "huge", [helper.make_tensor_value_info("huge", TensorProto.FLOAT, [1 << 62])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1 << 62])])
    out["huge_dim"] = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    # ConvTranspose to a [1, 2^20, 2^20, 2^20] output (info used to report 0 FLOPs).
    g = helper.make_graph(
        [helper.make_node("ConvTranspose", ["cx", "cw"], ["y"], name="deconv")],
        "deconv", [helper.make_tensor_value_info("cx", TensorProto.FLOAT, [1, 1, 1 << 20, 1 << 20]),
                   helper.make_tensor_value_info("cw", TensorProto.FLOAT, [1, 1 << 20, 1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    out["deconv_huge"] = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    # A declared output shape that is not the inferred one.
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        "declared", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 3])])
    out["declared_mismatch"] = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    return out


def make_inputs(work):
    os.makedirs(work, exist_ok=True)
    if os.path.exists(os.path.join(work, "done.v8")):
        return
    ms = models()
    for name, data in ms.items():
        write(os.path.join(work, f"{name}.onnx"), data)
    small = ms["small"]
    write(os.path.join(work, "truncated.onnx"), small[: len(small) // 2])
    write(os.path.join(work, "empty.onnx"), b"")
    write(os.path.join(work, "random.onnx"), np.random.default_rng(1).bytes(4096))
    rng = np.random.default_rng(2)
    for name, arr in {
        "pixels_1x3x8x8": rng.standard_normal((1, 3, 8, 8), dtype=np.float32),
        "pixels_1x3x9x9": rng.standard_normal((1, 3, 9, 9), dtype=np.float32),
        "pixels_int32": np.zeros((1, 3, 8, 8), dtype=np.int32),
        "x_2x3x4": rng.standard_normal((2, 3, 4), dtype=np.float32),
        "x_4": rng.standard_normal((4,), dtype=np.float32),
        "shape_6x4": np.array([6, 4], dtype=np.int64),
        "shape_rank3": np.array([2, 3, 4], dtype=np.int64),
        "x_3x4": rng.standard_normal((3, 4), dtype=np.float32),
        "logits_3x2": rng.standard_normal((3, 2), dtype=np.float32),
    }.items():
        tmp = os.path.join(work, f"{name}.tmp{os.getpid()}.npy")
        np.save(tmp, arr)
        os.replace(tmp, os.path.join(work, f"{name}.npy"))
    good = open(os.path.join(work, "pixels_1x3x8x8.npy"), "rb").read()
    write(os.path.join(work, "truncated.npy"), good[: len(good) // 2])
    write(os.path.join(work, "done.v8"), b"")


def main():
    ap = argparse.ArgumentParser(description="run one bad-input case")
    ap.add_argument("case", help="path of the case without extension, e.g. tests/bad/empty_model")
    ap.add_argument("--isbc", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    make_inputs(args.workdir)
    line = open(args.case + ".args").read().strip()
    argv = [a.replace("{work}", args.workdir) for a in shlex.split(line)]
    frags = [f for f in open(args.case + ".err").read().splitlines() if f.strip()]
    want = int(open(args.case + ".status").read()) if os.path.exists(args.case + ".status") else 1
    absent = []
    if os.path.exists(args.case + ".absent"):
        absent = [f.strip().replace("{work}", args.workdir)
                  for f in open(args.case + ".absent").read().splitlines() if f.strip()]
    for f in absent:
        if os.path.exists(f):
            os.remove(f)
    print("$ " + " ".join(shlex.quote(a) for a in [args.isbc] + argv))
    try:
        p = subprocess.run([args.isbc] + argv, capture_output=True, text=True, errors="replace",
                           timeout=300, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        print("FAIL: timed out after 300s")
        return 1
    sys.stdout.write("stderr:\n" + p.stderr + ("" if p.stderr.endswith("\n") else "\n"))
    ok = True
    if p.returncode < 0:
        print(f"FAIL: killed by signal {-p.returncode}")
        ok = False
    elif p.returncode != want:
        print(f"FAIL: exit status {p.returncode}, expected {want}")
        ok = False
    if not p.stderr.strip():
        print("FAIL: no message on stderr")
        ok = False
    for mark in CRASH_MARKS:
        if mark in p.stderr:
            print(f"FAIL: crash report in stderr ('{mark}')")
            ok = False
    for f in frags:
        if f.lower() not in p.stderr.lower():
            print(f"FAIL: stderr lacks '{f}'")
            ok = False
    for f in absent:
        if os.path.exists(f):
            print(f"FAIL: the failed command left '{f}' behind")
            ok = False
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
