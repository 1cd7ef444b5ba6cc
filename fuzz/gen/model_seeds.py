#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes fuzz/corpus/model: the seed inputs of fuzz/fuzz_model.c (its input format is documented there).

Run with Debian's python3 and python3-onnx: fuzz/gen/model_seeds.py [FUZZ_MODEL_BINARY]

Each seed describes a model's signature (inputs, outputs, element types, declared dims, metadata):
  - templates read from the real BlazeFace models (~/.cache/framepipe/models/blazeface/*.onnx) with onnx;
  - small reference models built here with onnx.helper and checked with onnx.checker: YOLOv8-like [1,84,N],
    YOLOv8 raw head [1,64+C,N], YOLOv5-like [1,N,85], SSD-like boxes [1,N,4] + scores [1,N,C], dynamic axes,
    the shapes issue 16 reported ([1,3,16384,16384] output, [1,3,0,0] input) and edge values.
Given the built fuzz_model binary, each seed is also run through it with FUZZ_DUMP and the ONNX file the target
encodes is loaded back with onnx (onnx.checker, then the signature compared with the reference model's): the
target's hand-written protobuf encoder is checked against the onnx package, not against itself.
"""
import glob
import os
import struct
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fuzz", "corpus", "model")
KEYS = ["names", "classes", "labels", "reg_max", "head", "stride", "imgsz", "task"]
NOTABLE = [0, -1, -2, 2, 3, 4, 640, 8400, 16384, 65536, 2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1, -2**63]


def s(b):
    b = b.encode() if isinstance(b, str) else b
    assert len(b) < 256
    return bytes([len(b)]) + b


def dim(d):
    if isinstance(d, str):  # symbols d0..d7
        return bytes([0xF0 + int(d[1:])])
    if d is None:
        return b"\xf8"
    if 0 <= d < 0xE0:
        return bytes([d])
    if d in NOTABLE:
        return bytes([0xE0 + NOTABLE.index(d)])
    if 0 <= d < 65536:
        return b"\xf9" + struct.pack("<H", d)
    if 0 <= d < 2**32:
        return b"\xfa" + struct.pack("<I", d)
    return b"\xfb" + struct.pack("<q", d)


def tensor(name, elem, dims, oflags=None, actual=None):
    out = s(name) + bytes([elem]) + (b"\xff" if dims is None else bytes([len(dims)]) + b"".join(dim(d) for d in dims))
    if oflags is not None:
        out += bytes([oflags | (2 if actual else 0)])
        if actual:
            out += b"".join(dim(d) for d in actual)
    return out


def spec(inputs, outputs, meta=(), max_batch=1, size=None, run=True):
    """inputs: (name, elem, dims); outputs: (name, elem, dims[, batch_from_input[, actual]]); meta: (key, value)."""
    cfg = (max_batch - 1) | (8 if size else 0) | (16 if run else 0)
    b = bytes([cfg]) + (struct.pack("<HH", *size) if size else b"")
    b += bytes([len(inputs)]) + b"".join(tensor(*t) for t in inputs)
    b += bytes([len(outputs)])
    for o in outputs:
        name, elem, dims = o[:3]
        b += tensor(name, elem, dims, 1 if len(o) > 3 and o[3] else 0, o[4] if len(o) > 4 else None)
    b += bytes([len(meta)])
    for k, v in meta:
        b += (bytes([KEYS.index(k)]) if k in KEYS else bytes([8 + len(k)]) + k.encode()) + s(v)
    return b


def reference(inputs, outputs, meta):
    """The same signature as an onnx.helper model (what the target must encode), checked by onnx.checker."""
    def vi(name, elem, dims):
        return helper.make_tensor_value_info(name, elem, dims)
    nodes, inits = [], []
    for i, o in enumerate(outputs):
        name, elem, dims = o[:3]
        actual = [d if isinstance(d, int) and 0 <= d <= 4096 else 1 for d in (dims or [1, 1, 1])]
        inits.append(helper.make_tensor("_s%d" % i, TensorProto.INT64, [len(actual)], actual))
        nodes.append(helper.make_node("ConstantOfShape", ["_s%d" % i], [name],
                                      value=helper.make_tensor("v", elem, [1], [0])))
    g = helper.make_graph(nodes, "ref", [vi(*t) for t in inputs], [vi(*o[:3]) for o in outputs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    helper.set_model_props(m, dict(meta))
    if all(o[2] is not None for o in outputs):  # the checker wants a shape on every output
        onnx.checker.check_model(m)
    return m


def signature(m):
    def one(v):
        t = v.type.tensor_type
        dims = None if not t.HasField("shape") else [
            d.dim_value if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None)
            for d in t.shape.dim]
        return (v.name, t.elem_type, dims)
    return ([one(v) for v in m.graph.input], [one(v) for v in m.graph.output],
            sorted((p.key, p.value) for p in m.metadata_props))


F, U8, F16, I64 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.FLOAT16, TensorProto.INT64
# 80 class names (two letters each: a value is at most 255 bytes), as a comma-separated list
COCO = ",".join(chr(97 + i // 26) + chr(97 + i % 26) for i in range(80))
seeds = {}

# templates: the real BlazeFace models' signatures (read with onnx)
for path in sorted(glob.glob(os.path.expanduser("~/.cache/framepipe/models/blazeface/*.onnx"))):
    m = onnx.load(path)
    ins, outs, meta = signature(m)
    tag = "blazeface_" + os.path.basename(path).split("_")[2]
    seeds[tag] = (ins, outs, meta, {})
    seeds[tag + "_dynbatch"] = ([(n, e, ["d0"] + d[1:]) for n, e, d in ins],
                                [(n, e, ["d0"] + d[1:], True) for n, e, d in outs], meta, {"max_batch": 4})

img = [("images", F, [1, 3, 64, 64])]
seeds.update({
    "yolov8": (img, [("output0", F, [1, 84, 336])], [("classes", COCO), ("stride", "32"), ("task", "detect")], {}),
    "yolov8_dyn": ([("images", F, ["d0", 3, "d1", "d2"])], [("output0", F, ["d0", 84, "d3"], True)],
                   [("labels", COCO)], {"size": (64, 64), "max_batch": 2}),
    "yolov8_raw": (img, [("output0", F, [1, 64 + 2, 336])], [("names", "{0: 'a', 1: 'b'}"), ("reg_max", "16")], {}),
    "yolov8_head_raw": (img, [("output0", F, [1, 144, 336])], [("head", "raw")], {}),
    "yolov5": (img, [("output", F, [1, 252, 85]), ("p3", F, [1, 3, 8, 8, 85])], [("names", "{0: 'person', 1: 'bicycle'}")], {}),
    "yolov5_nhwc_u8": ([("in", U8, [1, 32, 32, 3])], [("out", F, [1, 63, 7])], [("labels", "a,b")], {}),
    "ssd": (img, [("boxes", F, [1, 100, 4]), ("scores", F, [1, 100, 91])], [("classes", "bg\nperson\ncar")], {}),
    "ssd_4d": (img, [("scores", F, [1, 50, 3]), ("boxes", F, [1, 50, 1, 4])], [], {}),
    # issue 16, fault 10: a huge declared output and a zero input
    "huge_output": ([("images", F, ["d0", 3, 64, 64])], [("out", F, ["d0", 3, 16384, 16384], True)], [], {}),
    "huge_output_folded": (img, [("out", F, [1, 3, 16384, 16384])], [], {}),
    "zero_input": ([("x", F, [1, 3, 0, 0])], [("y", F, [1, 10, 6])], [], {}),
    "dyn_input": ([("x", F, [1, 3, "d1", "d2"])], [("y", F, [1, 10, 6])], [], {}),
    "two_inputs": ([("a", F, [1, 3, 8, 8]), ("b", F, [1, 3, 8, 8])], [("y", F, [1, 10, 6])], [], {}),
    "f16": ([("x", F16, [1, 3, 16, 16])], [("y", F16, [1, 84, 20])], [], {}),
    "int64_out": (img, [("y", I64, [1, 84, 20])], [], {}),
    "rank1_out": (img, [("y", F, [6])], [], {}),
    "big_input": ([("x", F, [1, 3, 2**31, 2**31])], [("y", F, [1, 10, 6])], [], {}),
    "neg_dims": ([("x", F, [1, 3, -1, -2])], [("y", F, [1, -1, 6])], [], {}),
    "no_shape": (img, [("y", F, None)], [], {}),
    "metadata": (img, [("y", F, [1, 8, 20])], [("names", "[1, 2"), ("reg_max", "9999"), ("head", "raw"),
                                                 ("labels", "x\n\n\ny"), ("imgsz", "[640, 640]")], {}),
})

os.makedirs(OUT, exist_ok=True)
for f in glob.glob(os.path.join(OUT, "seed_*")):
    os.unlink(f)
binary = sys.argv[1] if len(sys.argv) > 1 else None
total = 0
for tag, (ins, outs, meta, kw) in seeds.items():
    data = spec(ins, outs, meta, **kw)
    with open(os.path.join(OUT, "seed_" + tag), "wb") as f:
        f.write(data)
    total += len(data)
    if binary:
        ref = signature(reference(ins, outs, meta))
        with tempfile.TemporaryDirectory() as d:
            dump = os.path.join(d, "m.onnx")
            env = dict(os.environ, FUZZ_DUMP=dump, FUZZ_WHY="1", FP_LOG="error")
            r = subprocess.run([binary, os.path.join(OUT, "seed_" + tag)], env=env, capture_output=True, text=True)
            m = onnx.load(dump)
            if all(o[2] is not None for o in outs):
                onnx.checker.check_model(m)
            got = signature(m)
            if got != ref:
                sys.exit("%s: the target encoded %r, onnx.helper %r" % (tag, got, ref))
            why = [l for l in r.stderr.splitlines() if l.startswith("fuzz_model:")]
            print("%-26s %s" % (tag, " | ".join(w[len("fuzz_model: "):] for w in why)[:150]))
print("%d seeds, %d bytes, in %s" % (len(seeds), total, OUT))
