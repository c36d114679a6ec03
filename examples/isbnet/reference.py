#!/usr/bin/python3
"""The thresholded reference of an annotated model, as docs/annotations.md defines it: the same
graph with each branch `value` multiplied by (gate[:, index] >= T) — T from --threshold,
else each branch's threshold / isb.threshold; T <= 0 is the dense model. Two backends:

  onnx  (default) — builds that masked graph with onnx.helper (Gather/GreaterOrEqual/Cast/
        Reshape/Mul after each value; isb_annotate.masked_model) and evaluates it with
        isb_annotate.run_onnx (PyTorch ops). Needs only the .onnx file; works for any
        annotated model.
  torch — the PyTorch ISBNet (model.py + isbnet.pt) run under isb.masked(T).

Also the skip-count reference: per instance, which branches have gate[n][index] < T.

    ./reference.py -i samples/batch8.npy                    # predictions + skips per instance
    ./reference.py -i X.npy -o logits.npy --skips skips.npy --threshold 0.3
    ./reference.py --test-set [--threshold T]                # accuracy on Fashion-MNIST test
    ./reference.py --write-masked masked.onnx --threshold T  # the masked ONNX graph itself

Library use (tests): reference_logits(), skip_mask(), masked_onnx().
"""
import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import onnx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import isb_annotate as isb  # noqa: E402
from isb_annotate import run_onnx  # noqa: E402

DEFAULT_MODEL = os.path.join(HERE, "isbnet.onnx")
DEFAULT_WEIGHTS = os.path.join(HERE, "isbnet.pt")


def _proto(model):
    return onnx.load(model) if isinstance(model, str) else model


def masked_onnx(model=DEFAULT_MODEL, threshold=None, path=None, compare="ge"):
    """The masked reference ModelProto (written to `path` if given). compare="not_less"
    spells the predicate Not(Less(w, T)) instead of GreaterOrEqual (same result)."""
    m = isb.masked_model(_proto(model), threshold, compare=compare)
    if path:
        onnx.save(m, path)
    return m


def gate_names(model=DEFAULT_MODEL):
    branches, _ = isb.read_annotations(_proto(model))
    return sorted({b["gate"] for b in branches})


def reference_logits(x, threshold=None, model=DEFAULT_MODEL, backend="onnx",
                     weights=DEFAULT_WEIGHTS, bs=1000):
    """(outputs {name: array} of the thresholded reference, gates {name: array}) on x
    (float32 [N,1,28,28]). threshold None = per-branch / isb.threshold."""
    proto = _proto(model)
    gnames = gate_names(proto)
    outs, gates = {}, {g: [] for g in gnames}
    if backend == "onnx":
        ref = isb.masked_model(proto, threshold)
        for i in range(0, x.shape[0], bs):
            r = run_onnx.run(ref, {proto.graph.input[0].name: x[i:i + bs]}, extra=gnames)
            for k, v in r.items():
                (gates[k] if k in gates else outs.setdefault(k, [])).append(v)
    elif backend == "torch":
        import torch

        sys.path.insert(0, HERE)
        from model import ISBNet
        net = ISBNet()
        net.load_state_dict(torch.load(weights, map_location="cpu"))
        net.eval()
        if threshold is None:
            threshold = isb.read_annotations(proto)[1]
        if len(gnames) != 1:
            raise SystemExit("reference.py: the torch backend expects ISBNet's single gate")
        with torch.no_grad():
            for i in range(0, x.shape[0], bs):
                xb = torch.from_numpy(x[i:i + bs])
                with isb.masked(threshold):
                    logits, g = net.forward_with_gates(xb)
                outs.setdefault(proto.graph.output[0].name, []).append(logits.numpy())
                gates[gnames[0]].append(g.numpy())
    else:
        raise ValueError(backend)
    return ({k: np.concatenate(v) for k, v in outs.items()},
            {k: np.concatenate(v) for k, v in gates.items()})


