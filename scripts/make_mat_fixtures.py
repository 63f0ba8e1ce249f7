#!/usr/bin/python3
"""Write the MATLAB v5 test fixtures of internal/data/matv5/testdata.

Run with Debian's Python, which has scipy (apt-get install python3-scipy):

    /usr/bin/python3 scripts/make_mat_fixtures.py

The files mirror the structures of the real annotation files, scaled down:

- dogs_train_list.mat / dogs_test_list.mat: Stanford Dogs lists/*.mat,
  variables file_list and annotation_list (N×1 cells of char) and labels
  (N×1 double, 1-based);
- cars_train_annos.mat / cars_test_annos_withlabels.mat: Stanford Cars
  annotations, a 1×N struct array with fields bbox_x1, bbox_y1, bbox_x2,
  bbox_y2 (integers, 1-based inclusive pixel coordinates; the real files use
  the smallest integer class that fits, as here), class and fname;
- cars_meta.mat: class_names, a 1×K cell of char;
- types.mat / types_z.mat: every class the reader decodes (numeric classes,
  complex, logical, char matrices, non-ASCII text, empty arrays, nested cells
  and structs), uncompressed and compressed;
- skip.mat: a sparse variable (which the reader skips) next to a double.

Some files are compressed (savemat do_compression=True) and some are not, so
that both element kinds are exercised. The Go tests assert the values written
here, so keep the two in step.
"""
import os

import numpy as np
import scipy.io as sio
import scipy.sparse as sp

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                   "internal", "data", "matv5", "testdata")

DOG_CLASSES = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel",
               "n02085936-Maltese_dog"]
DOGS = {
    "train": [(0, "n02085620_10074"), (0, "n02085620_10131"),
              (1, "n02085782_1039"), (1, "n02085782_1058"),
              (2, "n02085936_10073"), (2, "n02085936_10130")],
    "test": [(0, "n02085620_2650"), (1, "n02085782_17"),
             (2, "n02085936_233"), (2, "n02085936_37")],
}

CAR_CLASSES = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012",
               "Acura TL Sedan 2012"]
# (x1, y1, x2, y2, class 1-based, fname)
CARS = {
    "train": [(3, 5, 30, 20, 1, "00001.jpg"), (1, 1, 40, 30, 2, "00002.jpg"),
              (10, 2, 39, 29, 3, "00003.jpg"), (2, 4, 20, 12, 1, "00004.jpg"),
              (300, 200, 1000, 700, 2, "00005.jpg")],
    "test": [(5, 6, 25, 26, 3, "00001.jpg"), (1, 2, 33, 28, 1, "00002.jpg"),
             (4, 4, 36, 24, 2, "00003.jpg")],
}


def cellcol(strings):
    """An N×1 cell of char, as MATLAB's {'a'; 'b'}."""
    c = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        c[i, 0] = s
    return c


def cellrow(strings):
    c = np.empty((1, len(strings)), dtype=object)
    for i, s in enumerate(strings):
        c[0, i] = s
    return c


def smallest_uint(v):
    for t in (np.uint8, np.uint16, np.uint32):
        if v <= np.iinfo(t).max:
            return t
    return np.float64


def dogs(split, compress):
    rows = DOGS[split]
    files = [f"{DOG_CLASSES[c]}/{f}.jpg" for c, f in rows]
    annos = [f"{DOG_CLASSES[c]}/{f}" for c, f in rows]
    labels = np.array([[c + 1] for c, _ in rows], dtype=np.float64)
    sio.savemat(os.path.join(OUT, f"dogs_{split}_list.mat"),
                {"file_list": cellcol(files), "annotation_list": cellcol(annos),
                 "labels": labels}, do_compression=compress)


def cars(split, name, compress):
    rows = CARS[split]
    dt = [("bbox_x1", object), ("bbox_y1", object), ("bbox_x2", object),
          ("bbox_y2", object), ("class", object), ("fname", object)]
    a = np.empty((1, len(rows)), dtype=dt)
    for i, (x1, y1, x2, y2, cls, fname) in enumerate(rows):
        for key, v in (("bbox_x1", x1), ("bbox_y1", y1), ("bbox_x2", x2),
                       ("bbox_y2", y2)):
            a[0, i][key] = np.array([[v]], dtype=smallest_uint(v))
        a[0, i]["class"] = np.array([[cls]], dtype=np.uint8)
        a[0, i]["fname"] = fname
    sio.savemat(os.path.join(OUT, name), {"annotations": a},
                do_compression=compress)


def types(name, compress):
    st = np.empty((2, 1), dtype=[("name", object), ("score", object),
                                 ("inner", object)])
    inner = np.empty((1, 1), dtype=[("deep", object)])
    inner[0, 0]["deep"] = np.array([[7.5]])
    st[0, 0]["name"] = "first"
    st[0, 0]["score"] = np.array([[1.5]])
    st[0, 0]["inner"] = inner
    st[1, 0]["name"] = "second"
    st[1, 0]["score"] = np.array([[-2.0]])
    st[1, 0]["inner"] = np.zeros((0, 0))
    nested = np.empty((1, 3), dtype=object)
    nested[0, 0] = "a"
    nested[0, 1] = np.array([[1, 2, 3]], dtype=np.int16)
    sub = np.empty((2, 1), dtype=object)
    sub[0, 0] = "deep"
    sub[1, 0] = np.array([[2.25]])
    nested[0, 2] = sub
    v = {
        "d": np.array([[1.0, 2.0, 3.0], [4.0, 5.5, -6.25]]),  # 2×3 column-major
        "s": np.array([[0.5, -1.5]], dtype=np.float32),
        "i8": np.array([[-128, 127]], dtype=np.int8),
        "u8": np.array([[0, 255]], dtype=np.uint8),
        "i16": np.array([[-32768, 32767]], dtype=np.int16),
        "u16": np.array([[0, 65535]], dtype=np.uint16),
        "i32": np.array([[-2147483648, 2147483647]], dtype=np.int32),
        "u32": np.array([[0, 4294967295]], dtype=np.uint32),
        "i64": np.array([[-(2 ** 40), 2 ** 40]], dtype=np.int64),
        "u64": np.array([[2 ** 50]], dtype=np.uint64),
        "z": np.array([[1 + 2j, -3.5 - 0.5j]]),
        "b": np.array([[True, False, True]]),
        "scalar": 42.0,
        "str": "hello world",
        "uni": "Zo\u00eb \u00fcber \u4e2d\u6587",
        "charmat": np.array(["abc", "xyz"]),
        "empty": np.zeros((0, 0)),
        "emptystr": "",
        "cube": np.arange(24, dtype=np.float64).reshape(2, 3, 4),
        "nested": nested,
        "st": st,
    }
    sio.savemat(os.path.join(OUT, name), v, do_compression=compress,
                long_field_names=False)


def skip():
    sio.savemat(os.path.join(OUT, "skip.mat"),
                {"before": np.array([[1.0]]),
                 "sp": sp.csc_matrix(np.array([[0.0, 2.0], [3.0, 0.0]])),
                 "after": np.array([[2.0]])})


def main():
    os.makedirs(OUT, exist_ok=True)
    dogs("train", True)
    dogs("test", False)
    cars("train", "cars_train_annos.mat", False)
    cars("test", "cars_test_annos_withlabels.mat", True)
    sio.savemat(os.path.join(OUT, "cars_meta.mat"),
                {"class_names": cellrow(CAR_CLASSES)}, do_compression=True)
    types("types.mat", False)
    types("types_z.mat", True)
    skip()
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))


if __name__ == "__main__":
    main()
