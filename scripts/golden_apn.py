#!/usr/bin/python3
"""Golden fixtures for internal/apn (Crop) and internal/loss (Rank, CE).

Run with Debian's Python, which has python3-torch (libtorch 1.13); the
python3 on PATH may be another interpreter without it:

    /usr/bin/python3 scripts/golden_apn.py            # writes the fixtures
    /usr/bin/python3 scripts/golden_apn.py --bench 2  # crop timing (2 threads), for
                                                      # comparison with BenchmarkCrop

It writes internal/apn/testdata/golden_crop.json and
internal/loss/testdata/golden_rank.json (float64 values, row-major, a few
tens of KB). The crop below is an independent PyTorch implementation of the
contract in internal/apn/crop.go: the grid comes from F.affine_grid (Go
builds it from 1-D vectors) and the mask is evaluated on the full sampled
grid in pixels (Go: separable, in units of the shorter side).
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def crop(src, boxes, out_h, out_w, k, mode, padding):
    """Box region of src, masked by the boxcar, zoomed to out_h x out_w.

    boxes [N, 3] = (t_x, t_y, t_l): fractions of W, H and of S = min(W, H).
    mode "boxcar": the sampling grid is built from boxes.detach(), so the box
    gradient flows only through the mask; "grid": through both.
    """
    n, c, h, w = src.shape
    s = min(h, w)
    gb = boxes.detach() if mode == "boxcar" else boxes
    tx, ty, tl = gb[:, 0], gb[:, 1], gb[:, 2]
    zero = torch.zeros_like(tx)
    # x_sample = t_x W + t_l S a, a in (-1, 1) at output pixel centres;
    # grid = 2 x / W - 1 = (2 t_x - 1) + (2 t_l S / W) a
    theta = torch.stack([
        torch.stack([2 * tl * s / w, zero, 2 * tx - 1], 1),
        torch.stack([zero, 2 * tl * s / h, 2 * ty - 1], 1),
    ], 1)
    grid = F.affine_grid(theta, (n, c, out_h, out_w), align_corners=False)
    sampled = F.grid_sample(src, grid, mode="bilinear", padding_mode=padding, align_corners=False)

    x = (grid[..., 0] + 1) * w / 2  # sampled points, pixels, [N, oh, ow]
    y = (grid[..., 1] + 1) * h / 2
    mx, my, ml = (boxes[:, i, None, None] for i in range(3))
    x_tl, x_br = mx * w - ml * s, mx * w + ml * s
    y_tl, y_br = my * h - ml * s, my * h + ml * s

    def hh(z):
        return torch.sigmoid(k * z / s)

    m = (hh(x - x_tl) - hh(x - x_br)) * (hh(y - y_tl) - hh(y - y_br))
    return sampled * m[:, None]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def crop_case(name, shape, boxes, out_hw, k, mode, padding):
    src = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(boxes, dtype=torch.float64, requires_grad=True)
    out = crop(src, b, out_hw[0], out_hw[1], k, mode, padding)
    r = torch.randn(out.shape, dtype=torch.float64)
    (out * r).sum().backward()
    return {
        "name": name, "mode": mode, "padding": padding, "k": k,
        "src_shape": list(shape), "src": flat(src), "boxes": flat(b),
        "out_h": out_hw[0], "out_w": out_hw[1], "out": flat(out),
        "weights": flat(r), "grad_src": flat(src.grad), "grad_boxes": flat(b.grad),
    }


def rank(coarse, fine, labels, margin):
    pc = F.softmax(coarse, 1).gather(1, labels[:, None])[:, 0]
    pf = F.softmax(fine, 1).gather(1, labels[:, None])[:, 0]
    return torch.clamp(pc - pf + margin, min=0).mean(), pc


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print(path, os.path.getsize(path), "bytes")


def fixtures():
    torch.manual_seed(20170721)
    inside = [[0.42, 0.55, 0.31], [0.63, 0.38, 0.2]]
    leaving = [[0.9, 0.2, 0.3], [0.15, 0.7, 0.45]]  # partly outside the image
    cases = [
        crop_case("boxcar-border", (2, 2, 6, 9), inside, (4, 5), 20.0, "boxcar", "border"),
        crop_case("grid-border", (2, 2, 6, 9), inside, (4, 5), 20.0, "grid", "border"),
        crop_case("boxcar-zeros-leaving", (2, 2, 9, 6), leaving, (5, 4), 50.0, "boxcar", "zeros"),
        crop_case("grid-zeros-leaving", (2, 2, 9, 6), leaving, (5, 4), 50.0, "grid", "zeros"),
        crop_case("boxcar-square-k60", (2, 1, 8, 8), inside, (6, 6), 60.0, "boxcar", "border"),
    ]
    write(os.path.join(ROOT, "internal/apn/testdata/golden_crop.json"), {"cases": cases})

    n, classes = 6, 5
    coarse = (torch.randn(n, classes, dtype=torch.float64) * 2).requires_grad_()
    fine = (torch.randn(n, classes, dtype=torch.float64) * 2).requires_grad_()
    labels = torch.randint(0, classes, (n,))
    margin = 0.05
    loss, pc = rank(coarse, fine, labels, margin)
    loss.backward()
    ce_logits = coarse.detach().clone().requires_grad_()
    ce = F.cross_entropy(ce_logits, labels)
    ce.backward()
    write(os.path.join(ROOT, "internal/loss/testdata/golden_rank.json"), {
        "n": n, "classes": classes, "margin": margin,
        "coarse": flat(coarse), "fine": flat(fine), "labels": [int(v) for v in labels],
        "rank": float(loss), "grad_coarse": flat(coarse.grad), "grad_fine": flat(fine.grad),
        "p_coarse": flat(pc), "ce": float(ce), "grad_ce": flat(ce_logits.grad),
    })


def crop_separable(src, boxes, out_h, out_w, k, mode, padding):
    """The same crop with the op sequence of internal/apn/crop.go (1-D
    sampling vectors, separable mask), for timing like with like."""
    n, c, h, w = src.shape
    s = min(h, w)
    sw, sh = s / w, s / h
    gb = boxes.detach() if mode == "boxcar" else boxes
    opts = dict(dtype=src.dtype, device=src.device)
    ax = (torch.arange(0, out_w, **opts) * (2 / out_w) + (1 / out_w - 1))[None]
    ay = (torch.arange(0, out_h, **opts) * (2 / out_h) + (1 / out_h - 1))[None]
    px = gb[:, 0:1] / sw + gb[:, 2:3] * ax
    py = gb[:, 1:2] / sh + gb[:, 2:3] * ay
    grid = torch.stack([(px * (2 * sw) - 1)[:, None, :].expand(n, out_h, out_w),
                        (py * (2 * sh) - 1)[:, :, None].expand(n, out_h, out_w)], 3)
    sampled = F.grid_sample(src, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    ml = boxes[:, 2:3]

    def mask1(p, centre):
        d = p - centre
        return torch.sigmoid((d + ml) * k) - torch.sigmoid((d - ml) * k)

    m = mask1(py, boxes[:, 1:2] / sh)[:, :, None] * mask1(px, boxes[:, 0:1] / sw)[:, None, :]
    return sampled * m[:, None]


def bench(threads=2, reps=30):
    """Median time per call; the implementations are interleaved so that
    load from other processes hits them alike."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    src = torch.rand(2, 3, 448, 448)
    impls = {"separable (Go's ops)": crop_separable, "affine_grid + full mask": crop}
    runs = {}
    for mode in ("boxcar", "grid"):
        for backward in (False, True):
            for name, fn in impls.items():
                runs[(mode, backward, name)] = []

    def step(fn, mode, backward):
        b = torch.tensor([[0.4, 0.55, 0.25], [0.6, 0.45, 0.3]], requires_grad=backward)
        with torch.set_grad_enabled(backward):
            out = fn(src, b, 224, 224, 300.0, mode, "border")
            if backward:
                out.sum().backward()

    for rep in range(reps + 3):
        for (mode, backward, name), times in runs.items():
            t0 = time.perf_counter()
            step(impls[name], mode, backward)
            if rep >= 3:
                times.append(time.perf_counter() - t0)
    for (mode, backward, name), times in runs.items():
        times.sort()
        print(f"pytorch {torch.__version__} threads={threads} crop N=2 3x448x448->224x224 mode={mode} "
              f"{'fwd+bwd' if backward else 'fwd(no_grad)'} [{name}]: median {times[len(times) // 2] * 1e3:.3f} ms, "
              f"min {times[0] * 1e3:.3f} ms")


if __name__ == "__main__":
    if "--bench" in sys.argv:
        i = sys.argv.index("--bench")
        bench(threads=int(sys.argv[i + 1]) if len(sys.argv) > i + 1 else 2)
    else:
        fixtures()