def skip_mask(gates, threshold=None, model=DEFAULT_MODEL):
    """(names, bool [N, B]): True where branch b is skipped for instance n, i.e. its
    gate[n][index] < T (T = threshold, else the branch's own). T <= 0 skips nothing."""
    branches, _ = isb.read_annotations(_proto(model))
    cols = []
    for b in branches:
        t = b["threshold"] if threshold is None else threshold
        g = gates[b["gate"]]
        w = g.reshape(g.shape[0], -1)[:, b["index"]]
        cols.append(w < t if t > 0 else np.zeros(w.shape, dtype=bool))
    return [b["name"] for b in branches], np.stack(cols, axis=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", default=DEFAULT_MODEL)
    ap.add_argument("-i", "--input", help=".npy float32 [N,1,28,28]")
    ap.add_argument("--labels", help=".npy int labels (default: INPUT with _labels)")
    ap.add_argument("-o", "--output", help="write the reference logits (.npy)")
    ap.add_argument("--skips", help="write the skip mask, bool [N, branches] (.npy)")
    ap.add_argument("--threshold", type=float, help="override every branch's threshold")
    ap.add_argument("--no-skip", action="store_true", help="threshold 0: the dense model")
    ap.add_argument("--backend", choices=["onnx", "torch"], default="onnx")
    ap.add_argument("--weights", default=DEFAULT_WEIGHTS, help="for --backend torch")
    ap.add_argument("--test-set", action="store_true", help="Fashion-MNIST test set accuracy")
    ap.add_argument("--write-masked", metavar="OUT.onnx", help="write the masked ONNX graph")
    ap.add_argument("--not-less", action="store_true",
                    help="with --write-masked: Not(Less) instead of GreaterOrEqual")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)

    proto = onnx.load(args.model)
    thr = 0.0 if args.no_skip else args.threshold
    if args.write_masked:
        masked_onnx(proto, thr, args.write_masked, "not_less" if args.not_less else "ge")
        print(f"wrote {args.write_masked}")
    labels = None
    if args.test_set:
        sys.path.insert(0, HERE)
        import common
        x, y = common.load("test")
        x, labels = x.numpy(), y.numpy()
    elif args.input:
        x = np.load(args.input).astype(np.float32)
        lp = args.labels or args.input.replace(".npy", "_labels.npy")
        if os.path.exists(lp):
            labels = np.load(lp)
    else:
        if not args.write_masked:
            ap.error("nothing to do: give -i, --test-set or --write-masked")
        return
    outs, gates = reference_logits(x, thr, proto, args.backend, args.weights)
    logits = outs[proto.graph.output[0].name]
    names, skipped = skip_mask(gates, thr, proto)
    info = isb.branch_flops(proto)
    executed = isb.executed_flops(proto, skipped)
    if args.output:
        np.save(args.output, logits)
    if args.skips:
        np.save(args.skips, skipped)
    pred = logits.argmax(1)
    t_txt = "per-branch/isb.threshold" if thr is None else f"{thr}"
    print(f"threshold {t_txt} ({isb.read_annotations(proto)[1]} in the model), backend "
          f"{args.backend}, {x.shape[0]} instances, {len(names)} branches")
    if not args.test_set:
        sys.path.insert(0, HERE)
        from common import CLASSES
        for n in range(x.shape[0]):
            lab = f" (label {CLASSES[labels[n]]})" if labels is not None else ""
            print(f"  [{n}] {CLASSES[pred[n]]:<12}{lab:<22} skipped {int(skipped[n].sum())}/"
                  f"{len(names)} branches, {executed[n] / info['dense']:.3f} of dense FLOPs")
    if labels is not None:
        print(f"accuracy {float((pred == labels).mean()):.4f}")
    print(f"branches skipped per instance: mean {skipped.sum(1).mean():.2f}; executed FLOPs "
          f"mean {executed.mean():.0f} of {info['dense']} dense "
          f"({executed.mean() / info['dense']:.3f})")


if __name__ == "__main__":
    main()
