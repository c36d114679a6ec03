#!/usr/bin/python3
"""Export a torchvision 0.14 classifier to ONNX: random weights (torch.manual_seed), eval
mode, opset 13, input "input" [N,3,224,224] with a dynamic batch axis N, output "output"
[N,1000]. Also the one exporter used by tests/models and bench/ (import export_model)."""
import argparse
import os
import sys

import torch
import torchvision

IMAGE_SHAPE = (3, 224, 224)


def build_model(name, seed=0):
    """The torchvision model `name` with seeded random weights, in eval mode. BatchNorm
    running statistics are calibrated on a few random batches (as training would), so
    activations keep a sensible scale and the logits are O(1) rather than vanishing."""
    torch.manual_seed(seed)
    ctor = getattr(torchvision.models, name, None)
    if ctor is None:
        raise SystemExit(f"export.py: unknown torchvision model '{name}'")
    model = ctor(weights=None)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if bns:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        gen = torch.Generator().manual_seed(seed + 1)
        model.train()
        with torch.no_grad():
            for _ in range(2):
                model(torch.randn(8, *IMAGE_SHAPE, generator=gen))
    model.eval()
    return model


def export_model(name, path, seed=0, opset=13, dynamic_batch=True):
    """Write `path` atomically; returns the eval-mode torch model it was exported from."""
    model = build_model(name, seed)
    dummy = torch.zeros(1, *IMAGE_SHAPE)
    tmp = f"{path}.tmp{os.getpid()}"
    axes = {"input": {0: "N"}, "output": {0: "N"}} if dynamic_batch else None
    with torch.no_grad():
        torch.onnx.export(model, dummy, tmp, opset_version=opset, input_names=["input"],
                          output_names=["output"], dynamic_axes=axes,
                          do_constant_folding=True)
    os.replace(tmp, path)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="squeezenet1_1", help="torchvision model name")
    ap.add_argument("-o", "--output", default=None, help="ONNX file (default MODEL.onnx)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--static-batch", action="store_true", help="fixed batch 1")
    ap.add_argument("--input", help="also run PyTorch on this .npy and print its top-5")
    ap.add_argument("--no-export", action="store_true", help="with --input: only print")
    args = ap.parse_args()
    if args.no_export:
        model = build_model(args.model, args.seed)
    else:
        out = args.output or f"{args.model}.onnx"
        model = export_model(args.model, out, args.seed, args.opset, not args.static_batch)
        print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB)")
    if args.input:
        import numpy as np
        x = torch.from_numpy(np.load(args.input))
        with torch.no_grad():
            y = model(x)
        for n in range(y.shape[0]):
            score, idx = torch.topk(y[n], 5)
            print(f"instance {n}: top-5 (PyTorch)  " +
                  "  ".join(f"{int(i)}:{float(s):.4f}" for i, s in zip(idx, score)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
