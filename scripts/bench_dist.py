"""PyTorch side of scripts/bench-dist.sh: the same small CNN as racnn's
internal/torch smallCNN (conv 3x3 8 - relu - maxpool - conv 3x3 16 - relu -
maxpool - linear), SGD with momentum on random batches; with WORLD > 1,
DistributedDataParallel over Gloo. Prints rank 0's mean step time."""
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn


def model(side):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * (side // 4) ** 2, 10))


def worker(rank, world, port, batch, side, steps, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    m = model(side)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
        m = nn.parallel.DistributedDataParallel(m)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    y = torch.zeros(batch, dtype=torch.long)

    def step():
        x = torch.randn(batch, 3, side, side)
        opt.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    if world > 1:
        dist.barrier()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if rank == 0:
        print(f"BENCH step_ms {(time.perf_counter() - t) * 1000 / steps:.3f}", flush=True)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    world, port, batch, side, steps, threads = (int(a) for a in sys.argv[1:7])
    if world == 1:
        worker(0, 1, port, batch, side, steps, threads)
    else:
        mp.spawn(worker, args=(world, port, batch, side, steps, threads), nprocs=world)
