#!/usr/bin/python3
"""The PyTorch side of scripts/bench-binding.sh: the training step of
internal/torch/bench (same network, batch, optimiser, loss and timing), in
Debian's python3-torch, the libtorch the shim links. Prints key=value pairs.

    /usr/bin/python3 scripts/bench_binding.py --threads 2 --channels-last
    /usr/bin/python3 scripts/bench_binding.py --calls
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

PLAN = [64, 64, 0, 128, 128, 0, 256, 0]  # 0: 2x2 max pool


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--calls", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads if not a.calls else 1)
    if a.calls:
        return time_calls()
    dev = torch.device(a.device)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    torch.manual_seed(0)
    convs, params, cin = [], [], 3
    for c in PLAN:
        if c == 0:
            continue
        w = (torch.randn(c, cin, 3, 3, device=dev) * math.sqrt(2 / (cin * 9))).contiguous(memory_format=fmt)
        w.requires_grad_(True)
        b = torch.zeros(c, device=dev, requires_grad=True)
        convs.append((w, b))
        params += [w, b]
        cin = c
    fw = (torch.randn(10, cin, device=dev) * math.sqrt(1 / cin)).requires_grad_(True)
    fb = torch.zeros(10, device=dev, requires_grad=True)
    params += [fw, fb]

    def forward(x):
        k = 0
        for c in PLAN:
            if c == 0:
                x = F.max_pool2d(x, 2, 2)
                continue
            x = F.conv2d(x, convs[k][0], convs[k][1], padding=1).relu()
            k += 1
        return F.linear(x.mean((2, 3)), fw, fb)

    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=False)
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev).contiguous(memory_format=fmt)
    y = (torch.arange(a.batch) % 10).to(dev)
    times = []
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(x), y)
        loss.backward()
        opt.step()
        lv = loss.item()  # waits for the device
        if s >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(f"side=pytorch device={a.device} threads={a.threads} num_threads={torch.get_num_threads()} "
          f"channels_last={'true' if a.channels_last else 'false'} batch={a.batch} size={a.size} steps={a.steps} "
          f"median_ms={times[len(times) // 2]:.2f} mean_ms={sum(times) / len(times):.2f} min_ms={times[0]:.2f} loss={lv:.4f}")


def time_calls():
    n = 200000
    x = torch.ones(1)

    def per(f):
        f()
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        return (time.perf_counter() - t0) / n * 1e9

    print(f"side=pytorch noop_call_ns={per(lambda: None):.1f} add_scalar_ns={per(lambda: x.add(1.0)):.1f} "
          f"numel_ns={per(x.numel):.1f}")


if __name__ == "__main__":
    main()
