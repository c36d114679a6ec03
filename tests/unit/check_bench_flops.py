"""check_bench_flops.py ISBC — `isbc bench --json` counts the FLOPs of one call: a Conv and a
Gemm with a fixed batch B (1 and 8) and with a symbolic batch run at --batch B must all report
B times the FLOPs of one instance, 2 * (multiply-adds), as counted here from the shapes."""
import json
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ISBC = sys.argv[1]


def model(batch):
    """Conv 3->4, 3x3, no padding, on 16x16, flattened, then Gemm to 10 classes."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.standard_normal((4 * 14 * 14, 10)).astype(np.float32), "fc")
    shape = numpy_helper.from_array(np.array([-1 if batch == "N" else batch, 4 * 14 * 14]), "shp")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Reshape", ["c", "shp"], ["f"]),
        helper.make_node("Gemm", ["f", "fc"], ["y"]),
    ]
    g = helper.make_graph(nodes, "flops",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                         [batch, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])],
                          [w, fc, shape])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


PER_INSTANCE = 2 * (4 * 14 * 14 * 3 * 3 * 3) + 2 * (4 * 14 * 14 * 10)

failures = []
with tempfile.TemporaryDirectory() as work:
    for batch, run_batch in ((1, 1), (8, 8), ("N", 1), ("N", 8)):
        path = f"{work}/m_{batch}.onnx"
        onnx.save(model(batch), path)
        cmd = [ISBC, "bench", path, "--iters", "2", "--warmup", "0", "--json"]
        if batch == "N":
            cmd += ["--batch", str(run_batch)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            failures.append(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
            continue
        got = json.loads(r.stdout.strip().splitlines()[-1])
        want = PER_INSTANCE * run_batch
        print(f"batch {batch} run at {run_batch}: flops_dense {got['flops_dense']:.0f}, "
              f"flops_executed {got['flops_executed']:.0f}, want {want}")
        if got["flops_dense"] != want or got["flops_executed"] != want:
            failures.append(f"batch {batch} at {run_batch}: {got['flops_dense']:.0f} / "
                            f"{got['flops_executed']:.0f} FLOPs reported, {want} wanted")
if failures:
    print("\n".join(["FAIL"] + failures))
    sys.exit(1)
print("ok")
