#!/usr/bin/python3
"""Write the small weight-import fixtures of internal/weights/testdata.

Run with Debian's Python, which has python3-torch and python3-torchvision
(libtorch 1.13); the python3 on PATH may be another interpreter without them:

    /usr/bin/python3 scripts/make_weight_fixtures.py

Every tensor holds fixed values (no random numbers), and golden.json records
each one exactly (dtype, shape, row-major values), so the Go tests compare
bit for bit. The files, all a few KB:

  tiny.pth             torch.save(sd) in the zip format (torch >= 1.6), with
                       record prefix "archive/" (saved through a buffer, like
                       torch >= 2 always does); sd is a real module state_dict
                       (an OrderedDict carrying _metadata) plus extra tensors:
                       several dtypes and non-contiguous views
  tiny_legacy.pth      the same dict in the legacy (pre-1.6) format (its
                       storage keys are memory addresses, so this file
                       differs on every run; its content does not)
  tiny.safetensors     a safetensors file written by hand with struct + json
                       following the format's spec (Debian has no
                       python3-safetensors): tensors sorted by descending
                       dtype alignment then name, compact JSON, header padded
                       with spaces to 8 bytes, __metadata__ first
  list.pth             torch.save of a list (a torch file, not a state dict)
  module.pth           torch.save of a whole nn.Module (not a state dict)
  checkpoint.pth       {"model": state_dict, "epoch": 3}: a training
                       checkpoint, not a bare state dict
  not_torch.zip        a zip archive that torch did not write

and, for internal/model's VGG backbone (internal/model/testdata):

  vgg_keys.json        for each torchvision VGG (vgg11 ... vgg19_bn), the
                       features.* and classifier.* keys of its state_dict
                       with shapes and dtypes, in order
"""

import collections
import io
import json
import os
import struct
import zipfile

import torch
import torch.nn as nn
import torchvision

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                   "internal", "weights", "testdata")
MODEL_OUT = os.path.join(OUT, "..", "..", "model", "testdata")

DTYPE_NAMES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def tiny_state_dict():
    m = nn.Sequential(nn.Conv2d(2, 3, kernel_size=2), nn.BatchNorm2d(3))
    with torch.no_grad():
        m[0].weight.copy_(torch.arange(24, dtype=torch.float32).reshape(3, 2, 2, 2) * 0.125 - 1.5)
        m[0].bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        m[1].weight.copy_(torch.tensor([1.0, 2.0, 4.0]))
        m[1].bias.copy_(torch.tensor([-1.0, 0.0, 1.0 / 3.0]))
        m[1].running_mean.copy_(torch.tensor([0.25, 0.5, 0.75]))
        m[1].running_var.copy_(torch.tensor([1.5, 2.5, 3.5]))
        m[1].num_batches_tracked.fill_(7)
    sd = m.state_dict()  # an OrderedDict with a _metadata attribute
    assert isinstance(sd, collections.OrderedDict) and hasattr(sd, "_metadata")

    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8
    sd["extra.transposed"] = base.t()          # shape (4, 3), stride (1, 4)
    sd["extra.slice"] = base[1:, 1:3]          # offset 5, stride (4, 1); same storage
    sd["extra.expanded"] = torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)  # stride (0, 1)
    sd["extra.permuted"] = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4).permute(2, 0, 1)
    sd["extra.f64"] = torch.tensor([1.0 / 3.0, -2.5, 1e-300], dtype=torch.float64)
    sd["extra.f16"] = torch.tensor([0.5, -1.25, 65504.0, 6e-8], dtype=torch.float16)
    sd["extra.bf16"] = torch.tensor([1.0, -3.140625, 1e30], dtype=torch.bfloat16)
    sd["extra.i64"] = torch.tensor([[1, -2], [2 ** 40, -2 ** 62]], dtype=torch.int64)
    sd["extra.i32"] = torch.tensor([7, -8], dtype=torch.int32)
    sd["extra.u8"] = torch.tensor([0, 255, 3], dtype=torch.uint8)
    assert not sd["extra.transposed"].is_contiguous()
    assert sd["extra.slice"].storage_offset() == 5
    return sd


def golden(sd):
    out = collections.OrderedDict()
    for k, t in sd.items():
        flat = t.contiguous().reshape(-1)
        if t.dtype in (torch.float16, torch.bfloat16):
            flat = flat.float()
        out[k] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                  "values": flat.tolist()}
    return out


