#!/usr/bin/python3
"""Writes real torchvision VGG state dicts with random weights for
internal/model's TestImportRealTorchvisionVGG19 (never committed: ~1.1 GB).

    /usr/bin/python3 scripts/vgg_state_dicts.py OUTDIR

OUTDIR/vgg19.pth   torch.save(torchvision.models.vgg19().state_dict())
OUTDIR/vgg16.pth   the same for vgg16
OUTDIR/vgg19_check.safetensors
    x        [1, 3, 32, 32] input
    features vgg19.features[:-1](x) (conv5_4 + ReLU, no final max-pool)
    sum.<key> the sum of every features.* tensor of vgg19.pth
"""

import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import racnn_torch as R  # noqa: E402


def main(out):
    torch.manual_seed(19)
    m = torchvision.models.vgg19()
    torch.save(m.state_dict(), os.path.join(out, "vgg19.pth"))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        f = m.features[:-1](x)
    check = {"x": x, "features": f}
    for k, v in m.state_dict().items():
        if k.startswith("features."):
            check["sum." + k] = v.double().sum().float().reshape(1)
    R.write_safetensors(os.path.join(out, "vgg19_check.safetensors"), check)
    del m
    torch.save(torchvision.models.vgg16().state_dict(), os.path.join(out, "vgg16.pth"))


if __name__ == "__main__":
    main(sys.argv[1])
