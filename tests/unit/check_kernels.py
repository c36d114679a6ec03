#!/usr/bin/python3
"""check_kernels.py ISBC WORKDIR [NAME_PART] [--ort] — the runtime files without kernel tests of their own
(runtime/rnn.c, resize.c, select.c, norm.c, poolnd.c) through `isbc run` on random inputs,
several shapes and attributes each, edge cases included (odd sizes, padding, ceil_mode, every
coordinate mode of Resize, LSTM/GRU/RNN directions, layouts and sequence lengths).

References nobody here wrote: PyTorch (always; the cases it computes: torch.nn.LSTM/GRU with
the ONNX weights, interpolate, grid_sample, topk, einsum, det, layer_norm, instance_norm,
normalize, nll_loss, cross_entropy, max_pool/avg_pool, local_response_norm) and, with --ort,
ONNX Runtime (onnxruntime-node, bench/ort_eval.js) for every case, which then fails if ONNX
Runtime is not installed. Floats must agree within rtol 1e-4, atol 1e-5; integers exactly.
NAME_PART runs only the cases whose name contains it."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as TF
from onnx import TensorProto, helper, numpy_helper

from isbc_run import ort_run, run_model  # noqa: E402

F, I64, U8, I8 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.UINT8, TensorProto.INT8
NP_OF = {F: np.float32, I64: np.int64, U8: np.uint8, I8: np.int8}
rng = np.random.default_rng(10)
torch.set_default_dtype(torch.float64)


def rnd(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def t64(a):
    return torch.from_numpy(np.asarray(a, np.float64))


class Case:
    """One model: its ONNX node (inputs with data become graph inputs, `consts` initializers),
    the feeds, the output shapes and dtypes, optionally PyTorch's outputs, and whether ONNX
    Runtime computes it."""

    def __init__(self, name, op, ins, outs, attrs=None, consts=None, opset=13, torch_ref=None,
                 ort=True):
        self.name = name
        self.ort = ort
        consts = consts or {}
        gin = [(n, a) for n, a in ins if n and n not in consts]  # "": an absent input
        node = helper.make_node(op, [n for n, _ in ins], [n for n, _, _ in outs], **(attrs or {}))
        inits = [numpy_helper.from_array(np.asarray(consts[n]), n) for n, _ in ins if n in consts]
        inp = [helper.make_tensor_value_info(n, _tdt(a.dtype), list(a.shape)) for n, a in gin]
        out = [helper.make_tensor_value_info(n, dt, list(s)) for n, s, dt in outs]
        g = helper.make_graph([node], name, inp, out, initializer=inits)
        self.model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        self.model.ir_version = 8
        self.feeds = [a for _, a in gin]
        self.nout = len(outs)
        self.torch_ref = torch_ref


def _tdt(dt):
    return {np.dtype(np.float32): F, np.dtype(np.int64): I64, np.dtype(np.uint8): U8,
            np.dtype(np.int8): I8}[np.dtype(dt)]


# ---- rnn.c ----------------------------------------------------------------------------------

def onnx_to_torch_rnn(kind, W, R, B, hidden, dirs, torch_mod):
    """Load ONNX RNN weights into a torch.nn.LSTM/GRU/RNN (gate order iofc -> ifgo for LSTM,
    zrh -> rzn for GRU)."""
    perm = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}[kind]
    ng = len(perm)

    def reorder(m):
        blocks = [m[k * hidden:(k + 1) * hidden] for k in range(ng)]
        return np.concatenate([blocks[p] for p in perm], 0)

    with torch.no_grad():
        for d in range(dirs):
            sfx = "_reverse" if d == 1 else ""
            getattr(torch_mod, "weight_ih_l0" + sfx).copy_(t64(reorder(W[d])))
            getattr(torch_mod, "weight_hh_l0" + sfx).copy_(t64(reorder(R[d])))
            getattr(torch_mod, "bias_ih_l0" + sfx).copy_(t64(reorder(B[d][:ng * hidden])))
            getattr(torch_mod, "bias_hh_l0" + sfx).copy_(t64(reorder(B[d][ng * hidden:])))


def rnn_cases():
    for kind, ng in (("LSTM", 4), ("GRU", 3), ("RNN", 1)):
        for direction in ("forward", "reverse", "bidirectional"):
            for seq, batch, inp, hid in ((4, 3, 3, 5), (1, 1, 2, 3), (7, 2, 5, 4)):
                dirs = 2 if direction == "bidirectional" else 1
                X, W, R = rnd(seq, batch, inp), rnd(dirs, ng * hid, inp) * 0.5, \
                    rnd(dirs, ng * hid, hid) * 0.5
                B = rnd(dirs, 2 * ng * hid) * 0.5
                h0 = rnd(dirs, batch, hid)
                ins = [("X", X), ("W", W), ("R", R), ("B", B), ("", None), ("h0", h0)]
                outs = [("Y", (seq, dirs, batch, hid), F), ("Yh", (dirs, batch, hid), F)]
                if kind == "LSTM":
                    c0 = rnd(dirs, batch, hid)
                    ins.append(("c0", c0))
                    outs.append(("Yc", (dirs, batch, hid), F))
                attrs = {"hidden_size": hid, "direction": direction}
                if kind == "GRU":
                    attrs["linear_before_reset"] = 1
                # torch has no reverse-only RNN: reverse = forward over the time-reversed input
                rev = direction == "reverse"
                mod = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}[kind](
                    inp, hid, bidirectional=dirs == 2)
                onnx_to_torch_rnn(kind, W, R, B, hid, dirs, mod)

                def torch_ref(mod=mod, X=X, h0=h0, ins=ins, kind=kind, seq=seq, batch=batch,
                              hid=hid, dirs=dirs, rev=rev):
                    x = t64(X[::-1].copy() if rev else X)
                    with torch.no_grad():
                        if kind == "LSTM":
                            y, (h, c) = mod(x, (t64(h0), t64(ins[-1][1])))
                        else:
                            y, h = mod(x, t64(h0))
                    y = y.numpy().reshape(seq, batch, dirs, hid).transpose(0, 2, 1, 3)
                    return [y[::-1] if rev else y, h.numpy()] + (
                        [c.numpy()] if kind == "LSTM" else [])
                name = f"{kind.lower()}_{direction}_{seq}x{batch}x{inp}x{hid}"
                yield rnn_case(name, kind, ins, outs, attrs, torch_ref)
    # sequence_lens, layout 1, clip, peepholes, GRU linear_before_reset 0, other activations:
    # ONNX-only features, ONNX Runtime's reference
    seq, batch, inp, hid = 5, 4, 3, 4
    lens = np.array([5, 2, 1, 4], np.int32)
    for kind, ng in (("LSTM", 4), ("GRU", 3), ("RNN", 1)):
        for direction in ("forward", "reverse", "bidirectional"):
            dirs = 2 if direction == "bidirectional" else 1
            X, W, R = rnd(seq, batch, inp), rnd(dirs, ng * hid, inp) * 0.5, \
                rnd(dirs, ng * hid, hid) * 0.5
            B = rnd(dirs, 2 * ng * hid) * 0.5
            ins = [("X", X), ("W", W), ("R", R), ("B", B), ("lens", lens)]
            outs = [("Y", (seq, dirs, batch, hid), F), ("Yh", (dirs, batch, hid), F)]
            attrs = {"hidden_size": hid, "direction": direction}
            if kind == "LSTM":
                ins += [("", None), ("", None), ("P", rnd(dirs, 3 * hid))]
                outs.append(("Yc", (dirs, batch, hid), F))
                attrs["clip"] = 0.7
            if kind == "GRU":
                attrs["activations"] = ["HardSigmoid", "Softsign"] * dirs
                attrs["activation_alpha"] = [0.3, 0.0] * dirs
                attrs["activation_beta"] = [0.4, 0.0] * dirs
            if kind == "RNN":
                attrs["activations"] = ["Relu"] * dirs
            yield rnn_case(f"{kind.lower()}_{direction}_seqlens", kind, ins, outs, attrs, None,
                           consts={"lens": lens})
    # layout 1: X [batch, seq, input], outputs batch-first (ONNX Runtime refuses layout 1)
    X, W, R = rnd(batch, seq, inp), rnd(2, 4 * hid, inp) * 0.5, rnd(2, 4 * hid, hid) * 0.5
    B = rnd(2, 8 * hid) * 0.5
    mod = torch.nn.LSTM(inp, hid, bidirectional=True, batch_first=True)
    onnx_to_torch_rnn("LSTM", W, R, B, hid, 2, mod)

    def layout1_ref(mod=mod, X=X):
        with torch.no_grad():
            y, (h, c) = mod(t64(X))
        return [y.numpy().reshape(batch, seq, 2, hid), h.numpy().transpose(1, 0, 2)]
    yield rnn_case("lstm_layout1_bidirectional", "LSTM", [("X", X), ("W", W), ("R", R), ("B", B)],
                   [("Y", (batch, seq, 2, hid), F), ("Yh", (batch, 2, hid), F)],
                   {"hidden_size": hid, "direction": "bidirectional", "layout": 1}, layout1_ref,
                   ort=False)
    X, W, R = rnd(seq, batch, inp), rnd(1, 3 * hid, inp), rnd(1, 3 * hid, hid)
    yield rnn_case("gru_linear_before_reset0", "GRU", [("X", X), ("W", W), ("R", R)],
                   [("Y", (seq, 1, batch, hid), F)], {"hidden_size": hid}, None)


def rnn_case(name, kind, ins, outs, attrs, torch_ref, consts=None, opset=14, ort=True):
    consts = dict(consts or {})
    for n, a in ins:
        if n in ("W", "R", "B", "P"):
            consts[n] = a
    return Case(name, kind, ins, outs, attrs, consts, opset, torch_ref, ort)


# ---- resize.c -------------------------------------------------------------------------------

def resize_cases():
    x = rnd(2, 3, 5, 7)
    modes = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
             "tf_crop_and_resize")
    for mode in ("nearest", "linear", "cubic"):
        for ctm in modes:
            for oh, ow in ((9, 4), (3, 11), (1, 6)):
                attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
                roi = np.array([0, 0, 0.1, 0.2, 1, 1, 0.8, 0.9], np.float32)
                if mode == "nearest":
                    attrs["nearest_mode"] = ("round_prefer_floor", "round_prefer_ceil", "floor",
                                             "ceil")[(oh + ow) % 4]
                if mode == "cubic" and ow == 11:
                    attrs["exclude_outside"] = 1
                    attrs["cubic_coeff_a"] = -0.5
                if ctm == "tf_crop_and_resize":
                    attrs["extrapolation_value"] = 0.25
                    roi = np.array([0, 0, -0.2, 0.1, 1, 1, 1.3, 0.8], np.float32)
                sizes = np.array([2, 3, oh, ow], np.int64)
                torch_ref = None
                if mode in ("linear", "cubic") and ctm in ("align_corners", "half_pixel") and \
                        "exclude_outside" not in attrs and mode == "linear":
                    torch_ref = (lambda x=x, oh=oh, ow=ow, ac=ctm == "align_corners":
                                 [TF.interpolate(t64(x), size=(oh, ow), mode="bilinear",
                                                 align_corners=ac).numpy()])
                if mode == "cubic" and ctm == "align_corners" and "cubic_coeff_a" not in attrs:
                    attrs["cubic_coeff_a"] = -0.75  # PyTorch's bicubic
                    torch_ref = (lambda x=x, oh=oh, ow=ow:
                                 [TF.interpolate(t64(x), size=(oh, ow), mode="bicubic",
                                                 align_corners=True).numpy()])
                if mode == "nearest" and ctm == "asymmetric" and attrs["nearest_mode"] == "floor":
                    torch_ref = (lambda x=x, oh=oh, ow=ow:
                                 [TF.interpolate(t64(x), size=(oh, ow), mode="nearest").numpy()])
                yield Case(f"resize_{mode}_{ctm}_{oh}x{ow}", "Resize",
                           [("x", x), ("roi", roi), ("", None), ("sizes", sizes)],
                           [("y", (2, 3, oh, ow), F)], attrs, {"roi": roi, "sizes": sizes},
                           torch_ref=torch_ref)
    # scales (not sizes): the output size floors, the coordinate mapping uses the scale
    # (no scale where float and double rounding of (x + 0.5) / scale - 0.5 disagree on a tie)
    for mode, sc in (("linear", [1, 1, 1.7, 0.6]), ("nearest", [1, 1, 2.5, 1.4]),
                     ("cubic", [1, 1, 0.8, 2.2])):
        scales = np.array(sc, np.float32)
        out = (2, 3, int(5 * sc[2]), int(7 * sc[3]))
        yield Case(f"resize_{mode}_scales", "Resize", [("x", x), ("", None), ("scales", scales)],
                   [("y", out, F)], {"mode": mode}, {"scales": scales})
    # GridSample-16: PyTorch's grid_sample is the definition the spec adopts
    x = rnd(2, 3, 5, 6)
    grid = (rng.uniform(-1.3, 1.3, (2, 4, 7, 2))).astype(np.float32)
    for mode in ("bilinear", "nearest", "bicubic"):
        for pad in ("zeros", "border", "reflection"):
            for ac in (0, 1):
                yield Case(f"gridsample_{mode}_{pad}_ac{ac}", "GridSample",
                           [("x", x), ("grid", grid)], [("y", (2, 3, 4, 7), F)],
                           {"mode": mode, "padding_mode": pad, "align_corners": ac}, opset=16,
                           torch_ref=lambda x=x, grid=grid, mode=mode, pad=pad, ac=ac: [
                               TF.grid_sample(t64(x), t64(grid), mode=mode, padding_mode=pad,
                                              align_corners=bool(ac)).numpy()])
    # RoiAlign-16 (avg): torchvision.ops.roi_align with aligned=True is half_pixel
    x = rnd(2, 3, 9, 8)
    rois = np.array([[0.5, 1.2, 6.3, 7.7], [2.0, 0.0, 7.9, 4.4], [0, 0, 8, 9]], np.float32)
    bi = np.array([1, 0, 1], np.int64)
    for ctm, sr in (("half_pixel", 2), ("output_half_pixel", 0), ("half_pixel", 0)):
        def tv(x=x, ctm=ctm, sr=sr):
            import torchvision
            boxes = torch.cat([t64(bi)[:, None], t64(rois)], 1)
            return [torchvision.ops.roi_align(t64(x), boxes, (3, 4), spatial_scale=0.9,
                                              sampling_ratio=sr,
                                              aligned=ctm == "half_pixel").numpy()]
        yield Case(f"roialign_{ctm}_sr{sr}", "RoiAlign", [("x", x), ("rois", rois), ("bi", bi)],
                   [("y", (3, 3, 3, 4), F)],
                   {"output_height": 3, "output_width": 4, "sampling_ratio": sr,
                    "spatial_scale": 0.9, "coordinate_transformation_mode": ctm},
                   {"rois": rois, "bi": bi}, opset=16, torch_ref=tv)


# ---- select.c -------------------------------------------------------------------------------

def select_cases():
    for shape, axis, k in (((3, 7), -1, 3), ((2, 5, 4), 1, 5), ((1, 9, 1), 1, 1)):
        x = rnd(*shape)
        for largest in (0, 1):
            oshape = list(shape)
            oshape[axis] = k
            yield Case(f"topk_{'x'.join(map(str, shape))}_ax{axis}_k{k}_l{largest}", "TopK",
                       [("x", x), ("k", np.array([k], np.int64))],
                       [("v", oshape, F), ("i", oshape, I64)], {"axis": axis, "largest": largest},
                       {"k": np.array([k], np.int64)}, opset=11,
                       torch_ref=lambda x=x, axis=axis, k=k, largest=largest: [
                           a.numpy() for a in torch.topk(t64(x), k, dim=axis,
                                                         largest=bool(largest))])
    idx = np.array([[0, -1, 2], [3, 1, -4]], np.int64)
    for axis in (-1, 0, 1):
        oshape = [2, 3]
        oshape.insert(axis if axis >= 0 else 3 + axis, 4)
        yield Case(f"onehot_axis{axis}", "OneHot",
                   [("idx", idx), ("depth", np.array(4, np.int64)),
                    ("values", np.array([-1.5, 2.0], np.float32))], [("y", oshape, F)],
                   {"axis": axis}, {"idx": idx, "depth": np.array(4, np.int64),
                                    "values": np.array([-1.5, 2.0], np.float32)}, opset=11)
    data = rnd(2, 3, 4, 5)
    ind = np.array([[[1, 2], [0, 3]], [[2, 1], [1, 0]]], np.int64)
    yield Case("gathernd_b0", "GatherND", [("x", data), ("ind", ind[:, :, :1] % 2)],
               [("y", (2, 2, 3, 4, 5), F)], {}, {"ind": ind[:, :, :1] % 2})
    neg = np.array([[[-1, -3], [-2, 0]], [[0, -1], [-2, 2]]], np.int64)
    yield Case("gathernd_b0_neg", "GatherND", [("x", data), ("ind", neg)],
               [("y", (2, 2, 4, 5), F)], {}, {"ind": neg})
    yield Case("gathernd_b1", "GatherND", [("x", data), ("ind", ind)], [("y", (2, 2, 5), F)],
               {"batch_dims": 1}, {"ind": ind})
    for red in ("none", "add", "mul", "max", "min"):
        # duplicate index tuples only with a reduction (the order of plain writes is undefined)
        sind = np.array([[1, 2], [0, 0], [1, 2] if red != "none" else [2, 3]], np.int64)
        upd = rnd(3, 5)
        yield Case(f"scatternd_{red}", "ScatterND", [("x", data[0]), ("ind", sind), ("u", upd)],
                   [("y", (3, 4, 5), F)], {} if red == "none" else {"reduction": red},
                   {"ind": sind}, opset=18 if red in ("max", "min") else 16)
    x = rnd(5, 3, 2)
    for ta, ba, lens in ((0, 1, [5, 1, 3]), (1, 0, [2, 5, 1])):
        xs = x if ta == 0 else x.transpose(1, 0, 2).copy()
        L = np.array(lens, np.int64)
        yield Case(f"reversesequence_t{ta}", "ReverseSequence", [("x", xs), ("L", L)],
                   [("y", xs.shape, F)], {"time_axis": ta, "batch_axis": ba}, {"L": L}, opset=10)
    for eq, shapes in (("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij->ji", [(3, 5)]),
                       ("i,i->", [(7,), (7,)]), ("ii->i", [(4, 4)]),
                       ("abc,cd->abd", [(2, 3, 4), (4, 3)])):
        xs = [rnd(*s) for s in shapes]
        want = torch.einsum(eq, *[t64(a) for a in xs]).numpy()
        yield Case(f"einsum_{eq.replace(',', '_').replace('->', '_to_') or 'x'}", "Einsum",
                   [(f"x{i}", a) for i, a in enumerate(xs)], [("y", want.shape, F)],
                   {"equation": eq}, opset=12, torch_ref=lambda w=want: [w])
    for shape in ((3, 3), (2, 4, 4), (1, 1)):
        x = rnd(*shape)
        yield Case(f"det_{'x'.join(map(str, shape))}", "Det", [("x", x)],
                   [("y", shape[:-2], F)], {}, opset=11,
                   torch_ref=lambda x=x: [torch.linalg.det(t64(x)).numpy()])


# ---- norm.c ---------------------------------------------------------------------------------

def norm_cases():
    for shape, axis in (((2, 3, 5), -1), ((2, 3, 5), 1), ((4, 7), 0), ((2, 3, 2, 3), -2)):
        x = rnd(*shape) * 3 + 1
        ax = axis % len(shape)
        s, b = rnd(*shape[ax:]), rnd(*shape[ax:])
        yield Case(f"layernorm_{'x'.join(map(str, shape))}_ax{axis}", "LayerNormalization",
                   [("x", x), ("s", s), ("b", b)], [("y", shape, F)],
                   {"axis": axis, "epsilon": 1e-3}, opset=17,
                   torch_ref=lambda x=x, s=s, b=b, ax=ax: [TF.layer_norm(
                       t64(x), x.shape[ax:], t64(s), t64(b), eps=1e-3).numpy()])
    for shape in ((2, 3, 5), (1, 4, 3, 5), (2, 2, 2, 3, 3)):
        x = rnd(*shape) * 2 - 1
        s, b = rnd(shape[1]), rnd(shape[1])
        yield Case(f"instancenorm_{'x'.join(map(str, shape))}", "InstanceNormalization",
                   [("x", x), ("s", s), ("b", b)], [("y", shape, F)], {"epsilon": 1e-4},
                   opset=6, torch_ref=lambda x=x, s=s, b=b: [TF.instance_norm(
                       t64(x), weight=t64(s), bias=t64(b), eps=1e-4).numpy()])
    x = rnd(2, 3, 4, 5)
    for axes in ([0, 2, 3], [2, 3], [1], [0, 1, 2, 3]):
        yield Case(f"mvn_{''.join(map(str, axes))}", "MeanVarianceNormalization", [("x", x)],
                   [("y", x.shape, F)], {"axes": axes})
    for p in (1, 2):
        for axis in (-1, 1):
            yield Case(f"lpnorm_p{p}_ax{axis}", "LpNormalization", [("x", x)],
                       [("y", x.shape, F)], {"p": p, "axis": axis}, opset=1,
                       torch_ref=lambda p=p, axis=axis: [TF.normalize(t64(x), p=p,
                                                                        dim=axis).numpy()])
    # losses: NLL on [N, C] and [N, C, d], weights, ignore_index; SoftmaxCrossEntropy
    for shape in ((5, 4), (3, 4, 6)):
        logp = TF.log_softmax(t64(rnd(*shape)), 1).numpy().astype(np.float32)
        tgt = rng.integers(0, shape[1], (shape[0],) + shape[2:]).astype(np.int64)
        tgt.flat[1] = 2
        w = np.abs(rnd(shape[1])) + 0.1
        for red in ("none", "sum", "mean"):
            oshape = tgt.shape if red == "none" else ()
            for ign in (None, 2):
                attrs = {"reduction": red}
                if ign is not None:
                    attrs["ignore_index"] = ign
                sfx = f"{len(shape)}d_{red}{'_ign' if ign is not None else ''}"
                yield Case(f"nll_{sfx}", "NegativeLogLikelihoodLoss",
                           [("x", logp), ("t", tgt), ("w", w)], [("y", oshape, F)], attrs,
                           {"t": tgt},
                           torch_ref=lambda logp=logp, tgt=tgt, w=w, red=red, ign=ign: [
                               TF.nll_loss(t64(logp), torch.from_numpy(tgt), weight=t64(w),
                                           reduction=red,
                                           ignore_index=-100 if ign is None else ign).numpy()])
                z = rnd(*shape)
                yield Case(f"sce_{sfx}", "SoftmaxCrossEntropyLoss",
                           [("x", z), ("t", tgt), ("w", w)], [("y", oshape, F)], attrs,
                           {"t": tgt},
                           torch_ref=lambda z=z, tgt=tgt, w=w, red=red, ign=ign: [
                               TF.cross_entropy(t64(z), torch.from_numpy(tgt), weight=t64(w),
                                                reduction=red,
                                                ignore_index=-100 if ign is None else ign).numpy()])


# ---- poolnd.c -------------------------------------------------------------------------------

def pool_out(size, k, s, pb, pe, d, ceil):
    span = size + pb + pe - d * (k - 1) - 1
    o = (-(-span // s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= size + pb:  # PyTorch's and ONNX's rule: start inside
        o -= 1
    return o


def poolnd_cases():
    # (input shape, kernel, strides, pads (begin = end, as PyTorch takes them), dilations, ceil)
    configs = [((2, 3, 5, 6, 7), [2, 3, 2], [2, 1, 2], [1, 1, 0], [1, 1, 1], 0),
               ((1, 2, 7, 5, 6), [3, 2, 3], [2, 2, 2], [1, 0, 1], [1, 2, 1], 1),
               ((2, 2, 9), [3], [2], [1], [2], 1),
               ((1, 3, 7, 9), [3, 2], [2, 3], [1, 1], [1, 1], 1),
               ((2, 1, 6, 5), [2, 2], [1, 1], [0, 0], [2, 2], 0)]
    for shape, k, s, p, d, ceil in configs:
        nd = len(k)
        x = rnd(*shape)
        osp = [pool_out(shape[2 + i], k[i], s[i], p[i], p[i], d[i], ceil) for i in range(nd)]
        oshape = list(shape[:2]) + osp
        tag = f"{nd}d_{'x'.join(map(str, shape[2:]))}_k{''.join(map(str, k))}_c{ceil}"
        attrs = {"kernel_shape": k, "strides": s, "pads": p + p, "dilations": d,
                 "ceil_mode": ceil}
        mp = {1: TF.max_pool1d, 2: TF.max_pool2d, 3: TF.max_pool3d}[nd]
        ap = {1: TF.avg_pool1d, 2: TF.avg_pool2d, 3: TF.avg_pool3d}[nd]

        def maxref(x=x, k=k, s=s, p=p, d=d, ceil=ceil, mp=mp, shape=shape):
            y, i = mp(t64(x), k, s, p, d, ceil_mode=bool(ceil), return_indices=True)
            plane = int(np.prod(shape[2:]))
            base = np.arange(shape[0] * shape[1]).reshape(shape[:2] + (1,) * (len(shape) - 2))
            return [y.numpy(), i.numpy() + base * plane]  # ONNX: flat over the whole tensor
        yield Case(f"maxpool_{tag}", "MaxPool", [("x", x)], [("y", oshape, F), ("i", oshape, I64)],
                   attrs, opset=12, torch_ref=maxref)
        for dt, npt in ((U8, np.uint8), (I8, np.int8)):
            xi = rng.integers(np.iinfo(npt).min, np.iinfo(npt).max, shape).astype(npt)
            yield Case(f"maxpool_{tag}_{npt.__name__}", "MaxPool", [("x", xi)],
                       [("y", oshape, dt)], attrs, opset=12,
                       torch_ref=lambda xi=xi, k=k, s=s, p=p, d=d, ceil=ceil, mp=mp: [
                           mp(t64(xi), k, s, p, d, ceil_mode=bool(ceil)).numpy()])
        if d == [1] * nd:
            for cip in (0, 1):
                a = dict(attrs, count_include_pad=cip)
                del a["dilations"]
                yield Case(f"averagepool_{tag}_cip{cip}", "AveragePool", [("x", x)],
                           [("y", oshape, F)], a, opset=11,
                           torch_ref=lambda x=x, k=k, s=s, p=p, ceil=ceil, cip=cip, ap=ap: [
                               ap(t64(x), k, s, p, ceil_mode=bool(ceil),
                                  count_include_pad=bool(cip)).numpy()])
    # storage_order 1 (column-major indices) and MaxUnpool: ONNX-only
    x = rnd(2, 2, 5, 7)
    yield Case("maxpool_storage_order1", "MaxPool", [("x", x)],
               [("y", (2, 2, 2, 3), F), ("i", (2, 2, 2, 3), I64)],
               {"kernel_shape": [2, 3], "strides": [2, 2], "storage_order": 1}, opset=12)
    # (output_shape only equal to the default: where they differ, the ONNX backend test data
    # (test_maxunpool_export_with_output_shape, which isbc follows) and PyTorch / ONNX Runtime
    # read the indices differently; onnx/onnx#2398)
    for hw, osz in (((4, 6), None), ((4, 6), [2, 2, 4, 6])):
        y, i = TF.max_pool2d(t64(rnd(2, 2, *hw)), 2, 2, return_indices=True)
        ind = (i.numpy() + np.arange(4).reshape(2, 2, 1, 1) * (hw[0] * hw[1])).astype(np.int64)
        ins = [("y", y.numpy().astype(np.float32)), ("ind", ind)]
        consts = {"ind": ind}
        if osz:
            ins.append(("osz", np.array(osz, np.int64)))
            consts["osz"] = np.array(osz, np.int64)
        oshape = (2, 2) + hw
        yield Case(f"maxunpool_{'osz' if osz else 'default'}", "MaxUnpool", ins,
                   [("x", oshape, F)], {"kernel_shape": [2, 2], "strides": [2, 2]}, consts,
                   opset=11, torch_ref=lambda i=i, y=y, oshape=oshape: [TF.max_unpool2d(
                       y, i, 2, 2, output_size=oshape[2:]).numpy()])
    for size in (1, 3, 5):  # (an even size: PyTorch centres the window differently)
        x = rnd(2, 6, 3, 4)
        yield Case(f"lrn_size{size}", "LRN", [("x", x)], [("y", x.shape, F)],
                   {"size": size, "alpha": 0.3, "beta": 0.6, "bias": 1.5},
                   torch_ref=lambda x=x, size=size: [TF.local_response_norm(
                       t64(x), size, alpha=0.3, beta=0.6, k=1.5).numpy()])


def close(got, want):
    if got.shape != tuple(want.shape):
        return f"shape {got.shape} vs {tuple(want.shape)}"
    if got.dtype.kind in "iub":
        bad = int((got.astype(np.int64) != np.asarray(want).astype(np.int64)).sum())
        return f"{bad} integers differ" if bad else None
    w = np.asarray(want, np.float64)
    if np.allclose(got, w, rtol=1e-4, atol=1e-5):
        return None
    return f"max |diff| {float(np.abs(got - w).max()):.3g}"


def main():
    args = [a for a in sys.argv[1:] if a != "--ort"]
    use_ort = "--ort" in sys.argv
    isbc, work = args[0], args[1]
    only = args[2] if len(args) > 2 else ""
    os.makedirs(work, exist_ok=True)
    bad = total = 0
    for gen in (rnn_cases, resize_cases, select_cases, norm_cases, poolnd_cases):
        for c in gen():
            if only not in c.name or ((not use_ort or not c.ort) and c.torch_ref is None):
                continue
            total += 1
            rc, err, got = run_model(isbc, work, c.name, c.model, c.feeds, nout=c.nout)
            why = f"exit {rc}: {err}" if rc else None
            refs = []
            if c.torch_ref is not None:
                refs.append(("PyTorch", c.torch_ref()))
            if use_ort and c.ort:
                ref, e = ort_run(work, c.name, c.model, c.feeds)
                if ref is None:
                    why = why or f"ONNX Runtime: {e}"
                refs.append(("ONNX Runtime", ref))
            for who, ref in refs:
                if why or ref is None:
                    break
                for k, (g, w) in enumerate(zip(got, ref)):
                    d = close(g, w)
                    if d:
                        why = f"output {k} differs from {who}: {d}"
                        break
            print(f"{'FAIL' if why else 'ok  '} {c.name}"
                  f"{': ' + why if why else ' = ' + ' and '.join(w for w, _ in refs)}")
            bad += why is not None
    print(f"{total - bad}/{total} ok" + ("" if not bad else f", {bad} FAILED"))
    return 1 if bad or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
