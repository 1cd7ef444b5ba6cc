#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Generates the broken models of issue 16 (fault 10) with python3-onnx: loadable, but not what a detector can be.
#
# Usage: /usr/bin/python3 models/gen_hostile_models.py [OUTDIR]   (default: the folder of this script)
#
#   tiny_huge_output.onnx  images [1, 3, 64, 64] -> out [1, 3, 16384, 16384] float32 (3 GiB per image):
#                          an Expand of the input's mean; framepipe must refuse it as a model error (exit 3),
#                          not run out of memory (exit 1)
#   tiny_input_zero.onnx   images [1, 3, 0, 0] -> out [1, 3, 0, 0] (Identity): an input with no pixels
#   tiny_input_huge.onnx   images [1, 3, 2^31, 2^31] -> out (Identity): found by fuzz/fuzz_model.c; the side
#                          became a negative int height and the output's size wrapped to 0 bytes, so it loaded
import os
import sys

import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper


def save(model, path):
    model.opset_import[0].version = 13
    model.ir_version = 7
    checker.check_model(model)
    with open(path, 'wb') as f:
        f.write(model.SerializeToString())


def huge_output(path):
    shape = numpy_helper.from_array(np.array([1, 3, 16384, 16384], np.int64), 'shape')
    nodes = [
        helper.make_node('ReduceMean', ['images'], ['mean'], axes=[2, 3], keepdims=1),
        helper.make_node('Expand', ['mean', 'shape'], ['out']),
    ]
    graph = helper.make_graph(
        nodes, 'huge_output',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, [1, 3, 16384, 16384])],
        [shape])
    save(helper.make_model(graph), path)


def input_zero(path):
    graph = helper.make_graph(
        [helper.make_node('Identity', ['images'], ['out'])], 'input_zero',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 0, 0])],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, [1, 3, 0, 0])])
    save(helper.make_model(graph), path)


def input_huge(path):
    side = 2 ** 31
    graph = helper.make_graph(
        [helper.make_node('Identity', ['images'], ['out'])], 'input_huge',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info('out', TensorProto.FLOAT, [1, 3, side, side])])
    save(helper.make_model(graph), path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    huge_output(os.path.join(out, 'tiny_huge_output.onnx'))
    input_zero(os.path.join(out, 'tiny_input_zero.onnx'))
    input_huge(os.path.join(out, 'tiny_input_huge.onnx'))


if __name__ == '__main__':
    main()
