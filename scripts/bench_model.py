#!/usr/bin/python3
"""The PyTorch side of scripts/bench-model.sh: the same RA-CNN
(scripts/racnn_torch.py, crop_fast) and the same steps as
internal/model/bench_test.go, in images per second.

    /usr/bin/python3 scripts/bench_model.py CASE WHAT [--threads 2] [--iters N] [--channels-last 0|1]
        [--device cpu|cuda] [--batch N]

CASE: paper (VGG-19, 448 -> 224 -> 224, batch 2, 200 classes) or demo
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
    "demo": ({"backbone": "small", "small_channels": [32, -1, 64, -1, 128], "num_classes": 10,
              "input_size": [48, 48, 48], "scales": 3, "apn": APN, "apn_hidden": 256,
              "feature_scale": 0.1, "fusion12": True, "channels_last": True}, 64, 128),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=CASES)
    ap.add_argument("what", choices=["forward", "train"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--channels-last", type=int, default=-1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=0, help="override the case's batch size")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    cfg, batch, side = CASES[a.case]
    if a.batch > 0:
        batch = a.batch
    if a.channels_last >= 0:
        cfg["channels_last"] = bool(a.channels_last)
    torch.manual_seed(1)
    model = R.RACNN(cfg, crop=R.crop_fast).to(dev)
    source = torch.rand(batch, 3, side, side, device=dev)
    inp = F.interpolate(source, size=(cfg["input_size"][0],) * 2, mode="bilinear", align_corners=False)
    labels = torch.arange(batch, device=dev) % cfg["num_classes"]
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def step():
        if a.what == "forward":
            model.eval()
            with torch.no_grad():
                model(source, inp)["fused"].sum().item()
            return
        model.train()
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


if __name__ == "__main__":
    main()
