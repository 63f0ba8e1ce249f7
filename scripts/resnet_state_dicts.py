#!/usr/bin/python3
"""Writes a real torchvision resnet50 state dict with random weights, in the
formats ImageNet weights come in, for internal/model's
TestImportRealTorchvisionResNet50 (never committed: ~100 MB each).

    /usr/bin/python3 scripts/resnet_state_dicts.py OUTDIR

OUTDIR/resnet50.pth          torch.save(torchvision.models.resnet50().state_dict()) (zip)
OUTDIR/resnet50_legacy.pth   the same in torch.save's legacy format, without the
                             num_batches_tracked counters, as torchvision's
                             original ImageNet files (saved before PyTorch had them)
OUTDIR/resnet50_timm.safetensors
                             the same keys as a safetensors file, as timm's
                             model.safetensors of resnet50.tv_in1k / a1_in1k
                             (timm's ResNet keys are torchvision's, fc included)
OUTDIR/resnet50_check.safetensors
    x        [1, 3, 64, 64] input
    features conv1 ... layer4 of the model on x, batch norms in eval mode
"""

import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import racnn_torch as R  # noqa: E402


def main(out):
    torch.manual_seed(50)
    m = torchvision.models.resnet50()
    with torch.no_grad():  # running statistics that differ from the init's
        for name, b in m.named_buffers():
            if name.endswith("running_mean"):
                b.uniform_(-0.1, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
            elif name.endswith("num_batches_tracked"):
                b.fill_(1234)
    sd = m.state_dict()
    torch.save(sd, os.path.join(out, "resnet50.pth"))
    old = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    torch.save(old, os.path.join(out, "resnet50_legacy.pth"), _use_new_zipfile_serialization=False)
    R.write_safetensors(os.path.join(out, "resnet50_timm.safetensors"), sd, {"format": "pt"})
    x = torch.rand(1, 3, 64, 64)
    m.eval()
    with torch.no_grad():
        f = R.features("resnet50")
        f.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fc.")})
        f.eval()
        check = {"x": x, "features": f(x)}
    R.write_safetensors(os.path.join(out, "resnet50_check.safetensors"), check)


if __name__ == "__main__":
    main(sys.argv[1])
