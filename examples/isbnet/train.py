#!/usr/bin/python3
"""Train the ISBNet (model.py) on Fashion-MNIST on the CPU, one thread.

loss = cross-entropy
     + flops_w   * expected executed FLOPs per instance under the (noise-free) gate weights,
                   as a fraction of the cost of the most expensive branch on every edge
     + balance_w * mean over edges of KL(batch-mean weights || uniform)  (gates must differ
                   across instances, not collapse to one static choice per edge)
     + entropy_w * mean per-instance entropy of each edge's weights / log K  (peaky weights)
Gumbel noise on the SelectionNet logits while training. The regularisers are ramped in over
the first epoch. At the end: dense and thresholded test accuracy over a threshold sweep,
per-branch on-rates, distinct branch sets, executed FLOPs; written to --log (JSON).

    ./train.py                      # ~11 min CPU; writes isbnet.pt and train_log.json
"""
import argparse
import math
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch: no spinning OpenMP workers
import numpy as np
import torch
import torch.nn.functional as F

import common
from model import ISBNet, K

THRESHOLDS = [0.05, 0.1, 0.2, 0.3]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--subset", type=int, default=0, help="train on the first N images only")
    ap.add_argument("--bs", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--flops-w", type=float, default=0.3)
    ap.add_argument("--balance-w", type=float, default=0.3)
    ap.add_argument("--entropy-w", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(common.HERE, "isbnet.pt"))
    ap.add_argument("--log", default=os.path.join(common.HERE, "train_log.json"))
    args = ap.parse_args()

    common.setup(threads=1, seed=args.seed)
    clock = common.Timer()
    xtr, ytr = common.load("train")
    xte, yte = common.load("test")
    if args.subset:
        xtr, ytr = xtr[:args.subset], ytr[:args.subset]

    model = ISBNet()
    names = model.branch_names()
    E = model.n_edges
    dense, bflops = common.onnx_flops(model, torch.zeros(1, 1, 28, 28), names)
    fl = torch.tensor(bflops, dtype=torch.float32).view(E, K)
    fl_norm = fl / fl.max(1).values.sum()  # one most expensive branch per edge = 1
    print(f"params {sum(p.numel() for p in model.parameters())}, dense FLOPs/instance {dense}, "
          f"branch FLOPs {int(fl.sum())}")

    model = model.to(memory_format=torch.channels_last)
    model.selection.gumbel = True
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    steps_per_epoch = math.ceil(xtr.shape[0] / args.bs)
    total = int(args.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(args.seed)
    step, logk = 0, math.log(K)
    history = []
    while step < total:
        model.train()
        sums = np.zeros(5)
        n = 0
        for xb, yb in common.batches(xtr, ytr, args.bs, True, gen):
            if step >= total:
                break
            for g in opt.param_groups:
                g["lr"] = common.lr_at(step, total, args.lr)
            ramp = min(1.0, step / steps_per_epoch)
            logits, _ = model.forward_with_gates(common.cl(common.augment(xb, gen)))
            w = model.selection.last_clean  # [N, E, K], noise-free
            ce = F.cross_entropy(logits, yb)
            cost = (w * fl_norm).sum((1, 2)).mean()
            pbar = w.mean(0)
            balance = (pbar * (pbar.clamp_min(1e-8).log() + logk)).sum(-1).mean()
            entropy = -(w * w.clamp_min(1e-8).log()).sum(-1).mean() / logk
            loss = ce + ramp * (args.flops_w * cost + args.balance_w * balance
                                + args.entropy_w * entropy)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += [float(loss), float(ce), float(cost), float(balance), float(entropy)]
            n += 1
            step += 1
            if step % 100 == 0:
                m = sums / n
                print(f"step {step}/{total} loss {m[0]:.3f} ce {m[1]:.3f} cost {m[2]:.3f} "
                      f"balance {m[3]:.3f} entropy {m[4]:.3f}  cpu {clock():.0f}s", flush=True)
        logits, gates = common.predict(model, xte[:2000], with_gates=True)
        acc = common.accuracy(logits, yte[:2000])
        st = common.gate_stats(gates, 0.1, names, bflops, dense)
        history.append({"step": step, "test_acc_2000": acc, "sets@0.1": st["distinct_branch_sets"],
                        "flops@0.1": st["executed_flops_mean"] / dense})
        print(f"== step {step}: test acc (2000) {acc:.4f}, at T=0.1: {st['branches_on_mean']:.1f}/"
              f"{st['branches_total']} branches on, {st['distinct_branch_sets']} distinct sets, "
              f"executed FLOPs {st['executed_flops_mean'] / dense:.3f} of dense", flush=True)

    model.selection.gumbel = False
    model = model.to(memory_format=torch.contiguous_format)
    torch.save(model.state_dict(), args.out)
    logits, gates = common.predict(model, xte, with_gates=True)
    report = {"params": sum(p.numel() for p in model.parameters()), "dense_flops": dense,
              "branch_flops": dict(zip(names, bflops)), "dense_acc": common.accuracy(logits, yte),
              "args": {k: v for k, v in vars(args).items() if k not in ("out", "log")},
              "history": history, "train_cpu_s": clock(), "sweep": []}
    print(f"dense test accuracy {report['dense_acc']:.4f}")
    for t in THRESHOLDS:
        st = common.gate_stats(gates, t, names, bflops, dense)
        st["acc"] = common.accuracy(common.predict(model, xte, threshold=t), yte)
        report["sweep"].append(st)
        print(f"T={t:<5} acc {st['acc']:.4f}  branches on {st['branches_on_mean']:.2f}/"
              f"{st['branches_total']}  distinct sets {st['distinct_branch_sets']}  executed "
              f"FLOPs {st['executed_flops_mean'] / dense:.3f} of dense", flush=True)
    for st in report["sweep"]:
        if st["threshold"] == 0.1:
            print("on-rates at T=0.1:")
            for e in range(E):
                row = [st["on_rate"][names[e * K + k]] for k in range(K)]
                edge = names[e * K].rsplit(".", 1)[0]
                print(f"  {edge:<12}" + " ".join(f"{r:5.2f}" for r in row))
    common.save_json(args.log, report)
    print(f"saved {args.out} and {args.log}; cpu {clock():.0f}s")


if __name__ == "__main__":
    main()