# Descending alignment, as the reference writer's Dtype enum order
# (BOOL < U8 < I8 < I16 < U16 < F16 < BF16 < I32 < U32 < F32 < F64 < I64 < U64).
ST_RANK = {"BOOL": 0, "U8": 1, "I8": 2, "I16": 3, "U16": 4, "F16": 5,
           "BF16": 6, "I32": 7, "U32": 8, "F32": 9, "F64": 10, "I64": 11,
           "U64": 12}


def write_safetensors(path, tensors, metadata):
    """Spec-following writer: 8-byte LE header size, JSON header, raw data."""
    items = sorted(tensors.items(), key=lambda kv: (-ST_RANK[DTYPE_NAMES[kv[1].dtype]], kv[0]))
    header = collections.OrderedDict()
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    blobs, offset = [], 0
    for name, t in items:
        t = t.contiguous()
        # bytes of the tensor in native (little-endian) order
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = collections.OrderedDict(
            [("dtype", DTYPE_NAMES[t.dtype]), ("shape", list(t.shape)),
             ("data_offsets", [offset, offset + len(raw)])])
        blobs.append(raw)
        offset += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def safetensors_tensors():
    d = collections.OrderedDict()
    d["conv.weight"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1
    d["conv.bias"] = torch.tensor([0.1, -0.2], dtype=torch.float32)
    d["double"] = torch.tensor([[1.0 / 3.0], [-1e200]], dtype=torch.float64)
    d["count"] = torch.tensor(42, dtype=torch.int64)  # a 0-dim scalar
    d["long"] = torch.tensor([-(2 ** 63), 2 ** 63 - 1, 0], dtype=torch.int64)
    d["half"] = torch.tensor([0.5, -2.0, 0.099975586], dtype=torch.float16)
    d["brain"] = torch.tensor([1.0, -0.5, 3e38], dtype=torch.bfloat16)
    d["int"] = torch.tensor([[1, -1], [2 ** 31 - 1, -(2 ** 31)]], dtype=torch.int32)
    d["bytes"] = torch.tensor([0, 1, 254, 255], dtype=torch.uint8)
    d["empty"] = torch.zeros(0, 3, dtype=torch.float32)
    return d


def save_zip(obj, path):
    # Saving through a buffer names the records archive/..., as torch >= 2
    # does for every file; saving to a path (the vgg19 test does) uses the
    # file's stem instead. The loader accepts both.
    buf = io.BytesIO()
    torch.save(obj, buf)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)  # module.pth and checkpoint.pth hold initialised layers
    sd = tiny_state_dict()
    save_zip(sd, os.path.join(OUT, "tiny.pth"))
    torch.save(sd, os.path.join(OUT, "tiny_legacy.pth"), _use_new_zipfile_serialization=False)

    st = safetensors_tensors()
    meta = {"format": "pt", "racnn.format_version": "1", "racnn.config": "model:\n  backbone: vgg19\n"}
    write_safetensors(os.path.join(OUT, "tiny.safetensors"), st, meta)

    save_zip([torch.ones(2)], os.path.join(OUT, "list.pth"))
    save_zip(nn.Linear(2, 2), os.path.join(OUT, "module.pth"))
    small = nn.Linear(2, 1).state_dict()
    save_zip({"model": small, "epoch": 3}, os.path.join(OUT, "checkpoint.pth"))
    with zipfile.ZipFile(os.path.join(OUT, "not_torch.zip"), "w") as z:
        z.writestr(zipfile.ZipInfo("hello.txt", date_time=(2020, 1, 1, 0, 0, 0)), "not a torch file\n")

    vgg = collections.OrderedDict()
    for name in ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]:
        m = getattr(torchvision.models, name)()
        vgg[name] = [[k, list(t.shape), DTYPE_NAMES[t.dtype]] for k, t in m.state_dict().items()]
    with open(os.path.join(MODEL_OUT, "vgg_keys.json"), "w") as f:
        f.write("{\n" + ",\n".join(json.dumps(k) + ": " + json.dumps(v, separators=(",", ":"))
                                    for k, v in vgg.items()) + "\n}\n")

    g = collections.OrderedDict()
    g["pth"] = golden(sd)
    g["pth_metadata_keys"] = list(sd._metadata.keys())
    g["safetensors"] = golden(st)
    g["safetensors_metadata"] = meta
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(g, f, indent=1)
        f.write("\n")
    print("wrote fixtures to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
