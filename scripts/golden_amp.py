#!/usr/bin/python3
"""Golden fixture for racnn's bf16 autocast (runtime.precision bf16), run
with Debian's /usr/bin/python3 (torch 1.13) from the repository root:

    /usr/bin/python3 scripts/golden_amp.py

Reads the small RA-CNN and its batch from internal/model/testdata
(golden_model.safetensors, golden_io.safetensors, both written by
scripts/golden_model.py) and writes internal/model/testdata/golden_amp.safetensors:
PyTorch's forward and backward of that model on that batch under

    with torch.autocast("cpu", torch.bfloat16):
        out = model(source, inp)           # racnn_torch.RACNN, crop_fast
    loss = sum(F.cross_entropy(l, labels) for l in out["logits"] + [out["fused"], out["fused12"]])
    loss.backward()

(float32 weights; the crops, boxes, APN output layer and fusion
normalisation in float32 as racnn_torch.py's fp32_region marks them):
the per-scale logits, boxes, crops, fused logits, loss and a few
parameters' gradients, and the same in plain float32 ("fp32." names), so
the test can tell how far bf16 moves the result.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_model as G  # noqa: E402
import racnn_torch as R  # noqa: E402

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "internal", "model", "testdata")
GRADS = ("scale1.features.0.weight", "scale1.apn.fc1.weight", "scale1.apn.fc2.weight", "scale2.apn.fc2.bias",
         "scale2.features.3.weight", "scale3.classifier.weight", "fusion.weight")


def run(model, io, amp):
    model.zero_grad(set_to_none=True)
    if amp:
        with torch.autocast("cpu", torch.bfloat16):
            out = model(io["source"], io["input"])
    else:
        out = model(io["source"], io["input"])
    loss = sum(F.cross_entropy(l, io["labels"]) for l in out["logits"] + [out["fused"], out["fused12"]])
    loss.backward()
    res = {"loss": loss.reshape(1), "fused": out["fused"], "fused12": out["fused12"]}
    for s, l in enumerate(out["logits"]):
        res["logits%d" % (s + 1)] = l
    for s, b in enumerate(out["boxes"]):
        res["boxes%d" % (s + 1)] = b
    for s, c in enumerate(out["crops"]):
        res["crops%d" % (s + 2)] = c
    params = dict(model.named_parameters())
    for name in GRADS:
        res["grad." + name] = params[name].grad.clone()
    for k, v in res.items():
        assert v.dtype == torch.float32, (k, v.dtype)
    return res


def main():
    sd, _ = R.read_safetensors(os.path.join(DIR, "golden_model.safetensors"))
    model = R.RACNN(G.CFG, crop=R.crop_fast)
    model.load_state_dict({k[len("model."):]: v for k, v in sd.items() if k.startswith("model.")})
    io, _ = R.read_safetensors(os.path.join(DIR, "golden_io.safetensors"))
    torch.set_num_threads(1)
    bf16 = run(model, io, True)
    fp32 = run(model, io, False)
    out = dict(bf16)
    out.update({"fp32." + k: v for k, v in fp32.items()})
    for k in ("loss", "logits2", "boxes2", "grad.scale1.apn.fc1.weight"):
        d = (bf16[k] - fp32[k]).abs().max().item() / max(fp32[k].abs().max().item(), 1e-12)
        print("%-28s bf16 vs fp32: max diff %.2e of max |fp32|" % (k, d))
    R.write_safetensors(os.path.join(DIR, "golden_amp.safetensors"),
                        {k: v.detach().contiguous() for k, v in out.items()},
                        {"generator": "scripts/golden_amp.py", "torch": torch.__version__})
    print("golden_amp.safetensors", os.path.getsize(os.path.join(DIR, "golden_amp.safetensors")))


if __name__ == "__main__":
    main()
