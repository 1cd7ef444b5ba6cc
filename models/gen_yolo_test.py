#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Generates the committed YOLOv8-architecture test models (random weights) with Debian's python3-torch + python3-onnx.
#
# Usage: /usr/bin/python3 models/gen_yolo_test.py [OUTDIR]   (default: the folder of this script)
#
# The network follows the YOLOv8 layout (Conv-BN-SiLU, C2f, SPPF, nearest upsample, concat, PAN neck,
# anchor-free detect head with DFL), width-reduced so each file stays well under 2 MB, at 320x320 with
# the 80 COCO classes, a dynamic batch axis, and ultralytics-style metadata (names, stride, imgsz, task).
# Two exports of the same weights:
#   yolov8_test_320.onnx      output0 [B, 4 + 80, 2100]: cx, cy, w, h in input pixels, then sigmoid class scores
#   yolov8_test_320_raw.onnx  output0 [B, 4 * 16 + 80, 2100]: raw head, 4 x 16 DFL logits (l, t, r, b), then
#                             class logits (no sigmoid); anchors in order stride 8 (40x40), 16 (20x20), 32 (10x10),
#                             row-major, anchor centre = (x + 0.5, y + 0.5) * stride
#   tiny_unknown_family.onnx  a 5x5 conv + global pool with dynamic H, W: an output no family matches
#   tiny_yolov5_shape.onnx, tiny_ssd_shape.onnx  outputs shaped like YOLOv5's [1, 630, 85] and an SSD's
#                             boxes [1, 100, 4] + scores [1, 100, 91] (values: the image mean), for the
#                             family-detection tests
#   tiny_meta_json_list.onnx, tiny_meta_malformed.onnx  class names as a JSON list, and a cut-off dict
# The weights are random (seeded), so the models detect nothing meaningful: they exist to exercise the
# inference path and the decoders on real ONNX graphs of the right shape.
import os
import sys

import onnx
import torch
import torch.nn as nn

IMG = 320
NC = 80
REG_MAX = 16
WIDTHS = (8, 16, 32, 48, 64)  # P1..P5 (yolov8n uses 16, 32, 64, 128, 256)
HEAD = 32                     # hidden width of both head branches (yolov8n: 64 and 80)
STRIDES = (8, 16, 32)
COCO = ['person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
        'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
        'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
        'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
        'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
        'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
        'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
        'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
        'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
        'teddy bear', 'hair drier', 'toothbrush']


class Conv(nn.Module):
    """Conv2d + BatchNorm + SiLU."""

    def __init__(self, c1, c2, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True):
        super().__init__()
        self.cv1 = Conv(c1, c2, 3)
        self.cv2 = Conv(c2, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=False):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class Detect(nn.Module):
    """Anchor-free decoupled head; `raw` exports the undecoded head (DFL logits + class logits)."""

    def __init__(self, ch, nc=NC, reg_max=REG_MAX):
        super().__init__()
        self.nc, self.reg_max, self.raw = nc, reg_max, False
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(x, HEAD, 3), Conv(HEAD, HEAD, 3),
                                               nn.Conv2d(HEAD, 4 * reg_max, 1)) for x in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(x, HEAD, 3), Conv(HEAD, HEAD, 3),
                                               nn.Conv2d(HEAD, nc, 1)) for x in ch)
        self.dfl = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        self.dfl.weight.data[:] = torch.arange(reg_max, dtype=torch.float).view(1, reg_max, 1, 1)
        for b in self.cv3:  # a prior that keeps most random scores low, as a trained model's are
            b[-1].bias.data[:nc] = -8.0

    def forward(self, xs):
        b = xs[0].shape[0]
        box = torch.cat([self.cv2[i](x).view(b, 4 * self.reg_max, -1) for i, x in enumerate(xs)], 2)
        cls = torch.cat([self.cv3[i](x).view(b, self.nc, -1) for i, x in enumerate(xs)], 2)
        if self.raw:
            return torch.cat((box, cls), 1)
        anchors, strides = [], []
        for x, s in zip(xs, STRIDES):
            h, w = x.shape[2], x.shape[3]
            sy, sx = torch.meshgrid(torch.arange(h, dtype=torch.float) + 0.5,
                                    torch.arange(w, dtype=torch.float) + 0.5, indexing='ij')
            anchors.append(torch.stack((sx, sy), -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), float(s)))
        anchors = torch.cat(anchors).transpose(0, 1).unsqueeze(0)  # [1, 2, N]
        strides = torch.cat(strides).transpose(0, 1).unsqueeze(0)  # [1, 1, N]
        n = box.shape[2]
        dist = self.dfl(box.view(b, 4, self.reg_max, n).transpose(2, 1).softmax(1)).view(b, 4, n)
        lt, rb = dist.chunk(2, 1)
        x1y1, x2y2 = anchors - lt, anchors + rb
        xywh = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        return torch.cat((xywh, cls.sigmoid()), 1)


