// SPDX-License-Identifier: MIT
// Independent reference: runs an ONNX model with onnxruntime-node (ORT 1.30, a separate build from framepipe's) on a raw float32 tensor file.
//
// node ort_ref.js MODEL INPUT.bin OUTDIR BATCH D1 D2 D3 [perslot] [threads]
// Writes OUTDIR/out<i>.bin (float32, the batch concatenated) for each output in the model's order.
// "perslot" runs the batch one item at a time (for models whose batch axis is fixed at 1).
'use strict';
const fs = require('fs');
const path = require('path');
const cache = process.env.FP_CACHE_DIR || path.join(process.env.HOME || '/tmp', '.cache/framepipe');
const ort = require(path.join(cache, 'onnxruntime-node/node_modules/onnxruntime-node'));

async function main() {
  const [model, input, outdir, b, d1, d2, d3, mode, threads] = process.argv.slice(2);
  const batch = +b, item = [+d1, +d2, +d3];
  const perslot = mode === 'perslot';
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: +(threads || 1), interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const buf = fs.readFileSync(input);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const itemLen = item[0] * item[1] * item[2];
  if (all.length !== batch * itemLen) throw new Error(`input has ${all.length} floats, expected ${batch * itemLen}`);
  const runs = perslot ? batch : 1, per = perslot ? 1 : batch;
  const chunks = session.outputNames.map(() => []);
  for (let r = 0; r < runs; r++) {
    const data = all.slice(r * per * itemLen, (r + 1) * per * itemLen);
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, [per, ...item])};
    const res = await session.run(feeds);
    session.outputNames.forEach((n, i) => chunks[i].push(Buffer.from(res[n].data.buffer, res[n].data.byteOffset,
                                                                      res[n].data.byteLength)));
  }
  session.outputNames.forEach((n, i) => fs.writeFileSync(path.join(outdir, `out${i}.bin`), Buffer.concat(chunks[i])));
  console.log(JSON.stringify({outputs: session.outputNames}));
}
main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
