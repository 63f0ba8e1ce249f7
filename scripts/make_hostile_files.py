#!/usr/bin/python3
"""Write the hostile-file suite of internal/hostile/testdata.

Each file is a minimal reproduction of one way a corrupt or hostile weights
or annotation file used to crash racnn or exhaust its memory; all are a few
KB at most. manifest.json maps each file name to the class it stands for and
a fragment its one-line error must contain. Run with Debian's Python (it has
python3-torch, used for the real torch.save files that get truncated):

    /usr/bin/python3 scripts/make_hostile_files.py

Weights (.pth, zip and legacy format; .safetensors):
  wrapped_storage*.pth   a storage of 2^62+1 float32s: numel * 4 wraps to 4
  wrapped_stride.pth     a view whose (size-1) * stride wraps past 2^63
  huge_frame.pth         13 bytes: a pickle FRAME claiming 2^40 bytes
  huge_binbytes8.pth     13 bytes: BINBYTES8 claiming 2^40 bytes
  huge_binunicode8.pth   13 bytes: BINUNICODE8 claiming 2^40 bytes
  huge_binunicode.pth    BINUNICODE claiming 4 GiB inside a torch zip
  huge_record_deflate.pth  a zip whose deflated data.pkl claims 4 TiB
  huge_record_stored.pth   a zip whose stored storage record claims 4 TiB
  zero_stride*.pth       a zero-stride view of 2^28 (2^33) float32s over a
                         one-element storage (1 GiB, 32 GiB dense)
  deep_marks.pth         a pickle opening 4096 MARKs
  deep_tuples.pth        a state dict value nested 3000 tuples deep
  newline_key.pth        a non-tensor entry whose key holds a newline
  truncated_*.pth        real torch.save files cut short
  huge_header.safetensors, wrapped_shape.safetensors,
  offsets_past_end.safetensors, truncated.safetensors
MAT-files (.mat, the Dogs and Cars annotation format):
  inflate_overrun.mat    a compressed element whose header declares a
                         small matrix but whose stream inflates to 4 MB
  inflate_declared.mat   a compressed element declaring 4 GiB
  truncated_z.mat        a compressed element cut short
Images (.jpg, read as a training image is):
  huge_claim.jpg         ~100 bytes: a baseline JPEG header claiming
                         12336x12336 pixels (within the pixel limit) and no
                         scan data (435 MiB of RGB once allocated up front)
  huge_claim_eoi.jpg     the same with an end marker right after the scan
                         header: libjpeg warns once and makes up every row
  huge_claim_progressive.jpg  the same as a progressive JPEG, whose
                         coefficient buffers libjpeg would allocate first
  huge_claim.png         ~70 bytes: a PNG header claiming 12336x12336 RGB
                         pixels over an empty IDAT (580 MiB once allocated)
"""

import collections
import io
import json
import os
import pickle
import struct
import zlib

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                   "internal", "hostile", "testdata")

manifest = {}


def write(name, data, cls, want):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    manifest[name] = {"class": cls, "want": want, "bytes": len(data)}


# --- pickles as torch.save writes them, with any sizes we like -------------

class Storage:
    """A storage persistent id: ('storage', class, key, location, numel)."""

    def __init__(self, key, numel, cls=torch.FloatStorage):
        self.pid = ("storage", cls, key, "cpu", numel)


