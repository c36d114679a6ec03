#!/usr/bin/python3
"""make_input.py — an ImageNet-style input tensor for the example, as .npy [N,3,224,224].

Without --ppm it first draws a fixed picture (a disc and stripes on a gradient, seed 0)
and writes it as a binary PPM (P6); then, like any image, it is decoded with numpy,
resized (shorter side 256, nearest), center-cropped to 224x224, scaled to [0,1] and
normalised with the ImageNet mean/std. --ppm FILE uses your own P6 image instead."""
import argparse
import sys

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def draw(h=240, w=320, seed=0):
    """A fixed RGB test picture, uint8 [h, w, 3]."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w, y / h, 1 - x / w], axis=-1) * 180
    disc = (x - 0.6 * w) ** 2 + (y - 0.5 * h) ** 2 < (0.25 * h) ** 2
    img[disc] = [230, 140, 20]
    img[((x.astype(int) // 16) % 2 == 0) & (y < h / 4)] *= 0.5
    img += np.random.default_rng(seed).normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_ppm(path, img):
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (img.shape[1], img.shape[0]))
        f.write(img.tobytes())


def read_ppm(path):
    """Decode a binary PPM (P6, maxval < 256) into uint8 [h, w, 3]."""
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or int(fields[3]) > 255:
        raise SystemExit(f"make_input.py: {path}: not an 8-bit binary PPM (P6)")
    w, h = int(fields[1]), int(fields[2])
    pixels = np.frombuffer(data, np.uint8, h * w * 3, pos + 1)
    return pixels.reshape(h, w, 3)


def preprocess(img, size=224, resize=256):
    h, w, _ = img.shape
    s = resize / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    img = img[(np.arange(nh) / s).astype(int).clip(0, h - 1)][:, (np.arange(nw) / s).astype(int).clip(0, w - 1)]
    t, l = (nh - size) // 2, (nw - size) // 2
    img = img[t:t + size, l:l + size].astype(np.float32) / 255
    return ((img - MEAN) / STD).transpose(2, 0, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="input.npy")
    ap.add_argument("--ppm", help="decode this P6 image instead of drawing one")
    ap.add_argument("--save-ppm", default="sample.ppm", help="where to write the drawn picture")
    ap.add_argument("--batch", type=int, default=1, help="instances (mirror images alternate)")
    args = ap.parse_args()
    path = args.ppm
    if path is None:
        write_ppm(args.save_ppm, draw())
        path = args.save_ppm
    x = preprocess(read_ppm(path))
    batch = np.stack([x if n % 2 == 0 else x[:, :, ::-1] for n in range(args.batch)])
    np.save(args.output, np.ascontiguousarray(batch, dtype=np.float32))
    print(f"wrote {args.output} {list(batch.shape)} from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
