#!/usr/bin/python3
"""vmath_fit.py — derive the polynomial coefficients of runtime/vmath.h and print them with
each fit's error (not run by the build; rerun it to change a degree or a range).

Each fit is a weighted least-squares polynomial on a dense grid plus Chebyshev nodes,
reweighted towards the points of largest error (Lawson-style iteration), which brings it
close to the minimax polynomial. The weights make the error relative to the final result:
  exp:  (e^r - 1 - r) / r^2 = P(r),            r in [-ln2/2, ln2/2]
  tanh: (tanh x - x) / x^3 = P(x^2),           x in [0, 0.625]
  erf:  erf(x) / x = P(x^2),                   x in [0, 0.875]
        log(erfc t) + t^2 = Q(t - 2.4),        t in [0.875, 3.93] (error weighted by erfc t,
                                               i.e. absolute in erf = 1 - erfc)
The float64 references are NumPy's expm1 and tanh and Python's math.erf / math.erfc."""
import math

import numpy as np


def fit(fun, var, a, b, deg, weight):
    k = np.arange(4000)
    x = np.concatenate([np.linspace(a, b, 20000),
                        (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / 4000)])
    y, w = fun(x), weight(x)
    v = np.vander(var(x), deg + 1, increasing=True)
    wt = np.ones_like(x)
    for _ in range(60):
        c, *_ = np.linalg.lstsq(v * (w * wt)[:, None], y * w * wt, rcond=None)
        e = np.abs((v @ c - y) * w)
        wt = wt * (1 + e / e.max())**2
        wt /= wt.max()
    return c, np.abs((v @ c - y) * w).max()


def show(name, c, err):
    print(f"{name}: max weighted error {err:.3g}")
    print("   ", ", ".join(f"{np.float32(v)!r}f" for v in c))


def main():
    erf = np.vectorize(math.erf)
    erfc = np.vectorize(math.erfc)
    h = math.log(2) / 2 + 1e-3
    show("EXP_P", *fit(lambda r: (np.expm1(r) - r) / r**2, lambda r: r, -h, h, 4,
                       lambda r: r * r / np.exp(r)))
    show("TANH_P", *fit(lambda x: (np.tanh(x) - x) / x**3, lambda x: x * x, 1e-4, 0.625, 4,
                        lambda x: x**3 / np.tanh(x)))
    show("ERF_P", *fit(lambda x: erf(x) / x, lambda x: x * x, 1e-4, 0.875, 6,
                       lambda x: np.ones_like(x)))
    show("ERF_Q", *fit(lambda t: np.log(erfc(t)) + t * t, lambda t: t - 2.4, 0.875, 3.93, 7,
                       erfc))
    print("LN2_HI (15 significant bits), LN2_LO:", np.float32(0.693145751953125),
          f"{np.float32(math.log(2) - 0.693145751953125)!r}")


if __name__ == "__main__":
    main()