class View:
    """A tensor as torch pickles it: _rebuild_tensor_v2(storage, offset,
    size, stride, requires_grad, backward_hooks)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False,
                     collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class Raw:
    """A value pickled as the given opcodes (spliced in after dumping)."""


def state_pickle(sd, protocol=2):
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=protocol)
    p.persistent_id = lambda o: o.pid if isinstance(o, Storage) else None
    p.dump(collections.OrderedDict(sd))
    return buf.getvalue()


def torch_zip(pkl, records, declared=None, deflate_pkl=False):
    """A torch.save zip: archive/data.pkl, archive/data/<key>, archive/version.
    declared maps a record name to the uncompressed size its headers claim
    (written as zip64 fields, as a real 4 TiB record would be)."""
    declared = declared or {}
    entries = [("archive/data.pkl", pkl, deflate_pkl)]
    entries += [("archive/data/" + k, v, False) for k, v in records.items()]
    entries.append(("archive/version", b"3\n", False))
    out, central = io.BytesIO(), []
    for name, data, deflate in entries:
        crc = zlib.crc32(data)
        body = data
        method = 0
        if deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            body = c.compress(data) + c.flush()
            method = 8
        usize = declared.get(name, len(data))
        csize = len(body)
        if name in declared and method == 0:
            csize = usize  # a stored record's sizes are one
        zip64 = usize >= 0xFFFFFFFF or csize >= 0xFFFFFFFF
        extra = b""
        if zip64:
            extra = struct.pack("<HHQQ", 1, 16, usize, csize)
        off = out.tell()
        n = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20,
                              0, method, 0, 0, crc,
                              0xFFFFFFFF if zip64 else csize,
                              0xFFFFFFFF if zip64 else usize, len(n),
                              len(extra)) + n + extra + body)
        central.append((n, method, crc, csize, usize, off, zip64))
    cd = out.tell()
    for n, method, crc, csize, usize, off, zip64 in central:
        extra = struct.pack("<HHQQ", 1, 16, usize, csize) if zip64 else b""
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45 if zip64 else 20,
                              0, method, 0, 0, crc,
                              0xFFFFFFFF if zip64 else csize,
                              0xFFFFFFFF if zip64 else usize, len(n),
                              len(extra), 0, 0, 0, 0, off) + n + extra)
    end = out.tell()
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central),
                          len(central), end - cd, cd, 0))
    return out.getvalue()


def legacy(sd, storages):
    """The legacy torch.save format: magic, protocol, sys info, the state
    dict, the storage keys, then each storage as 8-byte numel + bytes."""
    out = io.BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001,
                {"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        out.write(pickle.dumps(obj, protocol=2))
    out.write(state_pickle(sd))
    out.write(pickle.dumps([k for k, _, _ in storages], protocol=2))
    for _, numel, data in storages:
        out.write(struct.pack("<q", numel) + data)
    return out.getvalue()


def main():
    os.makedirs(OUT, exist_ok=True)
    one = struct.pack("<f", 1.0)

    # Storage sizes that wrap: (2^62 + 1) * 4 bytes is 4 mod 2^64.
    wrap = 2**62 + 1
    st = Storage("0", wrap)
    write("wrapped_storage.pth",
          torch_zip(state_pickle({"w": View(st, 0, [1], [1])}), {"0": one}),
          "wrapped size", "claims 4611686018427387905 elements")
    write("wrapped_storage_legacy.pth",
          legacy({"w": View(Storage("0", wrap), 0, [1], [1])},
                 [("0", wrap, one)]),
          "wrapped size", "claims 4611686018427387905 elements")
    st = Storage("0", 4)
    write("wrapped_stride.pth",
          torch_zip(state_pickle({"w": View(st, 0, [3], [2**62])}),
                    {"0": one * 4}),
          "wrapped size", "runs past its storage")

    # 13-byte pickles whose first length claims 2^40 bytes.
    huge = struct.pack("<Q", 2**40)
    write("huge_frame.pth", b"\x80\x04\x95" + huge + b"N.",
          "huge frame", "FRAME at byte 2 claims 1099511627776 bytes")
    write("huge_binbytes8.pth", b"\x80\x04\x8e" + huge + b"N.",
          "huge frame", "BINBYTES8 at byte 2 claims 1099511627776 bytes")
    write("huge_binunicode8.pth", b"\x80\x04\x8d" + huge + b"N.",
          "huge frame", "BINUNICODE8 at byte 2 claims 1099511627776 bytes")
    # Inside a zip's data.pkl: a BINUNICODE claiming 4 GiB - 1.
    write("huge_binunicode.pth",
          torch_zip(b"\x80\x02X\xff\xff\xff\xffN.", {}),
          "huge frame", "BINUNICODE at byte 2 claims 4294967295 bytes")

    # Zip records claiming 4 TiB.
    tib = 4 * 2**40
    pkl = state_pickle({"w": View(Storage("0", 1), 0, [1], [1])})
    write("huge_record_deflate.pth",
          torch_zip(pkl, {"0": one}, declared={"archive/data.pkl": tib},
                    deflate_pkl=True),
          "huge zip record", "claims 4398046511104 bytes")
    write("huge_record_stored.pth",
          torch_zip(state_pickle({"w": View(Storage("0", tib // 4), 0, [1], [1])}),
                    {"0": one}, declared={"archive/data/0": tib}),
          "huge zip record", "more than the whole file")

    # Zero-stride views of 2^28 and 2^33 elements over one float.
    for name, n in (("zero_stride.pth", 2**28), ("zero_stride_2e33.pth", 2**33)):
        st = Storage("0", 1)
        write(name,
              torch_zip(state_pickle({"w": View(st, 0, [n], [0])}), {"0": one}),
              "zero-stride view", "cannot legitimately describe")

    # Deep nesting: 4096 MARKs, and a value 3000 tuples deep (1 byte a level).
    write("deep_marks.pth", b"\x80\x02" + b"(" * 4096 + b".",
          "deep nesting", "nested deeper than 256")
    # An empty OrderedDict, then SETITEM "w" = ((((None,),),)...).
    pkl = state_pickle({})[:-1] + b"\x8c\x01wN" + b"\x85" * 3000 + b"s."
    write("deep_tuples.pth", torch_zip(pkl, {}), "deep nesting",
          "entries w are not tensors")

    # A key that would split the error over two lines.
    write("newline_key.pth",
          torch_zip(state_pickle({"a\nb": 1}), {}), "one line",
          r'"a\nb" are not tensors')

    # Truncations of real torch.save output.
    sd = collections.OrderedDict(
        (f"layer{i}.weight", torch.arange(64, dtype=torch.float32).reshape(8, 8) + i)
        for i in range(4))
    buf = io.BytesIO()
    torch.save(sd, buf)
    z = buf.getvalue()
    write("truncated_zip.pth", z[: len(z) // 2], "truncation",
          "not a readable zip archive")
    buf = io.BytesIO()
    torch.save(sd, buf, _use_new_zipfile_serialization=False)
    leg = buf.getvalue()
    write("truncated_legacy.pth", leg[: len(leg) - 100], "truncation",
          "truncated")
    write("truncated_legacy_pickle.pth", leg[:300], "truncation", "truncated")

    # safetensors.
    write("huge_header.safetensors", struct.pack("<Q", 2**40) + b"{}      ",
          "huge frame", "over the 100000000 limit")
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [2**62, 4],
                            "data_offsets": [0, 16]}}).encode()
    hdr += b" " * (-len(hdr) % 8)
    write("wrapped_shape.safetensors",
          struct.pack("<Q", len(hdr)) + hdr + b"\0" * 16,
          "wrapped size", "invalid shape")
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [2**30],
                            "data_offsets": [0, 2**32]}}).encode()
    hdr += b" " * (-len(hdr) % 8)
    write("offsets_past_end.safetensors",
          struct.pack("<Q", len(hdr)) + hdr + b"\0" * 16,
          "truncation", "the header describes 4294967296 bytes")
    hdr = json.dumps({"w": {"dtype": "F32", "shape": [64],
                            "data_offsets": [0, 256]}}).encode()
    hdr += b" " * (-len(hdr) % 8)
    write("truncated.safetensors",
          (struct.pack("<Q", len(hdr)) + hdr + b"\0" * 256)[:-100],
          "truncation", "truncated")

    # MAT-files.
    write_mats()
    write_jpegs()

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


def mat_header():
    text = b"MATLAB 5.0 MAT-file, written by make_hostile_files.py"
    return text.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"


def mat_uint8_matrix(name, n):
    """An miMATRIX element: a 1 x n double array stored as miUINT8 data."""
    def el(typ, data):
        return struct.pack("<II", typ, len(data)) + data + b"\0" * (-len(data) % 8)
    body = (el(6, struct.pack("<II", 6, 0)) +          # flags: mxDOUBLE_CLASS
            el(5, struct.pack("<ii", 1, n)) +           # dimensions
            el(1, name.encode()) +                      # name
            el(2, bytes(n)))                            # real part, miUINT8
    return struct.pack("<II", 14, len(body)) + body


def compressed(payload):
    z = zlib.compress(payload, 9)
    return struct.pack("<II", 15, len(z)) + z


def write_mats():
    # The header declares a 16-element matrix; the stream goes on to 4 MB.
    small = mat_uint8_matrix("x", 16)
    write("inflate_overrun.mat",
          mat_header() + compressed(small + bytes(4 << 20)),
          "inflation bomb", "inflates past the")
    # An element tag declaring 4 GiB - 8 inside the stream.
    write("inflate_declared.mat",
          mat_header() + compressed(struct.pack("<II", 14, 0xFFFFFFF8) + bytes(1 << 20)),
          "inflation bomb", "declares 4294967288 bytes")
    z = compressed(mat_uint8_matrix("x", 4096))
    write("truncated_z.mat", mat_header() + z[: len(z) // 2], "truncation",
          "truncated")



def jpeg_header(sof, side):
    """SOI, one quantisation table, a one-component frame of side x side
    pixels and a scan header; the Huffman tables are libjpeg's defaults."""
    seg = lambda marker, body: struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body
    dqt = seg(0xDB, bytes([0]) + bytes([1] * 64))
    frame = seg(sof, struct.pack(">BHHB", 8, side, side, 1) + bytes([1, 0x11, 0]))
    scan = seg(0xDA, bytes([1, 1, 0x00, 0, 0 if sof == 0xC2 else 63, 0]))
    return b"\xff\xd8" + dqt + frame + scan


def write_jpegs():
    write("huge_claim.jpg", jpeg_header(0xC0, 12336) + b"\x00" * 4, "header claims 435 MiB",
          "Premature end")
    write("huge_claim_eoi.jpg", jpeg_header(0xC0, 12336) + b"\xff\xd9", "header claims 435 MiB, scan ends at once",
          "premature end of data segment")
    write("huge_claim_progressive.jpg", jpeg_header(0xC2, 12336) + b"\x00" * 4,
          "progressive header claims 290 MiB of coefficients", "coefficient buffers")
    chunk = lambda kind, body: (struct.pack(">I", len(body)) + kind + body
                                + struct.pack(">I", zlib.crc32(kind + body)))
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", 12336, 12336, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    write("huge_claim.png", png, "header claims 580 MiB", "cannot hold 12336×12336 pixels")



if __name__ == "__main__":
    main()
