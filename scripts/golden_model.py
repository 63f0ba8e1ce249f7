#!/usr/bin/python3
"""Golden fixtures for internal/model (run with Debian's /usr/bin/python3,
torch 1.13, from the repository root):

    /usr/bin/python3 scripts/golden_model.py

Writes internal/model/testdata/:

- golden_model.safetensors: a racnn checkpoint (internal/checkpoint's
  format: the weights under "model.", the run config as YAML, the class
  names and a schedule position in the metadata) of a small 3-scale RA-CNN
  with random weights, built by scripts/racnn_torch.py (PyTorch modules,
  torchvision-style names);
- golden_io.safetensors: a batch of 2 (a 48x64 source, its 32x32 scale-1
  input, labels); the crops of scales 2 and 3 (the same in both modes);
  and for both crop modes ("boxcar", "grid") PyTorch's per-scale logits,
  boxes, fused logits and the gradients of the sum of the cross-entropies
  (3 scales + fusion + fusion12) with respect to APN parameters (where the
  two modes differ) and scale 2's first conv;
- torchvision_vgg_keys.json: torchvision's features.* keys and shapes of
  vgg16, vgg19, vgg16_bn, vgg19_bn (what the Go backbones must register).

The reference runs in float64 on the float32 weights and inputs, so the Go
model (float32) is compared against an exact-to-float64 answer. Its crop is
crop_reference: interpolation matrices, not grid_sample.
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import racnn_torch as R  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "internal", "model", "testdata")

APN = {"Mode": "boxcar", "K": 300.0, "MinHalf": 0.1, "MaxHalf": 0.5, "Inside": True,
       "Padding": "border", "InitHalf": 0.25}
CFG = {"backbone": "small", "small_channels": [8, -1, 16, -1, 16], "num_classes": 5,
       "input_size": [32, 24, 24], "scales": 3, "apn": APN, "apn_hidden": 32,
       "feature_scale": 0.1, "fusion12": True, "channels_last": False}

# CFG as the run config a checkpoint carries (config.Config's YAML keys;
# every key it leaves out keeps racnn's default, and fusion12 follows from
# three scales).
CONFIG_YAML = """model:
  backbone: small
  small_channels: [8, -1, 16, -1, 16]
  num_classes: 5
  scales: 3
  input_sizes: [32, 24, 24]
  feature_scale: 0.1
  channels_last: false
  apn:
    hidden: 32
    head: fc
    pool: 2
    mode: boxcar
    k: 300
    min_half: 0.1
    max_half: 0.5
    inside: true
    pretrain_half: 0.25
"""
CHECKPOINT_META = {
    "racnn.format": "racnn-checkpoint-1",
    "racnn.config": CONFIG_YAML,
    "racnn.classes": json.dumps([str(i) for i in range(CFG["num_classes"])]),
    "racnn.state": json.dumps({"phase": 0, "epoch": 0, "batch": 0, "step": 0, "best": -1, "best_step": 0, "done": False}),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20170721)
    model = R.RACNN(CFG, crop=R.crop_reference)
    # Random weights large enough that every APN proposes a different box
    # per sample (an untrained head would propose the same centred box).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("apn.fc2.weight"):
                p.normal_(0, 1.0)
            elif name.endswith("apn.fc1.weight"):
                p.normal_(0, 3.0 / p.shape[1] ** 0.5)
            elif name.endswith(".bias"):
                p.uniform_(-0.2, 0.2)
            elif "classifier" in name or "fusion" in name:
                p.normal_(0, 1.0)
    sd = {"model." + k: v.float() for k, v in model.state_dict().items()}
    R.write_safetensors(os.path.join(OUT, "golden_model.safetensors"), sd, CHECKPOINT_META)

    # Two different images: noise, and noise over a bright disc off-centre,
    # so the APNs propose different boxes for them.
    source = torch.rand(2, 3, 48, 64)
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(64.0), indexing="ij")
    disc = (((yy - 34) ** 2 + (xx - 16) ** 2) < 100).float()
    source[1] = 0.3 * source[1] + 0.7 * disc
    inp = torch.nn.functional.interpolate(source, size=(32, 32), mode="bilinear", align_corners=False)
    labels = torch.tensor([1, 3])
    io = {"source": source, "input": inp.float(), "labels": labels}

    model = model.double()
    for mode in ("boxcar", "grid"):
        APN["Mode"] = mode
        model.zero_grad()
        out = model(source.double(), inp.double())
        for s, l in enumerate(out["logits"]):
            io["%s.logits%d" % (mode, s + 1)] = l
        for s, b in enumerate(out["boxes"]):
            io["%s.boxes%d" % (mode, s + 1)] = b
        if mode == "boxcar":  # the forward pass is the same in both modes
            for s, c in enumerate(out["crops"]):
                io["crops%d" % (s + 2)] = c
        io[mode + ".fused"] = out["fused"]
        io[mode + ".fused12"] = out["fused12"]
        loss = sum(torch.nn.functional.cross_entropy(l, labels)
                   for l in out["logits"] + [out["fused"], out["fused12"]])
        loss.backward()
        io[mode + ".loss"] = loss.reshape(1)
        params = dict(model.named_parameters())
        for name in ("scale1.apn.fc1.bias", "scale1.apn.fc2.weight", "scale1.apn.fc2.bias",
                     "scale2.apn.fc2.weight", "scale2.apn.fc2.bias", "scale2.features.0.weight"):
            io["%s.grad.%s" % (mode, name)] = params[name].grad.clone()
        # The independent crop agrees with grid_sample's.
        b = out["boxes"][0]
        fast = R.crop_fast(source.double(), b, 24, 24, APN)
        assert torch.allclose(fast, out["crops"][0], atol=1e-9), (fast - out["crops"][0]).abs().max()
        print(mode, "boxes", [b.detach().numpy().round(3).tolist() for b in out["boxes"]], "loss", loss.item())
    io = {k: (v.detach().float() if v.dtype == torch.float64 else v) for k, v in io.items()}
    R.write_safetensors(os.path.join(OUT, "golden_io.safetensors"), io)

    keys = {}
    for name in ("vgg16", "vgg19", "vgg16_bn", "vgg19_bn"):
        f = R.features(name)
        keys[name] = [["features." + k, list(v.shape)] for k, v in f.state_dict().items()]
    with open(os.path.join(OUT, "torchvision_vgg_keys.json"), "w") as fh:
        json.dump(keys, fh, indent=0)
        fh.write("\n")
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))


if __name__ == "__main__":
    main()
