#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Generates tiny YOLOv8-head models whose image input is not what pre-processing writes (1 or 4 channels, int8), with python3-onnx.
#
# Usage: /usr/bin/python3 models/gen_channel_models.py [OUTDIR]   (default: the folder of this script)
#
# Pre-processing writes 3 channels (RGB/BGR) as float32, float16 or uint8. These models declare
# something else, and each is otherwise a valid YOLOv8 decoded-head export with one class
# (output0 [B, 4 + 1, 64 * 64], dynamic batch), so the only thing wrong with them is the input:
#   tiny_input_1ch.onnx   images [B, 1, 64, 64] float32 (a grey-scale model)
#   tiny_input_4ch.onnx   images [B, 4, 64, 64] float32 (RGBA / RGB + depth)
#   tiny_input_int8.onnx  images [B, 3, 64, 64] int8    (a quantized input pre-processing cannot write)
# The graphs only reshape, slice and concatenate the input (the int8 one casts it to float32
# first), so every input byte of every batch item reaches the output: a runtime given a buffer
# shorter than batch * item bytes reads past its end.
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

SIZE = 64
N = SIZE * SIZE


def export(path, channels, elem_type=TensorProto.FLOAT):
    inits = [numpy_helper.from_array(np.array([0, channels, N], np.int64), 'flat_shape')]
    nodes = []
    src = 'images'
    if elem_type != TensorProto.FLOAT:
        nodes.append(helper.make_node('Cast', [src], ['images_f'], to=TensorProto.FLOAT))
        src = 'images_f'
    # [B, C, H, W] -> [B, C, H*W] (0: keep the batch axis)
    nodes.append(helper.make_node('Reshape', [src, 'flat_shape'], ['flat']))
    # Take channels from the front until there are 5: [B, 5, H*W], every input channel used.
    parts, have = ['flat'], channels
    while have < 5:
        take = min(channels, 5 - have)
        name = 'extra%d' % len(parts)
        inits += [numpy_helper.from_array(np.array([0], np.int64), name + '_starts'),
                  numpy_helper.from_array(np.array([take], np.int64), name + '_ends'),
                  numpy_helper.from_array(np.array([1], np.int64), name + '_axes')]
        nodes.append(helper.make_node('Slice', ['flat', name + '_starts', name + '_ends', name + '_axes'], [name]))
        parts.append(name)
        have += take
    if have > 5:
        raise ValueError('more than 5 channels: %d' % channels)
    nodes.append(helper.make_node('Concat', parts, ['output0'], axis=1))
    graph = helper.make_graph(
        nodes, 'tiny_input_%dch' % channels,
        [helper.make_tensor_value_info('images', elem_type, ['batch', channels, SIZE, SIZE])],
        [helper.make_tensor_value_info('output0', TensorProto.FLOAT, ['batch', 5, N])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='framepipe')
    m.ir_version = 8
    p = m.metadata_props.add()
    p.key, p.value = 'names', "{0: 'thing'}"
    with open(path, 'wb') as f:
        f.write(m.SerializeToString())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out, exist_ok=True)
    export(os.path.join(out, 'tiny_input_1ch.onnx'), 1)
    export(os.path.join(out, 'tiny_input_4ch.onnx'), 4)
    export(os.path.join(out, 'tiny_input_int8.onnx'), 3, TensorProto.INT8)


if __name__ == '__main__':
    main()
