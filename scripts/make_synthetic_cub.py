#!/usr/bin/env python3
"""Writes a synthetic data set in the CUB-200-2011 layout (images/,
images.txt, image_class_labels.txt, train_test_split.txt,
bounding_boxes.txt, classes.txt) with CUB's image sizes, for timing the
paper configuration end to end (JPEG decoding, 448-px VGG-19 at three
scales) where the real data set is not at hand, such as a GPU machine with
no network. The pictures are not birds and the accuracies mean nothing: each
class is a coloured ellipse, its box the annotation, on a noisy background.

    python3 scripts/make_synthetic_cub.py OUT [--classes 200] [--per-class 5] [--seed 1]

Of each class's images, the first 60 % (at least one) are train.
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--per-class", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    root = os.path.join(a.out, "CUB_200_2011")
    images, labels, split, boxes, classes = [], [], [], [], []
    n_train = max(1, int(0.6 * a.per_class))
    for c in range(a.classes):
        name = "%03d.Synthetic_%d" % (c + 1, c + 1)
        classes.append("%d %s" % (c + 1, name))
        os.makedirs(os.path.join(root, "images", name), exist_ok=True)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        for i in range(a.per_class):
            w, h = (500, 375) if rng.random() < 0.7 else (375, 500)  # CUB's common sizes
            img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            bw, bh = int(rng.integers(w // 4, w // 2)), int(rng.integers(h // 4, h // 2))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            ImageDraw.Draw(img).ellipse([x, y, x + bw, y + bh], fill=colour)
            rel = "%s/Synthetic_%04d.jpg" % (name, i)
            img.save(os.path.join(root, "images", rel), quality=90)
            idx = len(images) + 1
            images.append("%d %s" % (idx, rel))
            labels.append("%d %d" % (idx, c + 1))
            split.append("%d %d" % (idx, 1 if i < n_train else 0))
            boxes.append("%d %.1f %.1f %.1f %.1f" % (idx, x, y, bw, bh))
    for fname, lines in [("images.txt", images), ("image_class_labels.txt", labels),
                         ("train_test_split.txt", split), ("bounding_boxes.txt", boxes), ("classes.txt", classes)]:
        with open(os.path.join(root, fname), "w") as f:
            f.write("\n".join(lines) + "\n")
    print("wrote %d images of %d classes to %s" % (len(images), a.classes, root))


if __name__ == "__main__":
    main()
