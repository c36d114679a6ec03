#!/usr/bin/python3
"""The plain baseline for the ISBNet example's table: a small MobileNetV2-style network
(inverted residual blocks, ReLU6, no branches), trained exactly as train.py trains the
ISBNet (same data, flips, AdamW, warm-up + cosine schedule, batch, epochs, one CPU thread)
with cross-entropy only, then exported to baseline.onnx (opset 13, input "input"
[N,1,28,28] in [0,1], output "logits" [N,10], dynamic N).

    ./baseline.py            # trains (~4 min CPU), writes baseline.pt, baseline.onnx,
                             # baseline_log.json
    ./baseline.py --export-only
"""
import argparse
import math
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import common  # noqa: E402
import run_onnx  # noqa: E402  (examples/isbnet/run_onnx.py)
from model import MEAN, STD  # noqa: E402


def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return layers + [nn.ReLU6()] if act else layers


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        layers = conv_bn(cin, hid, 1) if expand != 1 else []
        layers += conv_bn(hid, hid, 3, stride, groups=hid)
        layers += conv_bn(hid, cout, 1, act=False)
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2Small(nn.Module):
    # (expand t, channels c, repeats n, first stride s), as in MobileNetV2's table 2
    CONFIG = [(1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 2, 2), (4, 48, 1, 1)]

    def __init__(self, n_classes=10, width=16, last=128):
        super().__init__()
        layers = conv_bn(1, width, 3)
        c = width
        for t, ch, n, s in self.CONFIG:
            for i in range(n):
                layers.append(InvertedResidual(c, ch, s if i == 0 else 1, t))
                c = ch
        layers += conv_bn(c, last, 1)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(last, n_classes)

    def forward(self, x):
        h = self.features((x - MEAN) / STD)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def export(model, path):
    model.eval()
    tmp = f"{path}.tmp{os.getpid()}"
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp, input_names=["input"],
                          output_names=["logits"], opset_version=13,
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--weights", default=os.path.join(common.HERE, "baseline.pt"))
    ap.add_argument("-o", "--output", default=os.path.join(common.HERE, "baseline.onnx"))
    ap.add_argument("--log", default=os.path.join(common.HERE, "baseline_log.json"))
    args = ap.parse_args()
    common.setup(threads=1, seed=args.seed)
    clock = common.Timer()
    xte, yte = common.load("test")
    model = MobileNetV2Small()
    if args.export_only:
        model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    else:
        xtr, ytr = common.load("train")
        model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
        total = int(args.epochs * math.ceil(xtr.shape[0] / args.bs))
        gen = torch.Generator().manual_seed(args.seed)
        step = 0
        while step < total:
            model.train()
            for xb, yb in common.batches(xtr, ytr, args.bs, True, gen):
                if step >= total:
                    break
                for g in opt.param_groups:
                    g["lr"] = common.lr_at(step, total, args.lr)
                loss = F.cross_entropy(model(common.cl(common.augment(xb, gen))), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                if step % 100 == 0:
                    print(f"step {step}/{total} loss {float(loss):.3f} cpu {clock():.0f}s",
                          flush=True)
        model = model.to(memory_format=torch.contiguous_format)
        torch.save(model.state_dict(), args.weights)
    export(model, args.output)
    acc = common.accuracy(common.predict(model, xte), yte)
    example = torch.zeros(1, 1, 28, 28)
    report = {"params": sum(p.numel() for p in model.parameters()),
              "dense_flops": common.dense_flops_plain(model, example), "test_acc": acc,
              "train_cpu_s": clock(),
              "args": {k: v for k, v in vars(args).items()
                       if k not in ("weights", "output", "log", "export_only")}}
    x3 = xte[:3]
    with torch.no_grad():
        ref = model(x3).numpy()
    out = run_onnx.run(args.output, {"input": x3.numpy()})["logits"]
    report["onnx_vs_torch"] = float(np.abs(out - ref).max() / np.abs(ref).max())
    if not args.export_only:
        common.save_json(args.log, report)
    print(f"params {report['params']}, FLOPs/instance {report['dense_flops']}, test accuracy "
          f"{acc:.4f}; wrote {args.output} ({os.path.getsize(args.output)} bytes), "
          f"ONNX vs PyTorch {report['onnx_vs_torch']:.1e}; cpu {clock():.0f}s")


if __name__ == "__main__":
    main()
