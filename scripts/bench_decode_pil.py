#!/usr/bin/python3
"""Time PIL's JPEG decode of internal/data/testdata/images/photo.jpg, the
reference for BenchmarkDecodeJPEG (go test -bench DecodeJPEG ./internal/data/).

    /usr/bin/python3 scripts/bench_decode_pil.py [path.jpg]

Prints images/s on one core for: Image.open(p).convert("RGB") at full size
(what torchvision's default loader does), and with draft() to 1/2 and 1/4
(libjpeg DCT scaling). Reads the file from memory each time, as the Go
benchmark does.
"""
import io
import os
import sys
import time

from PIL import Image

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "internal", "data",
    "testdata", "images", "photo.jpg")
data = open(path, "rb").read()
w, h = Image.open(io.BytesIO(data)).size


def run(name, draft_div):
    n, t0 = 0, time.perf_counter()
    while True:
        im = Image.open(io.BytesIO(data))
        if draft_div > 1:
            im.draft("RGB", (w // draft_div, h // draft_div))
        im = im.convert("RGB")
        n += 1
        el = time.perf_counter() - t0
        if el > 2.0:
            break
    print(f"PIL {name:8s} {im.size[0]}x{im.size[1]}: {n / el:7.1f} img/s  ({1e3 * el / n:.3f} ms/img)")


print(f"{path}: {w}x{h}, {len(data)} bytes, PIL {Image.__version__}")
run("full", 1)
run("half", 2)
run("quarter", 4)
