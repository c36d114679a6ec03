#!/usr/bin/python3
"""check_export_checks.py WORKDIR — what isb_annotate.export tells a user about a model it
cannot annotate faithfully (docs/annotations.md):
- no threshold anywhere (export(threshold=...) nor isb.branch(threshold=...)): a warning,
  since every threshold is then 0 and the compiled model runs densely;
- Python control flow on tensor data before a branch (`if x.sum() > 0:`, `.item()`): an
  error naming the line and the branch, since tracing keeps only the example's path;
- control flow on shapes or on parameters, or on data after the last branch: no error."""
import os
import sys
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import isb_annotate as isb  # noqa: E402


class Net(nn.Module):
    """Two branches; `cond` chooses what Python control flow the forward has."""

    def __init__(self, cond, thr=None):
        super().__init__()
        self.cond, self.thr = cond, thr
        self.sel = nn.Linear(4, 2)
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        g = isb.gate("g", torch.softmax(self.sel(x), -1))
        out = x + isb.branch("a", g, 0, g[:, 0:1] * self.a(x), threshold=self.thr)
        take = True
        if self.cond == "data_if":
            take = bool(x.sum() > 0)  # LINE_DATA_IF
        elif self.cond == "data_item":
            take = self.a(x).mean().item() > -1e9  # LINE_DATA_ITEM
        elif self.cond == "shape_if":
            take = x.shape[0] > 0
        elif self.cond == "param_if":
            take = bool(self.b.weight.sum() < 1e9)
        if take:
            out = out + isb.branch("b", g, 1, g[:, 1:2] * self.b(x))
        if self.cond == "data_after" and out.sum() > 0:
            out = out * 1
        return out


def line_of(tag):
    for i, line in enumerate(open(__file__), 1):
        if tag in line and "def line_of" not in line and "line_of(" not in line:
            return i
    raise AssertionError(tag)


def export(net, path, **kw):
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        isb.export(net.eval(), torch.ones(2, 4), path, input_names=["x"], output_names=["y"],
                   dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, **kw)
    return [str(w.message) for w in caught if "isb.export" in str(w.message)]


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "export_checks.onnx")
    failures = []

    def check(what, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}")
        if not ok:
            failures.append(what)

    torch.manual_seed(0)
    w = export(Net("none"), path)
    check("no threshold: warned", any("no threshold given" in m for m in w), repr(w))
    w = export(Net("none"), path, threshold=0.2)
    check("export(threshold=0.2): no warning", not w, repr(w))
    w = export(Net("none", thr=0.3), path)
    check("a branch with its own threshold: no warning", not w, repr(w))

    for cond, tag in (("data_if", "LINE_DATA_IF"), ("data_item", "LINE_DATA_ITEM")):
        try:
            export(Net(cond), path, threshold=0.2)
            check(f"{cond}: rejected", False, "exported without an error")
        except ValueError as e:
            msg = str(e)
            where = f"{os.path.abspath(__file__)}:{line_of(tag)}"
            check(f"{cond}: rejected at its line, naming branch 'b'",
                  where in msg and "branch 'b'" in msg and "on tensor data" in msg, msg)
    for cond in ("shape_if", "param_if", "data_after"):
        try:
            w = export(Net(cond), path, threshold=0.2)
            check(f"{cond}: exported", True)
        except ValueError as e:
            check(f"{cond}: exported", False, str(e))
    print("FAILED" if failures else "all ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
