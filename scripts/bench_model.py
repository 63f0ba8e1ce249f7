#!/usr/bin/python3
"""The PyTorch side of scripts/bench-model.sh: the same RA-CNN
(scripts/racnn_torch.py, crop_fast) and the same steps as
internal/model/bench_test.go, in images per second.

    /usr/bin/python3 scripts/bench_model.py CASE WHAT [--threads 2] [--iters N] [--channels-last 0|1]
        [--device cpu|cuda] [--batch N] [--sizes S1,S2,S3] [--precision fp32|tf32|bf16|fp16]
    /usr/bin/python3 scripts/bench_model.py CASE flops

--precision: fp32 (TF32 off), tf32 (fp32 with TF32 matmuls and
convolutions), bf16 or fp16: the forward pass under torch.autocast (the
mirror keeps racnn's float32 regions: crops, boxes, fusion normalisation),
TF32 on for what stays float32, as racnn's runtime.tf32 default; the
losses outside autocast on float32 logits. cuDNN autotuning is on, as
racnn's runtime.cudnn_benchmark default.

"flops" prints the multiply-adds x 2 of one image's forward pass, counted
from the shapes of every convolution and linear layer of the model (hooks
on a batch-1 forward pass): "CASE flops FORWARD_FLOPS_PER_IMAGE".

CASE: paper (VGG-19, 448 -> 224 -> 224, batch 2, 200 classes), resnet50
(the same on torchvision ResNet-50 backbones) or demo
(small VGG-style net [32, M, 64, M, 128], 128-px source, 48-px scales, batch
64, 10 classes). WHAT: forward (no grad, eval) or train (forward in train
mode, sum of the cross-entropies of every classifier, backward through every
parameter). One warm-up step, then N timed steps; on cuda each step ends
with torch.cuda.synchronize(), as the Go benchmark's does. Prints one line:
"CASE WHAT IMG_PER_S", and on cuda the peak of torch.cuda.max_memory_allocated
after it.
"""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import racnn_torch as R  # noqa: E402

APN = {"Mode": "boxcar", "K": 300.0, "MinHalf": 0.1, "MaxHalf": 0.5, "Inside": True,
       "Padding": "border", "InitHalf": 0.25}
CASES = {
    "paper": ({"backbone": "vgg19", "num_classes": 200, "input_size": [448, 224, 224], "scales": 3,
               "apn": APN, "apn_hidden": 1024, "feature_scale": 0.1, "fusion12": True,
               "channels_last": True}, 2, 448),
    "resnet50": ({"backbone": "resnet50", "num_classes": 200, "input_size": [448, 224, 224], "scales": 3,
                  "apn": APN, "apn_hidden": 1024, "feature_scale": 0.1, "fusion12": True,
                  "channels_last": True}, 2, 448),
    "demo": ({"backbone": "small", "small_channels": [32, -1, 64, -1, 128], "num_classes": 10,
              "input_size": [48, 48, 48], "scales": 3, "apn": APN, "apn_hidden": 256,
              "feature_scale": 0.1, "fusion12": True, "channels_last": True}, 64, 128),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=CASES)
    ap.add_argument("what", choices=["forward", "train", "flops"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--channels-last", type=int, default=-1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=0, help="override the case's batch size")
    ap.add_argument("--sizes", default="", help="override the input sides, S1,S2,S3 (S1 also the source's)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16", "fp16"])
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    cfg, batch, side = CASES[a.case]
    if a.batch > 0:
        batch = a.batch
    if a.sizes:
        cfg = dict(cfg, input_size=[int(v) for v in a.sizes.split(",")])
        if len(cfg["input_size"]) != 3 or min(cfg["input_size"]) < 1:
            sys.exit("--sizes %s: want three positive sides, e.g. 224,112,112" % a.sizes)
        side = cfg["input_size"][0]
    if a.channels_last >= 0:
        cfg["channels_last"] = bool(a.channels_last)
    torch.manual_seed(1)
    model = R.RACNN(cfg, crop=R.crop_fast).to(dev)
    if a.what == "flops":
        print("%s flops %.0f" % (a.case, forward_flops(model, cfg, side)))
        return
    tf32 = a.precision != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)

    def autocast():
        return torch.autocast(dev.type, dtype=low, enabled=low is not None)
    source = torch.rand(batch, 3, side, side, device=dev)
    inp = F.interpolate(source, size=(cfg["input_size"][0],) * 2, mode="bilinear", align_corners=False)
    labels = torch.arange(batch, device=dev) % cfg["num_classes"]
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def step():
        if a.what == "forward":
            model.eval()
            with torch.no_grad(), autocast():
                model(source, inp)["fused"].sum().item()
            return
        model.train()
        with autocast():
            out = model(source, inp)
        loss = sum(F.cross_entropy(l, labels) for l in out["logits"] + [out["fused"], out["fused12"]])
        loss.backward()
        model.zero_grad(set_to_none=True)
        sync()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(a.iters):
        step()
    dt = time.perf_counter() - t
    line = "%s %s %.3f" % (a.case, a.what, a.iters * batch / dt)
    if dev.type == "cuda":
        line += " peak_alloc_MiB %.0f" % (torch.cuda.max_memory_allocated() / 2**20)
    print(line)


def forward_flops(model, cfg, side):
    """2 x the multiply-adds of the convolutions and linear layers of one
    image's forward pass (everything else is well under 1 %)."""
    total = [0]

    def conv(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        total[0] += 2 * k * out.shape[1] * out.shape[2] * out.shape[3]

    def linear(m, inp, out):
        total[0] += 2 * m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear))
    src = torch.rand(1, 3, side, side)
    inp = F.interpolate(src, size=(cfg["input_size"][0],) * 2, mode="bilinear", align_corners=False)
    with torch.no_grad():
        model.cpu().eval()(src, inp)
    for h in hooks:
        h.remove()
    return total[0]


if __name__ == "__main__":
    main()
