#!/usr/bin/python3
"""Writes internal/data/transform/testdata/pil_resize.json: Pillow's bilinear
resize of a small random image for a few output sizes and source windows.
transform.View.Render must agree with it (TestMatchesPillow).

Run with Debian's python3 (python3-pil):  /usr/bin/python3 scripts/gen_resize_golden.py
The Pillow call each case mirrors is
    Image.fromarray(pix).resize((w, h), Image.BILINEAR, box=box)
"""
import json, os
import numpy as np
from PIL import Image

rng = np.random.default_rng(1)
W, H = 37, 23
pix = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
img = Image.fromarray(pix)
cases = []
for w, h, box in [
    (80, 50, (0, 0, W, H)),        # upscale
    (9, 6, (0, 0, W, H)),          # downscale about 4x (antialias)
    (16, 16, (3.5, 2.25, 30.5, 20)),  # a window, downscale
    (50, 41, (5, 1, 25, 21)),      # a window, upscale
    (30, 19, (0, 0, W, H)),        # slight downscale
]:
    out = np.asarray(img.resize((w, h), Image.BILINEAR, box=box))
    cases.append({"w": w, "h": h, "box": list(box), "out": out.reshape(-1).tolist()})
path = os.path.join(os.path.dirname(__file__), "..", "internal", "data", "transform", "testdata", "pil_resize.json")
with open(path, "w") as f:
    json.dump({"w": W, "h": H, "pix": pix.reshape(-1).tolist(), "cases": cases}, f)
print("wrote", os.path.normpath(path))
