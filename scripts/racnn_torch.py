"""RA-CNN in plain PyTorch: the reference racnn's Go model is checked and
benchmarked against (scripts/golden_model.py, scripts/bench_model.py).

Run with Debian's /usr/bin/python3 (python3-torch / python3-torchvision 1.13).

It is written from the contracts in internal/apn and internal/model (their
doc comments), not translated from the Go code:

- backbones: torchvision.models.vgg16/vgg19(_bn)().features without the final
  max-pool, a VGG-style nn.Sequential for the small backbone, or
  torchvision.models.resnet50/101()'s conv1, bn1, relu, maxpool, layer1..4
  (no avgpool, no fc), so the state_dict keys are torchvision's under
  "scaleK.features.";
- each scale: backbone -> global average pool x feature_scale -> Linear
  ("scaleK.classifier"); scales 1 and 2 (when a finer one follows) carry an
  APN ("scaleK.apn.fc1/fc2"): 2x2 max-pool -> flatten -> FC -> tanh -> FC 3 ->
  sigmoid -> box;
- boxes (t_x, t_y, t_l) are fractions of the image's width, height and
  shorter side S; the head maps its sigmoids u to
  t_l = min + (max - min) u_l and, when boxes must stay inside, the centre to
  [half-width, 1 - half-width] linearly in u;
- crops always sample the SOURCE image; the scale-2 box is composed into a
  source box through the scale-1 box;
- fusion: L2-normalised pooled features concatenated -> Linear ("fusion",
  and "fusion12" over scales 1 and 2).

Mixed precision (under torch.autocast, as racnn's runtime.precision bf16 /
fp16): the box arithmetic, the crops, the APN's last layer and the fusion's
L2 normalisation run with autocast off in float32 (fp32_region, full), and
the logits and features come out float32, as internal/model and
internal/apn compute them (docs/precision.md).

Two crops: crop_reference (explicit separable bilinear weights as
interpolation matrices, for the golden test: it shares no code path with
grid_sample) and crop_fast (affine grid + grid_sample, for the benchmark).
"""

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

POOL = -1


