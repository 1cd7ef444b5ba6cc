#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Makes a dynamic-batch copy of a fixed-batch-1 ONNX model (BlazeFace's Barracuda export) with Debian's python3-onnx.
"""usage: dynamic_batch.py IN.onnx OUT.onnx

The npm BlazeFace models declare batch 1 everywhere: input and outputs [1, ...], Reshape targets
[1, N, K] and the channel padding made by ConstantOfShape([1, C, H, W]) + Concat. This rewrites
  - dim 0 of every graph input and output to the symbol "batch",
  - every Reshape whose target is a constant starting with 1 to start with -1 (the batch, inferred),
  - every ConstantOfShape with a constant [1, ...] shape that feeds a Concat to take its batch from the
    Concat's other input at run time: Shape -> Slice [0:1] -> Concat with the constant rest,
and drops the intermediate value_info (shapes inferred with batch 1). Anything else that pins the
batch (another op with a constant batch-1 shape) is refused with a message naming the node, so a
model this does not understand is never written. The result is checked with onnx.checker; whether it
computes the same as the original is checked by scripts/verify_dynamic_batch.js (ONNX Runtime).
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def fail(msg):
    sys.exit(f"dynamic_batch.py: {msg}")


def main(src, dst):
    try:
        m = onnx.load(src)
    except Exception as e:  # noqa: BLE001 - any parse failure is reported with the file name
        fail(f"{src}: not a readable ONNX model: {e}")
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    for v in list(g.input) + list(g.output):
        dims = v.type.tensor_type.shape.dim
        if not dims or (dims[0].dim_value not in (0, 1) and not dims[0].dim_param):
            fail(f"{src}: {v.name}: batch axis is {dims[0].dim_value if dims else 'missing'}, want 1")
        dims[0].ClearField("dim_value")
        dims[0].dim_param = "batch"

    new_nodes, shape_of = [], {}
    changed = 0
    for n in g.node:
        if n.op_type == "Reshape" and n.input[1] in inits:
            t = numpy_helper.to_array(inits[n.input[1]]).copy()
            if t.size and t[0] == 1:
                t[0] = -1
                name = n.input[1] + "_dynbatch"
                g.initializer.append(numpy_helper.from_array(t.astype(np.int64), name))
                n.input[1] = name
                changed += 1
        elif n.op_type == "ConstantOfShape" and n.input[0] in inits:
            shape = numpy_helper.to_array(inits[n.input[0]])
            if shape.size and shape[0] == 1:
                users = consumers.get(n.output[0], [])
                if len(users) != 1 or users[0].op_type != "Concat" or len(users[0].input) != 2:
                    fail(f"{src}: node '{n.name or n.output[0]}' (ConstantOfShape {shape.tolist()}) does not feed "
                         f"a two-input Concat: cannot tell where its batch comes from")
                other = [i for i in users[0].input if i != n.output[0]][0]
                if other not in shape_of:
                    s, b = f"{other}_shape_dynbatch", f"{other}_batch_dynbatch"
                    new_nodes.append(helper.make_node("Shape", [other], [s]))
                    new_nodes.append(helper.make_node("Slice", [s, "dynbatch_zero", "dynbatch_one"], [b]))
                    shape_of[other] = b
                rest = n.input[0] + "_rest_dynbatch"
                if rest not in inits:
                    g.initializer.append(numpy_helper.from_array(shape[1:].astype(np.int64), rest))
                    inits[rest] = g.initializer[-1]
                full = n.output[0] + "_shape_dynbatch"
                new_nodes.append(helper.make_node("Concat", [shape_of[other], rest], [full], axis=0))
                n.input[0] = full
                changed += 1
        elif n.op_type in ("Expand", "Tile", "ConstantOfShape", "Reshape"):
            fail(f"{src}: node '{n.name or n.output[0]}' ({n.op_type}) has a shape input this script does not "
                 f"rewrite")
    if new_nodes:
        g.initializer.append(numpy_helper.from_array(np.array([0], np.int64), "dynbatch_zero"))
        g.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "dynbatch_one"))
    # the new nodes go first: they only read graph inputs' descendants through Shape, so order them
    # right before their consumers by a topological re-sort
    nodes = list(new_nodes) + list(g.node)
    produced = {i.name for i in g.input} | {i.name for i in g.initializer}
    ordered, pending = [], nodes
    while pending:
        rest = []
        for n in pending:
            if all(i in produced or i == "" for i in n.input):
                ordered.append(n)
                produced.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            fail(f"{src}: graph is not a DAG after the rewrite (node '{rest[0].name}')")
        pending = rest
    del g.node[:]
    g.node.extend(ordered)
    del g.value_info[:]
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    print(f"dynamic_batch.py: {dst}: {changed} batch-1 constants rewritten, batch axis dynamic")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
