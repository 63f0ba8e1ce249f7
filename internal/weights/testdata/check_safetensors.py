"""Read a safetensors file the way Python would and print what it holds.

Used by TestSafetensorsGoToPython (run with /usr/bin/python3, which has
torch). Debian has no python3-safetensors, so this follows the format's spec
by hand, asserts the layout rules of the reference writer, builds each
tensor with torch.frombuffer and prints one JSON object:

    {"metadata": {...}, "order": [names in header order],
     "tensors": {name: {"dtype": "F32", "shape": [...], "values": [...]}}}
"""

import json
import struct
import sys

import torch

DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
          "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
          "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}
RANK = {"BOOL": 0, "U8": 1, "I8": 2, "I16": 3, "U16": 4, "F16": 5,
        "BF16": 6, "I32": 7, "U32": 8, "F32": 9, "F64": 10, "I64": 11,
        "U64": 12}


def main(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    raw = buf[8:8 + n]
    assert (8 + n) % 8 == 0, "header not padded to 8 bytes"
    text = raw.decode("utf-8")
    assert text.rstrip(" ") == text.rstrip(), "padding is not spaces"
    assert text.startswith("{"), "header does not start with {"
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    keys = [k for k, _ in pairs]
    header = dict(pairs)
    meta = dict(header.pop("__metadata__", []))
    if "__metadata__" in keys:
        assert keys[0] == "__metadata__", "__metadata__ is not first"
        keys = keys[1:]
    infos = {k: dict(v) for k, v in header.items()}
    want = sorted(keys, key=lambda k: (-RANK[infos[k]["dtype"]], k))
    assert keys == want, "tensors not sorted by dtype alignment then name: %r" % keys
    data = buf[8 + n:]
    pos = 0
    out = {}
    for k in keys:
        info = infos[k]
        assert list(info.keys()) == ["dtype", "shape", "data_offsets"], info
        b, e = info["data_offsets"]
        assert b == pos, "offsets not contiguous at %s" % k
        pos = e
        dt = DTYPES[info["dtype"]]
        if e > b:
            t = torch.frombuffer(bytearray(data[b:e]), dtype=dt)
        else:
            t = torch.empty(0, dtype=dt)
        t = t.reshape(info["shape"])
        flat = t.reshape(-1)
        if dt in (torch.float16, torch.bfloat16):
            flat = flat.float()
        elif dt == torch.bool:
            flat = flat.to(torch.uint8)  # 0/1, as the Go test renders bools
        out[k] = {"dtype": info["dtype"], "shape": list(t.shape), "values": flat.tolist()}
    assert pos == len(data), "trailing bytes"
    json.dump({"metadata": meta, "order": keys, "tensors": out}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
