#!/usr/bin/python3
"""Export the trained ISBNet (isbnet.pt) to an annotated ONNX model (isbnet.onnx): opset 13,
input "input" float32 [N,1,28,28] (pixels in [0,1]), output "logits" [N,10], dynamic batch
axis N, gate tensor "isb.gates" [N,72], branch values "isb/<cell>.<edge>.<op>", metadata
isb.version/isb.branches/isb.threshold (docs/annotations.md).

Also writes the demo inputs samples/batch8.npy (float32 [8,1,28,28], the first 8 test
images) and samples/batch8_labels.npy (int64 [8]). Then checks the file: the ONNX graph
(evaluated by isb_annotate.run_onnx) equals PyTorch at batch 3, dense and masked at the
default threshold, and prints the branch FLOPs summary.

    ./export.py [--weights isbnet.pt] [-o isbnet.onnx] [--threshold 0.1]
"""
import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

import common  # noqa: E402
from common import isb  # noqa: E402
from isb_annotate import run_onnx  # noqa: E402
from model import ISBNet  # noqa: E402

DEFAULT_THRESHOLD = 0.1


def load_model(weights):
    model = ISBNet()
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    return model.eval()


def export(model, path, threshold=DEFAULT_THRESHOLD):
    return isb.export(model, torch.zeros(1, 1, 28, 28), path, input_names=["input"],
                      output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      threshold=threshold, opset_version=13)


def check(model, proto, threshold, x):
    """Max |ONNX - PyTorch| relative to max |PyTorch|, dense and masked at `threshold`."""
    res = {}
    with torch.no_grad():
        ref_dense = model(x).numpy()
        with isb.masked(threshold):
            ref_masked = model(x).numpy()
    out = run_onnx.run(proto, {"input": x.numpy()})["logits"]
    res["dense"] = float(np.abs(out - ref_dense).max() / np.abs(ref_dense).max())
    out = run_onnx.run(isb.masked_model(proto, threshold), {"input": x.numpy()})["logits"]
    res["masked"] = float(np.abs(out - ref_masked).max() / np.abs(ref_masked).max())
    res["masked_vs_dense"] = float(np.abs(ref_masked - ref_dense).max() / np.abs(ref_dense).max())
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=os.path.join(common.HERE, "isbnet.pt"))
    ap.add_argument("-o", "--output", default=os.path.join(common.HERE, "isbnet.onnx"))
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                    help="written as isb.threshold (default %(default)s)")
    args = ap.parse_args()
    common.setup(threads=1)
    model = load_model(args.weights)
    proto = export(model, args.output, args.threshold)
    info = isb.branch_flops(proto)
    bf = sum(b["flops"] for b in info["branches"])
    print(f"wrote {args.output}: {os.path.getsize(args.output)} bytes, "
          f"{len(info['branches'])} branches, dense {info['dense']} FLOPs/instance "
          f"({bf} in branches), isb.threshold {args.threshold}")
    x, y = common.load("test")
    os.makedirs(os.path.join(common.HERE, "samples"), exist_ok=True)
    np.save(os.path.join(common.HERE, "samples", "batch8.npy"), x[:8].numpy())
    np.save(os.path.join(common.HERE, "samples", "batch8_labels.npy"), y[:8].numpy())
    err = check(model, proto, args.threshold, x[:3])
    print("ONNX vs PyTorch (max |diff| / max |ref|, batch 3): " +
          ", ".join(f"{k} {v:.2e}" for k, v in err.items()))
    if max(err["dense"], err["masked"]) > 1e-4:
        raise SystemExit("export.py: the ONNX model does not match PyTorch")


if __name__ == "__main__":
    main()
