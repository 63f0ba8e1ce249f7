#!/usr/bin/python3
"""Writes internal/torch/testdata/golden_binding.json: PyTorch's results for the
ops and optimisers racnn's binding wraps, on small fixed inputs.

Run with Debian's python3-torch, the same libtorch 1.13 the shim links:

    /usr/bin/python3 scripts/golden_binding.py

internal/torch/golden_test.go replays every case through the Go binding and
compares. Inputs are rounded to 4 decimals so JSON carries them exactly;
outputs are written with repr (17 significant digits, exact round trip).
The Python each case mirrors is the code below; golden_test.go names the
case it replays.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "internal", "torch", "testdata",
                   "golden_binding.json")

torch.manual_seed(20170721)
torch.set_num_threads(1)


def rnd(*shape, lo=-1.0, hi=1.0, dtype=torch.float64):
    x = torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo
    return torch.round(x * 1e4).div(1e4).to(dtype)


def enc(t):
    t = t.detach().cpu().contiguous()
    kind = "int64" if t.dtype == torch.int64 else ("float32" if t.dtype == torch.float32 else "float64")
    return {"dtype": kind, "shape": list(t.shape), "data": t.flatten().tolist()}


cases = []


def case(name, op, inputs, args, outputs):
    cases.append({"name": name, "op": op, "args": args,
                  "inputs": {k: enc(v) for k, v in inputs.items()},
                  "outputs": {k: enc(v) for k, v in outputs.items()}})


# ---- ops (float64 unless noted) ----
x, w, b = rnd(2, 3, 7, 6), rnd(4, 3, 3, 3), rnd(4)
case("conv2d stride (2,1) padding (1,2) bias", "conv2d", {"x": x, "w": w, "b": b},
     {"stride": [2, 1], "padding": [1, 2], "dilation": [1, 1], "groups": 1},
     {"out": F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2))})
x, w = rnd(1, 4, 6, 6), rnd(4, 2, 3, 3)
case("conv2d groups 2 dilation 2 no bias", "conv2d", {"x": x, "w": w},
     {"stride": [1, 1], "padding": [2, 2], "dilation": [2, 2], "groups": 2},
     {"out": F.conv2d(x, w, None, padding=2, dilation=2, groups=2)})
x32, w32, b32 = rnd(1, 3, 5, 5, dtype=torch.float32), rnd(2, 3, 3, 3, dtype=torch.float32), rnd(2, dtype=torch.float32)
case("conv2d float32", "conv2d", {"x": x32, "w": w32, "b": b32},
     {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1},
     {"out": F.conv2d(x32, w32, b32, padding=1)})

x = rnd(1, 2, 7, 7)
case("max_pool2d k3 s2 p1 ceil", "max_pool2d", {"x": x}, {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil": True},
     {"out": F.max_pool2d(x, 3, 2, 1, ceil_mode=True)})
case("max_pool2d k2 default stride", "max_pool2d", {"x": x}, {"kernel": [2, 2], "stride": [0, 0], "padding": [0, 0], "ceil": False},
     {"out": F.max_pool2d(x, 2)})
case("avg_pool2d k3 s2 p1", "avg_pool2d", {"x": x}, {"kernel": [3, 3], "stride": [2, 2], "padding": [1, 1], "ceil": False},
     {"out": F.avg_pool2d(x, 3, 2, 1)})
case("adaptive_avg_pool2d 7x7 to 3x2", "adaptive_avg_pool2d", {"x": x}, {"size": [3, 2]},
     {"out": F.adaptive_avg_pool2d(x, (3, 2))})

x = rnd(1, 2, 4, 5)
for size, ac, aa in [((7, 9), False, False), ((3, 2), False, False), ((7, 9), True, False), ((3, 2), False, True)]:
    case(f"interpolate bilinear {size} align_corners={ac} antialias={aa}", "interpolate",
         {"x": x}, {"size": list(size), "align_corners": ac, "antialias": aa},
         {"out": F.interpolate(x, size=size, mode="bilinear", align_corners=ac, antialias=aa)})

theta = rnd(2, 2, 3, lo=-0.8, hi=0.8)
x = rnd(2, 2, 6, 7)
for ac in (False, True):
    grid = F.affine_grid(theta, [2, 2, 5, 4], align_corners=ac)
    case(f"affine_grid align_corners={ac}", "affine_grid", {"theta": theta}, {"size": [2, 2, 5, 4], "align_corners": ac},
         {"out": grid})
grid = rnd(2, 3, 4, 2, lo=-1.2, hi=1.2)
for mode, pad in [("bilinear", "zeros"), ("nearest", "border"), ("bilinear", "reflection"), ("bilinear", "border")]:
    case(f"grid_sample {mode} {pad}", "grid_sample", {"x": x, "grid": grid},
         {"mode": mode, "padding": pad, "align_corners": False},
         {"out": F.grid_sample(x, grid, mode=mode, padding_mode=pad, align_corners=False)})
grid = F.affine_grid(theta, [2, 2, 5, 4], align_corners=False)
case("affine_grid + grid_sample (crop and zoom)", "affine_grid_sample", {"x": x, "theta": theta},
     {"size": [2, 2, 5, 4]},
     {"out": F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)})

logits, target = rnd(5, 4, lo=-3, hi=3), torch.tensor([0, 3, 1, 1, 2])
for red in ("mean", "sum", "none"):
    case(f"cross_entropy {red}", "cross_entropy", {"logits": logits, "target": target}, {"reduction": red, "label_smoothing": 0.0},
         {"out": F.cross_entropy(logits, target, reduction=red)})
case("cross_entropy label_smoothing 0.1", "cross_entropy", {"logits": logits, "target": target},
     {"reduction": "mean", "label_smoothing": 0.1},
     {"out": F.cross_entropy(logits, target, label_smoothing=0.1)})
case("log_softmax + nll_loss", "log_softmax_nll", {"logits": logits, "target": target}, {},
     {"logp": F.log_softmax(logits, 1), "softmax": F.softmax(logits, 1),
      "nll": F.nll_loss(F.log_softmax(logits, 1), target)})

x = rnd(3, 4, 2)
case("normalize p2 dim1", "normalize", {"x": x}, {"p": 2.0, "dim": 1, "eps": 1e-12}, {"out": F.normalize(x, 2.0, 1)})
case("normalize p1 dim2", "normalize", {"x": x}, {"p": 1.0, "dim": 2, "eps": 1e-12}, {"out": F.normalize(x, 1.0, 2)})

x, wt, bs = rnd(4, 3, 2, 2, lo=-2, hi=3), rnd(3, lo=0.5, hi=1.5), rnd(3)
rm, rv = rnd(3), rnd(3, lo=0.5, hi=2)
rm1, rv1 = rm.clone(), rv.clone()
out = F.batch_norm(x, rm1, rv1, wt, bs, training=True, momentum=0.1, eps=1e-5)
case("batch_norm train", "batch_norm", {"x": x, "weight": wt, "bias": bs, "running_mean": rm, "running_var": rv},
     {"train": True, "momentum": 0.1, "eps": 1e-5}, {"out": out, "running_mean": rm1, "running_var": rv1})
rm2, rv2 = rm.clone(), rv.clone()
case("batch_norm eval", "batch_norm", {"x": x, "weight": wt, "bias": bs, "running_mean": rm, "running_var": rv},
     {"train": False, "momentum": 0.1, "eps": 1e-5},
     {"out": F.batch_norm(x, rm2, rv2, wt, bs, training=False, eps=1e-5), "running_mean": rm2, "running_var": rv2})

x = rnd(3, 6)
for largest in (True, False):
    v, i = torch.topk(x, 3, dim=1, largest=largest)
    case(f"topk k3 largest={largest}", "topk", {"x": x}, {"k": 3, "dim": 1, "largest": largest}, {"values": v, "indices": i})

x, w, b = rnd(3, 4), rnd(5, 4), rnd(5)
case("linear", "linear", {"x": x, "w": w, "b": b}, {}, {"out": F.linear(x, w, b)})
case("matmul", "matmul", {"a": x, "b": w.t().contiguous()}, {}, {"out": x @ w.t()})


# ---- optimiser trajectories ----
# A tiny regression, float32: two groups with different LR and weight decay.
# "extra" gets a grad only on steps 2, 4 and 5 (1-based): before step 1 it has
# none (no state is created), on step 3 zero_grad(set_to_none=True) leaves it
# None, so it is skipped and keeps its state.
#
#   y = linear(tanh(linear(x, w1, b1)), w2) [+ extra]
#   loss = (y - target).square().mean()
OPT_STEPS = 5
EXTRA_STEPS = {2, 4, 5}
ox, otarget = rnd(4, 3, dtype=torch.float32), rnd(4, 2, dtype=torch.float32)
init = {"w1": rnd(3, 3, dtype=torch.float32), "b1": rnd(3, dtype=torch.float32),
        "w2": rnd(2, 3, dtype=torch.float32), "extra": rnd(2, dtype=torch.float32)}


def opt_loss(p, step):
    y = F.linear(F.linear(ox, p["w1"], p["b1"]).tanh(), p["w2"])
    if step in EXTRA_STEPS:
        y = y + p["extra"]
    return (y - otarget).square().mean()


OPTIMS = [
    ("sgd momentum dampening", "sgd", {"momentum": 0.9, "dampening": 0.1, "nesterov": False}, (0.1, 0.05), (0.03, 0.0)),
    ("sgd nesterov", "sgd", {"momentum": 0.8, "dampening": 0.0, "nesterov": True}, (0.1, 0.01), (0.05, 0.02)),
    ("sgd plain weight decay", "sgd", {"momentum": 0.0, "dampening": 0.0, "nesterov": False}, (0.2, 0.1), (0.05, 0.0)),
    ("adam", "adam", {"betas": [0.9, 0.999], "eps": 1e-8, "amsgrad": False}, (0.05, 0.01), (0.02, 0.0)),
    ("adam amsgrad", "adam", {"betas": [0.8, 0.99], "eps": 1e-6, "amsgrad": True}, (0.05, 0.0), (0.02, 0.1)),
    ("adamw", "adamw", {"betas": [0.9, 0.999], "eps": 1e-8, "amsgrad": False}, (0.05, 0.01), (0.02, 0.2)),
    ("adamw amsgrad", "adamw", {"betas": [0.9, 0.95], "eps": 1e-8, "amsgrad": True}, (0.03, 0.05), (0.01, 0.0)),
]
optims = []
for name, kind, cfg, (lra, wda), (lrb, wdb) in OPTIMS:
    p = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    groups = [{"params": [p["w1"], p["b1"]], "lr": lra, "weight_decay": wda},
              {"params": [p["w2"], p["extra"]], "lr": lrb, "weight_decay": wdb}]
    if kind == "sgd":
        opt = torch.optim.SGD(groups, lr=lra, momentum=cfg["momentum"], dampening=cfg["dampening"],
                              nesterov=cfg["nesterov"], foreach=False)
    else:
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        opt = cls(groups, lr=lra, betas=tuple(cfg["betas"]), eps=cfg["eps"], amsgrad=cfg["amsgrad"], foreach=False)
    traj, losses = [], []
    for step in range(1, OPT_STEPS + 1):
        opt.zero_grad(set_to_none=True)
        loss = opt_loss(p, step)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        traj.append({k: v.detach().flatten().tolist() for k, v in p.items()})
    optims.append({"name": name, "kind": kind, "config": cfg,
                   "groups": [{"lr": lra, "weight_decay": wda}, {"lr": lrb, "weight_decay": wdb}],
                   "losses": losses, "params": traj})

doc = {
    "generator": "scripts/golden_binding.py",
    "torch_version": torch.__version__,
    "cases": cases,
    "optim": {"x": enc(ox), "target": enc(otarget), "init": {k: enc(v) for k, v in init.items()},
              "extra_steps": sorted(EXTRA_STEPS), "runs": optims},
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")

# A dict saved by torch.save, for LoadTensors' interoperability test.
pt = os.path.join(os.path.dirname(OUT), "torch_save_dict.pt")
torch.save({"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.tensor([7, -1], dtype=torch.int64)}, pt)
print(f"wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes, {len(cases)} op cases, {len(optims)} optimiser runs)"
      f" and {os.path.relpath(pt)} ({os.path.getsize(pt)} bytes)", file=sys.stderr)