class YoloV8Test(nn.Module):
    def __init__(self):
        super().__init__()
        c1, c2, c3, c4, c5 = WIDTHS
        self.b0, self.b1, self.b2 = Conv(3, c1, 3, 2), Conv(c1, c2, 3, 2), C2f(c2, c2, 1, True)
        self.b3, self.b4 = Conv(c2, c3, 3, 2), C2f(c3, c3, 2, True)
        self.b5, self.b6 = Conv(c3, c4, 3, 2), C2f(c4, c4, 2, True)
        self.b7, self.b8, self.b9 = Conv(c4, c5, 3, 2), C2f(c5, c5, 1, True), SPPF(c5, c5)
        self.up = nn.Upsample(scale_factor=2, mode='nearest')
        self.h12 = C2f(c5 + c4, c4)
        self.h15 = C2f(c4 + c3, c3)
        self.h16, self.h18 = Conv(c3, c3, 3, 2), C2f(c3 + c4, c4)
        self.h19, self.h21 = Conv(c4, c4, 3, 2), C2f(c4 + c5, c5)
        self.detect = Detect((c3, c4, c5))

    def forward(self, x):
        x = self.b2(self.b1(self.b0(x)))
        p3 = self.b4(self.b3(x))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        n4 = self.h12(torch.cat((self.up(p5), p4), 1))
        o3 = self.h15(torch.cat((self.up(n4), p3), 1))
        o4 = self.h18(torch.cat((self.h16(o3), n4), 1))
        o5 = self.h21(torch.cat((self.h19(o4), p5), 1))
        return self.detect([o3, o4, o5])


def calibrate_bn(model, gen):
    """Random BN affine parameters, and running statistics measured on image-like inputs (smooth
    random fields), so that every layer passes the input's signal on: with untouched statistics a
    random network's activations collapse and its outputs barely depend on the image."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=gen)
            m.bias.data = 0.2 * torch.randn(n, generator=gen)
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(8):
            low = torch.rand(8, 3, 10, 10, generator=gen)
            x = nn.functional.interpolate(low, size=(IMG, IMG), mode='bilinear', align_corners=False)
            x = (x + 0.05 * torch.rand(8, 3, IMG, IMG, generator=gen)).clamp(0, 1)
            model(x)
    model.eval()


def export(model, path, raw):
    model.detect.raw = raw
    dummy = torch.rand(1, 3, IMG, IMG)
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=['images'],
                      output_names=['output0'],
                      dynamic_axes={'images': {0: 'batch'}, 'output0': {0: 'batch'}},
                      do_constant_folding=True)
    m = onnx.load(path)
    names = '{' + ', '.join(f"{i}: '{n}'" for i, n in enumerate(COCO)) + '}'
    meta = {'description': 'framepipe YOLOv8-architecture test model (random weights)',
            'author': 'framepipe models/gen_yolo_test.py', 'task': 'detect',
            'stride': str(max(STRIDES)), 'imgsz': f'[{IMG}, {IMG}]', 'names': names,
            'reg_max': str(REG_MAX), 'head': 'raw' if raw else 'decoded'}
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    m.producer_name = 'framepipe'
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print(f'{path}: {os.path.getsize(path)} bytes, output {"raw" if raw else "decoded"}')


def export_tiny_unknown(path):
    """A tiny classifier-like graph whose output matches no detector family: image [1,3,H,W] (H, W
    dynamic) -> Conv 5x5 (no padding, so inputs under 5x5 are rejected by ONNX Runtime) -> GAP -> [1,2,1,1]."""
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((2, 3, 5, 5)).astype(np.float32), 'w')
    graph = helper.make_graph(
        [helper.make_node('Conv', ['image', 'w'], ['c'], kernel_shape=[5, 5]),
         helper.make_node('GlobalAveragePool', ['c'], ['logits'])],
        'tiny_unknown', [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 'height', 'width'])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, 2, 1, 1])], [w])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='framepipe')
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print(f'{path}: {os.path.getsize(path)} bytes, output matches no family')


def export_shape_only(path, outputs, meta=None):
    """A tiny graph whose outputs have the given shapes (values: the image mean, broadcast), to test
    family detection on layouts without a real model at hand. outputs: {name: [1, ...]}."""
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np
    nodes = [helper.make_node('ReduceMean', ['image'], ['mean'], keepdims=0),
             helper.make_node('Reshape', ['mean', 'one'], ['scalar'])]
    inits = [numpy_helper.from_array(np.array([1, 1, 1], np.int64), 'one')]
    outs = []
    for name, shape in outputs.items():
        inits.append(numpy_helper.from_array(np.array(shape, np.int64), name + '_shape'))
        nodes.append(helper.make_node('Expand', ['scalar', name + '_shape'], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    graph = helper.make_graph(nodes, 'shape_only', [helper.make_tensor_value_info('image', TensorProto.FLOAT,
                                                                                 [1, 3, 32, 32])], outs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='framepipe')
    m.ir_version = 8
    for k, v in (meta or {}).items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print(f'{path}: {os.path.getsize(path)} bytes, outputs {outputs}')


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(20240611)
    gen = torch.Generator().manual_seed(20240611)
    model = YoloV8Test()
    calibrate_bn(model, gen)
    print('parameters:', sum(p.numel() for p in model.parameters()))
    with torch.no_grad():
        export(model, os.path.join(out, 'yolov8_test_320.onnx'), raw=False)
        export(model, os.path.join(out, 'yolov8_test_320_raw.onnx'), raw=True)
    export_tiny_unknown(os.path.join(out, 'tiny_unknown_family.onnx'))
    export_shape_only(os.path.join(out, 'tiny_yolov5_shape.onnx'), {'output0': [1, 630, 85]})
    export_shape_only(os.path.join(out, 'tiny_ssd_shape.onnx'),
                      {'detection_boxes': [1, 100, 4], 'detection_scores': [1, 100, 91]},
                      {'labels': 'background\nperson\n bicycle \ncar'})
    export_shape_only(os.path.join(out, 'tiny_meta_json_list.onnx'), {'output0': [1, 7, 100]},
                      {'names': '["cat", "dog \\"big\\"", "bird"]'})
    export_shape_only(os.path.join(out, 'tiny_meta_malformed.onnx'), {'output0': [1, 7, 100]},
                      {'names': "{0: 'cat', 1: "})


if __name__ == '__main__':
    main()