def features(backbone, small_channels=None):
    """The backbone's nn.Sequential, indices as torchvision's VGG.features."""
    base, bn = (backbone[:-3], True) if backbone.endswith("_bn") else (backbone, False)
    if base in ("resnet50", "resnet101"):
        import torchvision

        r = getattr(torchvision.models, backbone)()
        return nn.Sequential(OrderedDict((n, getattr(r, n)) for n in
                                         ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")))
    if base in ("vgg16", "vgg19"):
        import torchvision

        f = getattr(torchvision.models, backbone)().features
        assert isinstance(f[-1], nn.MaxPool2d)
        return f[:-1]  # cut after the last conv block's ReLU
    assert base == "small", backbone
    layers, c = [], 3
    for v in small_channels:
        if v == POOL:
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(c, v, 3, padding=1))
        if bn:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        c = v
    return nn.Sequential(*layers)


def feature_size(seq, size):
    """The side of the backbone's map for a square input of side size."""
    if hasattr(seq, "layer4"):  # ResNet: stem conv, max-pool, layer2-4 halve, rounding up
        for _ in range(5):
            size = (size - 1) // 2 + 1
        return size
    return size >> sum(isinstance(m, nn.MaxPool2d) for m in seq)


def out_channels(seq):
    return [m for m in seq.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


def full(t):
    """t in float32 if autocast made it bf16 or fp16, else t as it is
    (float64 in the golden tests)."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def fp32_region(t):
    """Autocast off on t's device type: ops run in their inputs' dtype."""
    return torch.autocast(t.device.type, enabled=False)


def box_from_unit(u, feat_w, feat_h, apn):
    """Sigmoids u [N,3] = (x, y, size) -> boxes (t_x, t_y, t_l)."""
    half = apn["MinHalf"] + (apn["MaxHalf"] - apn["MinHalf"]) * u[:, 2]
    tx, ty = u[:, 0], u[:, 1]
    if apn["Inside"]:
        s = min(feat_w, feat_h)
        hw = half * s / feat_w  # half-width as a fraction of the width
        hh = half * s / feat_h
        tx = hw + (1 - 2 * hw) * tx
        ty = hh + (1 - 2 * hh) * ty
    return torch.stack([tx, ty, half], 1)


def compose(outer, inner, src_w, src_h):
    """A box relative to the square crop of `outer` -> relative to the source."""
    s = min(src_w, src_h)
    side = 2 * outer[:, 2] * s  # crop side in source pixels
    x0 = outer[:, 0] * src_w - outer[:, 2] * s  # crop's left edge, pixels
    y0 = outer[:, 1] * src_h - outer[:, 2] * s
    cx = x0 + inner[:, 0] * side
    cy = y0 + inner[:, 1] * side
    half = inner[:, 2] * side  # inner's shorter side is the crop side
    return torch.stack([cx / src_w, cy / src_h, half / s], 1)


def _interp_matrix(pos, size):
    """[N, out] sample positions in pixels (pixel c spans [c, c+1)) -> [N, out,
    size] bilinear weights, edge pixels repeated outside (border padding)."""
    u = pos - 0.5
    i0 = torch.floor(u)
    w1 = u - i0  # differentiable in pos
    i0 = i0.long()
    m = torch.zeros(pos.shape + (size,), dtype=pos.dtype, device=pos.device)
    m = m.scatter_add(2, i0.clamp(0, size - 1).unsqueeze(2), (1 - w1).unsqueeze(2))
    m = m.scatter_add(2, (i0 + 1).clamp(0, size - 1).unsqueeze(2), w1.unsqueeze(2))
    return m


def _boxcar(pos, lo, hi, k_px):
    return torch.sigmoid(k_px * (pos - lo[:, None])) - torch.sigmoid(k_px * (pos - hi[:, None]))


def crop_reference(src, boxes, out_h, out_w, apn):
    """Boxcar-masked crop + bilinear zoom, written out with interpolation
    matrices. The grid follows the boxes (detached in boxcar mode); the mask
    h(z) = sigmoid(K z / S) is evaluated at the sample points."""
    n, c, h, w = src.shape
    s = min(h, w)
    g = boxes.detach() if apn["Mode"] == "boxcar" else boxes
    side = 2 * g[:, 2] * s
    jx = (torch.arange(out_w, dtype=src.dtype, device=src.device) + 0.5) / out_w
    iy = (torch.arange(out_h, dtype=src.dtype, device=src.device) + 0.5) / out_h
    xs = (g[:, 0] * w - g[:, 2] * s)[:, None] + side[:, None] * jx[None]  # [N, out_w] pixels
    ys = (g[:, 1] * h - g[:, 2] * s)[:, None] + side[:, None] * iy[None]
    assert apn.get("Padding", "border") in ("", "border")
    rx, ry = _interp_matrix(xs, w), _interp_matrix(ys, h)
    out = torch.einsum("nih,nchw,njw->ncij", ry, src, rx)
    k_px = apn["K"] / s
    x_lo, x_hi = boxes[:, 0] * w - boxes[:, 2] * s, boxes[:, 0] * w + boxes[:, 2] * s
    y_lo, y_hi = boxes[:, 1] * h - boxes[:, 2] * s, boxes[:, 1] * h + boxes[:, 2] * s
    mx = _boxcar(xs, x_lo, x_hi, k_px)
    my = _boxcar(ys, y_lo, y_hi, k_px)
    return out * my[:, None, :, None] * mx[:, None, None, :]


def crop_fast(src, boxes, out_h, out_w, apn):
    """The same crop with affine_grid + grid_sample (for benchmarks)."""
    n, c, h, w = src.shape
    s = min(h, w)
    g = boxes.detach() if apn["Mode"] == "boxcar" else boxes
    zero = torch.zeros_like(g[:, 0])
    ax, ay = 2 * g[:, 2] * s / w, 2 * g[:, 2] * s / h  # half-side in grid units
    theta = torch.stack([torch.stack([ax, zero, 2 * g[:, 0] - 1], 1),
                         torch.stack([zero, ay, 2 * g[:, 1] - 1], 1)], 1)
    grid = F.affine_grid(theta, (n, c, out_h, out_w), align_corners=False)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
    xs = (grid[:, 0, :, 0] + 1) * w / 2  # pixels
    ys = (grid[:, :, 0, 1] + 1) * h / 2
    k_px = apn["K"] / s
    x_lo, x_hi = boxes[:, 0] * w - boxes[:, 2] * s, boxes[:, 0] * w + boxes[:, 2] * s
    y_lo, y_hi = boxes[:, 1] * h - boxes[:, 2] * s, boxes[:, 1] * h + boxes[:, 2] * s
    return out * _boxcar(ys, y_lo, y_hi, k_px)[:, None, :, None] * _boxcar(xs, x_lo, x_hi, k_px)[:, None, None, :]


class APN(nn.Module):
    def __init__(self, c, fh, fw, hidden, apn):
        super().__init__()
        self.fc1 = nn.Linear(c * (fh // 2) * (fw // 2), hidden)
        self.fc2 = nn.Linear(hidden, 3)
        self.fh, self.fw, self.apn = fh, fw, apn

    def forward(self, f):
        a = torch.tanh(self.fc1(torch.flatten(F.max_pool2d(f, 2), 1)))
        with fp32_region(a):
            u = torch.sigmoid(self.fc2(full(a)))
            return box_from_unit(u, self.fw, self.fh, self.apn)


class Scale(nn.Module):
    def __init__(self, cfg, s, with_apn):
        super().__init__()
        self.features = features(cfg["backbone"], cfg.get("small_channels"))
        c = out_channels(self.features)
        self.classifier = nn.Linear(c, cfg["num_classes"])
        self.size = cfg["input_size"][s]
        if with_apn:
            f = feature_size(self.features, self.size)
            self.apn = APN(c, f, f, cfg["apn_hidden"], cfg["apn"])


class RACNN(nn.Module):
    """cfg: the model config as racnn writes it in checkpoint metadata."""

    def __init__(self, cfg, crop=crop_fast):
        super().__init__()
        self.cfg, self.crop = cfg, crop
        n = cfg["scales"]
        for s in range(n):
            setattr(self, "scale%d" % (s + 1), Scale(cfg, s, s + 1 < n))
        c = out_channels(self.scale1.features)
        if n > 1:
            self.fusion = nn.Linear(n * c, cfg["num_classes"])
        if n == 3 and cfg.get("fusion12"):
            self.fusion12 = nn.Linear(2 * c, cfg["num_classes"])

    def forward(self, source, inp):
        cfg = self.cfg
        logits, feats, boxes, crops = [], [], [], []
        x, box = inp, None
        for s in range(cfg["scales"]):
            sc = getattr(self, "scale%d" % (s + 1))
            if s > 0:
                with fp32_region(source):
                    x = self.crop(full(source), box.to(full(source).dtype), sc.size, sc.size, cfg["apn"])
                crops.append(x)
            if cfg.get("channels_last"):
                x = x.contiguous(memory_format=torch.channels_last)
            f = sc.features(x)
            feat = f.mean((2, 3)) * cfg["feature_scale"]
            feats.append(full(feat))
            logits.append(full(sc.classifier(feat)))
            if hasattr(sc, "apn"):
                b = sc.apn(f)
                with fp32_region(b):
                    box = b if box is None else compose(box, b, source.shape[3], source.shape[2])
                boxes.append(box)
        out = {"logits": logits, "boxes": boxes, "features": feats, "crops": crops}

        def fuse(fs):
            with fp32_region(fs[0]):
                return torch.cat([F.normalize(f.detach(), dim=1) for f in fs], 1)

        if hasattr(self, "fusion"):
            out["fused"] = full(self.fusion(fuse(feats)))
        if hasattr(self, "fusion12"):
            out["fused12"] = full(self.fusion12(fuse(feats[:2])))
        return out


def write_safetensors(path, tensors, meta=None):
    """A minimal safetensors writer (Debian has no python3-safetensors)."""
    import json
    import struct

    dt = {torch.float32: "F32", torch.int64: "I64", torch.float64: "F64"}
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        b = t.numpy().tobytes()
        header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    import json
    import struct

    import numpy as np

    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    np_dt = {"F32": np.float32, "I64": np.int64, "F64": np.float64}
    out = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np_dt[e["dtype"]]).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta
