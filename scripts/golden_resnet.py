#!/usr/bin/python3
"""Golden fixture for internal/model's ResNet tests (run with Debian's
/usr/bin/python3, torch/torchvision 1.13, from the repository root):

    /usr/bin/python3 scripts/golden_resnet.py

Writes internal/model/testdata/golden_resnet.safetensors (~1 MB): the
model config in its metadata (racnn.model), and

- source [2, 3, 72, 96], input [2, 3, 64, 64] (scale 1's), labels [2];
- features.train / features.eval: scale 1's torchvision resnet50 backbone
  (conv1 ... layer4) on input, batch norms on batch / running statistics;
  features.train_f32_error: how far PyTorch's own float32 pass is from
  features.train, relative to its largest element (batch statistics over
  the 2x2 maps of a batch of 2 amplify rounding);
- the whole 3-scale RA-CNN with ResNet-50 backbones (scripts/racnn_torch.py,
  crop_reference, batch norms on running statistics, as in the phases that
  freeze a backbone and with model.freeze_bn): logits1-3, boxes1-2,
  crops2-3, fused, fused12, the loss (sum of the cross-entropies of the
  scales and both fusions) and its gradients with respect to the tensors
  named grad.<parameter>.

Everything runs in float64 on float32 weights. ResNet-50's random weights
(three backbones, ~300 MB) are not stored: both sides compute each
parameter from its name with hash_fill below, which internal/model's
golden_resnet_test.go implements the same way bit for bit.
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import racnn_torch as R  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "internal", "model", "testdata")

APN = {"Mode": "boxcar", "K": 300.0, "MinHalf": 0.3, "MaxHalf": 0.5, "Inside": True,
       "Padding": "border", "InitHalf": 0.35}
CFG = {"backbone": "resnet50", "num_classes": 5, "input_size": [64, 64, 64], "scales": 3,
       "apn": APN, "apn_hidden": 32, "feature_scale": 0.1, "fusion12": True, "channels_last": True}

GRADS = ("scale1.apn.fc1.weight", "scale1.apn.fc2.bias", "scale2.apn.fc2.weight",
         "scale1.features.conv1.weight", "scale1.features.layer4.2.bn3.weight",
         "scale2.features.conv1.weight", "scale2.features.layer1.0.downsample.0.weight",
         "scale2.features.layer3.5.bn2.weight", "scale3.features.layer2.0.bn1.bias",
         "scale3.classifier.weight")

M64 = (1 << 64) - 1


def fnv1a(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def uniform(name, n):
    """n values in [0, 1): splitmix64 of fnv1a(name) + i, top 53 bits."""
    with np.errstate(over="ignore"):
        x = np.arange(n, dtype=np.uint64) + np.uint64(fnv1a(name))
        x = x * np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def hash_fill(name, shape):
    """The parameter's value: float64 arithmetic rounded once to float32."""
    n = int(np.prod(shape)) if shape else 1
    if name.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.int64)
    u = uniform(name, n)
    v = 2 * u - 1
    if name.endswith("running_var"):
        a = 1 + 0.5 * u
    elif name.endswith("running_mean") or name.endswith(".bias"):
        a = 0.1 * v
    elif name.endswith("bn3.weight"):  # small residual branches: the running-statistics pass stays at unit scale
        a = 0.2 * (1 + 0.2 * v)
    elif len(shape) == 1:  # batch-norm weight
        a = 1 + 0.2 * v
    elif ".apn.fc1." in name:
        a = v * 3 * np.sqrt(3.0 / shape[1])
    elif ".apn." in name or "classifier" in name or "fusion" in name:
        a = v * np.sqrt(3.0)  # unit variance: every APN proposes a different box per sample
    else:  # convolutions: kaiming-uniform (fan in, relu)
        a = v * np.sqrt(6.0 / (n // shape[0]))
    return torch.from_numpy(a.astype(np.float32).reshape(shape))


def main():
    torch.manual_seed(50)
    model = R.RACNN(CFG, crop=R.crop_reference)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            t.copy_(hash_fill(name, list(t.shape)))

    # Smooth images (waves, and a soft-edged disc off-centre in the second),
    # so that float32 rounding of a box moves its crop by little: on noise
    # PyTorch's own float32 pass was 1e-4 from float64 in the crops.
    yy, xx = torch.meshgrid(torch.arange(72.0), torch.arange(96.0), indexing="ij")
    ch = torch.arange(3.0)[:, None, None]
    waves = 0.5 + 0.25 * torch.sin(xx / 9 + ch) * torch.cos(yy / 7 - 2 * ch)
    disc = torch.sigmoid(15 - ((yy - 50) ** 2 + (xx - 24) ** 2).sqrt())
    source = torch.stack([waves, 0.3 * waves + 0.7 * disc])
    inp = torch.nn.functional.interpolate(source, size=(64, 64), mode="bilinear", align_corners=False)
    labels = torch.tensor([1, 3])
    io = {"source": source, "input": inp.float(), "labels": labels}

    f = model.scale1.features
    with torch.no_grad():
        saved = {k: v.clone() for k, v in f.state_dict().items()}
        f32 = f(inp).double()
        f.load_state_dict(saved)
    model = model.double()
    with torch.no_grad():
        f.eval()
        io["features.eval"] = f(inp.double())
        f.train()
        saved = {k: v.clone() for k, v in f.state_dict().items()}
        io["features.train"] = f(inp.double())
        f.load_state_dict(saved)  # the batch-statistics pass moved the running ones
        ref = io["features.train"]
        io["features.train_f32_error"] = ((f32 - ref).abs().max() / ref.abs().max()).reshape(1)

    model.eval()
    out = model(source.double(), inp.double())
    for s, l in enumerate(out["logits"]):
        io["logits%d" % (s + 1)] = l
    for s, b in enumerate(out["boxes"]):
        io["boxes%d" % (s + 1)] = b
    for s, c in enumerate(out["crops"]):
        io["crops%d" % (s + 2)] = c
    io["fused"], io["fused12"] = out["fused"], out["fused12"]
    loss = sum(torch.nn.functional.cross_entropy(l, labels)
               for l in out["logits"] + [out["fused"], out["fused12"]])
    loss.backward()
    io["loss"] = loss.reshape(1)
    params = dict(model.named_parameters())
    for name in GRADS:
        io["grad." + name] = params[name].grad
    print("boxes", [b.detach().numpy().round(3).tolist() for b in out["boxes"]], "loss", loss.item())
    io = {k: (v.detach().float() if v.dtype == torch.float64 else v) for k, v in io.items()}
    meta = {"racnn.model": json.dumps(CFG), "racnn.grads": ",".join(GRADS)}
    path = os.path.join(OUT, "golden_resnet.safetensors")
    R.write_safetensors(path, io, meta)
    print(path, os.path.getsize(path))


if __name__ == "__main__":
    main()
