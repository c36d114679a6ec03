"""Shared by train.py, baseline.py, export.py, reference.py: Fashion-MNIST loading (Debian
dataset-fashion-mnist), the training loop pieces, evaluation, gate statistics and FLOPs.
Images are float32 [N,1,28,28] in [0,1]; the models normalise internally."""
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import isb_annotate as isb  # noqa: E402

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]


def _idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    """(images float32 [N,1,28,28] in [0,1], labels int64 [N]) for 'train' or 'test'."""
    pre = "train" if split == "train" else "t10k"
    x = _idx(os.path.join(DATA_DIR, f"{pre}-images-idx3-ubyte.gz"))
    y = _idx(os.path.join(DATA_DIR, f"{pre}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


def setup(threads=1, seed=0):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)


def cl(x):
    """Channels-last: several times faster for PyTorch's CPU depthwise convs and pools."""
    return x.contiguous(memory_format=torch.channels_last)


def batches(x, y, bs, shuffle, gen=None):
    n = x.shape[0]
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    for i in range(0, n, bs):
        j = order[i:i + bs]
        yield x[j], y[j]


def augment(x, gen):
    """Random horizontal flip (Fashion-MNIST items are left-right symmetric in class)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = x.clone()
    x[flip] = x[flip].flip(-1)
    return x


def lr_at(step, total, base, warmup=100):
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + np.cos(np.pi * p))


@torch.no_grad()
def predict(model, x, bs=500, threshold=None, with_gates=False):
    """Logits (and gates [N, E*K] for an ISBNet if with_gates) over x, eval mode. With
    `threshold`, the thresholded reference (isb.masked)."""
    model.eval()
    outs, gates = [], []
    for i in range(0, x.shape[0], bs):
        xb = cl(x[i:i + bs])
        if threshold is not None:
            with isb.masked(threshold):
                outs.append(model(xb))
        elif with_gates:
            o, g = model.forward_with_gates(xb)
            outs.append(o)
            gates.append(g)
        else:
            outs.append(model(xb))
    logits = torch.cat(outs)
    return (logits, torch.cat(gates)) if with_gates else logits


def accuracy(logits, y):
    return float((logits.argmax(1) == y).float().mean())


def gate_stats(gates, threshold, branch_names, branch_flops, dense_flops):
    """Statistics of the on-masks (gate >= threshold) over instances: per-branch on-rates,
    the number of distinct branch sets, branches run, executed FLOPs per instance counted as
    dense minus the skipped branches' exclusive cones (an upper bound: a node shared by
    branches that are all skipped is counted as run; isb.executed_flops is exact)."""
    on = (gates >= threshold).cpu().numpy()
    fl = np.asarray(branch_flops, dtype=np.float64)
    executed = dense_flops - ((~on) * fl).sum(1)
    sets = {row.tobytes() for row in np.packbits(on, axis=1)}
    return {
        "threshold": threshold,
        "on_rate": {n: float(r) for n, r in zip(branch_names, on.mean(0))},
        "distinct_branch_sets": len(sets),
        "instances": int(on.shape[0]),
        "branches_on_mean": float(on.sum(1).mean()),
        "branches_total": int(on.shape[1]),
        "executed_flops_mean": float(executed.mean()),
        "executed_flops_min": float(executed.min()),
        "executed_flops_max": float(executed.max()),
        "dense_flops": int(dense_flops),
    }


def onnx_flops(model, example, names):
    """isb.branch_flops of `model` exported to a temporary annotated ONNX file:
    (dense FLOPs per instance, [branch FLOPs in `names` order])."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        proto = isb.export(model, example, os.path.join(d, "m.onnx"), input_names=["input"],
                           output_names=["logits"], opset_version=13)
    info = isb.branch_flops(proto)
    by = {b["name"]: b["flops"] for b in info["branches"]}
    return info["dense"], [by[n] for n in names]


def dense_flops_plain(model, example):
    """FLOPs per instance of a model without branches (same counting as isbc's node_flops)."""
    import tempfile

    import onnx
    from isb_annotate.onnx_tools import _batch1, _node_flops, _types
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "m.onnx")
        model.eval()
        with torch.no_grad():
            torch.onnx.export(model, example, p, opset_version=13)
        m = _batch1(onnx.load(p))
    types = _types(m)
    return int(sum(_node_flops(n, types) for n in m.graph.node))


def save_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


class Timer:
    def __init__(self):
        self.t0 = time.process_time()

    def __call__(self):
        return time.process_time() - self.t0
