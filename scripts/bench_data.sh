#!/usr/bin/env bash
# Benchmarks the training data path — decode a ~500×375 JPEG, resize the
# shorter side to 448 (bilinear, antialiased), random 448 crop, horizontal
# flip, ImageNet normalisation, float32 CHW — in racnn (scripts/benchdata)
# and in PIL + torchvision (Debian's /usr/bin/python3 with python3-pil,
# python3-torchvision; torch.set_num_threads(1)) on the same files, and
# prints images/s for 1 and 2 workers and the ratios. Every figure is the
# best of 3 runs, since the machine may be shared; look at the load average
# printed first.
#
# The files: the colour photographs shipped by Debian's python3-skimage,
# centre-cropped to 4:3 and resized to 500×375, plus their mirror images,
# saved as quality-90 JPEGs in a temporary folder.
#
# Usage: scripts/bench_data.sh [images-per-run (default 400)]
# Needs: apt-get install -y python3-pil python3-torchvision python3-skimage
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-400}"
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$py" - "$tmp" <<'PY'
import os, sys
from PIL import Image, ImageOps
import skimage
src = os.path.join(os.path.dirname(skimage.__file__), "data")
names = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
         "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg"]
k = 0
for name in names:
    path = os.path.join(src, name)
    if not os.path.exists(path):
        continue
    im = ImageOps.fit(Image.open(path).convert("RGB"), (500, 375), Image.BICUBIC)
    for variant in (im, ImageOps.mirror(im)):
        variant.save(os.path.join(sys.argv[1], "photo%02d.jpg" % k), quality=90)
        k += 1
if k == 0:
    sys.exit("no skimage photographs found under " + src)
print("prepared %d JPEGs of 500x375 (quality 90) from %s" % (k, src))
PY

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
cd "$root"
go build -o "$tmp/benchdata" ./scripts/benchdata
"$tmp/benchdata" -dir "$tmp" -n "$n" -workers 1,2 | tee "$tmp/racnn.txt"

"$py" - "$tmp" "$n" <<'PY' | tee "$tmp/pil.txt"
import glob, os, sys, time
import torch
from PIL import Image
import torchvision.transforms as T
from torch.utils.data import DataLoader, Dataset
torch.set_num_threads(1)
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.jpg")))
n = int(sys.argv[2])
tf = T.Compose([T.Resize(448), T.RandomCrop(448), T.RandomHorizontalFlip(), T.ToTensor(),
                T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

def load(p):
    with open(p, "rb") as f:
        return Image.open(f).convert("RGB")  # torchvision's default pil_loader

class DS(Dataset):
    def __len__(self):
        return n
    def __getitem__(self, i):
        return tf(load(files[i % len(files)]))

def rate(loader):
    it = iter(loader)
    next(it)  # start-up excluded, as on the racnn side
    t, k = time.perf_counter(), 0
    for b in it:
        k += b.shape[0]
    return k / (time.perf_counter() - t)

def loop():  # one process, no DataLoader: the per-core figure
    t = time.perf_counter()
    for i in range(1, n):
        tf(load(files[i % len(files)]))
    return (n - 1) / (time.perf_counter() - t)

print("torch %s, PIL %s" % (torch.__version__, Image.__version__))
print("pil loop %.1f img/s" % max(loop() for _ in range(3)))
for w in (0, 1, 2):
    dl = DataLoader(DS(), batch_size=16, shuffle=True, num_workers=w)
    print("pil workers=%d %.1f img/s" % (w, max(rate(dl) for _ in range(3))))
PY

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
FNR == NR && /^racnn loop/     { rl = $3 }
FNR == NR && /^racnn workers=/ { split($2, a, "="); r[a[2]] = $3 }
FNR != NR && /^pil loop/       { pl = $3 }
FNR != NR && /^pil workers=/   { split($2, a, "="); p[a[2]] = $3 }
END {
	printf "\nratio racnn/PIL per core (plain loop, one thread): %.2f  (%.1f vs %.1f img/s)\n", rl / pl, rl, pl
	printf "ratio racnn/PIL, 1 worker:  %.2f  (loader %.1f vs DataLoader num_workers=1 %.1f img/s; num_workers=0: %.1f)\n", r[1] / p[1], r[1], p[1], p[0]
	printf "ratio racnn/PIL, 2 workers: %.2f  (loader %.1f vs DataLoader num_workers=2 %.1f img/s)\n", r[2] / p[2], r[2], p[2]
}' "$tmp/racnn.txt" "$tmp/pil.txt"
