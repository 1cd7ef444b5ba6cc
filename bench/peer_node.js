#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Peer for bench_pipeline.py: BlazeFace on a video with Node.js: an ffmpeg child (rawvideo rgb24) + onnxruntime-node.
'use strict';
/*
 * usage: node bench/peer_node.js [options] MODEL CLIP
 *   -o FILE             JSON lines, one per frame (default /dev/null; "-" = stdout)
 *   --threads N         ORT intra-op threads (default 1; bench_pipeline.py gives framepipe's --threads)
 *   --decoder-threads N ffmpeg -threads N (default 1)
 *   --conf X --iou X    score / weighted-NMS IoU thresholds (default 0.5 / 0.3, framepipe's BlazeFace defaults)
 *   --max-frames N      stop after N frames (0: the whole clip)
 *
 * The chain: ffprobe for the source size; `ffmpeg -i CLIP -vf scale=W:H,pad=128:128:X:Y -f rawvideo -pix_fmt
 * rgb24 -` (ffmpeg does decode, letterbox and RGB conversion); JS normalises each 128x128x3 frame to
 * float32 [-1, 1] NHWC, awaits session.run, decodes the 896 MediaPipe anchors, runs weighted NMS, undoes the
 * letterbox and writes one JSON line. Prints one JSON summary on stdout: {"frames", "seconds", "fps",
 * "latency_ms": {"p50", "p90", "p99", "max"}, "detections", ...}; latency is per frame, from the frame's last
 * byte read from ffmpeg's pipe to its JSON line written. ORT session options as framepipe's FpModel sets
 * them: intra-op threads, sequential, all graph optimisations, no spinning. stages_ms: mean ms per frame in
 * read (waiting for the next frame from ffmpeg: decode + scale run in the child), prep (normalise to
 * float32), infer (session.run), post (anchor decode + NMS + JSON line).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const ORT_DIR = path.join(process.env.FP_CACHE_DIR || path.join(os.homedir(), '.cache', 'framepipe'),
  'onnxruntime-node', 'node_modules', 'onnxruntime-node');
const NUM_KEYPOINTS = 6;

function usage(msg) {
  process.stderr.write(`peer_node.js: ${msg}\nusage: node peer_node.js [-o FILE] [--threads N] ` +
    '[--decoder-threads N] [--conf X] [--iou X] [--max-frames N] MODEL CLIP\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { out: '/dev/null', threads: 1, decThreads: 1, conf: 0.5, iou: 0.3, maxFrames: 0, pos: [] };
  const take = (i) => { if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`); return argv[i + 1]; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-o') o.out = take(i++);
    else if (a === '--threads') o.threads = parseInt(take(i++), 10);
    else if (a === '--decoder-threads') o.decThreads = parseInt(take(i++), 10);
    else if (a === '--conf') o.conf = parseFloat(take(i++));
    else if (a === '--iou') o.iou = parseFloat(take(i++));
    else if (a === '--max-frames') o.maxFrames = parseInt(take(i++), 10);
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else o.pos.push(a);
  }
  if (o.pos.length !== 2) usage('needs MODEL and CLIP');
  return o;
}

// MediaPipe SsdAnchorsCalculator, face_detection_front (128) / back (256) options, fixed anchor size.
function ssdAnchors(size) {
  const strides = size === 128 ? [8, 16, 16, 16] : [16, 32, 32, 32];
  const out = [];
  let layer = 0;
  while (layer < strides.length) {
    let perCell = 0, last = layer;
    while (last < strides.length && strides[last] === strides[layer]) { perCell += 2; last++; }
    const fm = Math.ceil(size / strides[layer]);
    for (let y = 0; y < fm; y++)
      for (let x = 0; x < fm; x++)
        for (let k = 0; k < perCell; k++) out.push((x + 0.5) / fm, (y + 0.5) / fm);
    layer = last;
  }
  return Float32Array.from(out);
}

function iou(a, b) {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

// MediaPipe's weighted NMS: each kept box is the score-weighted mean of the group it suppresses.
function weightedNms(cands, iouThr, maxDet) {
  cands.sort((p, q) => q.score - p.score);
  const alive = new Uint8Array(cands.length).fill(1);
  const out = [];
  for (let i = 0; i < cands.length && out.length < maxDet; i++) {
    if (!alive[i]) continue;
    const box = [0, 0, 0, 0], kp = new Array(2 * NUM_KEYPOINTS).fill(0);
    let wsum = 0;
    for (let j = i; j < cands.length; j++) {
      if (!alive[j] || (j !== i && !(iou(cands[i].box, cands[j].box) > iouThr))) continue;
      const w = cands[j].score;
      for (let k = 0; k < 4; k++) box[k] += w * cands[j].box[k];
      for (let k = 0; k < kp.length; k++) kp[k] += w * cands[j].kp[k];
      wsum += w;
      alive[j] = 0;
    }
    out.push({ box: box.map((v) => v / wsum), score: cands[i].score, kp: kp.map((v) => v / wsum) });
  }
  return out;
}

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)];
}

const r1 = (v) => Math.round(v * 10) / 10;
const r3 = (v) => Math.round(v * 1000) / 1000;

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const [modelPath, clip] = o.pos;
  let ort;
  try {
    ort = require(ORT_DIR);
  } catch (e) {
    process.stderr.write(`peer_node.js: cannot load onnxruntime-node from ${ORT_DIR} ` +
      `(run scripts/setup.d/20-onnxruntime.sh): ${e.message.split('\n')[0]}\n`);
    process.exit(1);
  }
  let session;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all', logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
  } catch (e) {
    process.stderr.write(`peer_node.js: onnxruntime-node cannot load ${modelPath}: ${e.message}\n`);
    process.exit(1);
  }
  const inName = session.inputNames[0];
  const size = 128 * (modelPath.includes('256') ? 2 : 1);
  const anchors = ssdAnchors(size);
  const logitThr = Math.log(o.conf / (1 - o.conf));

  let probe;
  try {
    probe = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries',
      'stream=width,height', '-of', 'csv=p=0', clip]).toString().trim().split(',').map(Number);
  } catch (e) {
    process.stderr.write(`peer_node.js: ffprobe cannot read ${clip}\n`);
    process.exit(1);
  }
  const [W, H] = probe;
  if (!(W > 0 && H > 0)) { process.stderr.write(`peer_node.js: no video stream in ${clip}\n`); process.exit(1); }
  const s = Math.min(size / W, size / H);
  const cw = Math.round(W * s), ch = Math.round(H * s);
  const left = Math.floor((size - cw) / 2), top = Math.floor((size - ch) / 2);

  const outFd = o.out === '-' ? 1 : fs.openSync(o.out, 'w');
  const frameBytes = size * size * 3;
  const input = new Float32Array(frameBytes);
  const tensor = new ort.Tensor('float32', input, [1, size, size, 3]);
  const feeds = { [inName]: tensor };
  const lat = [];
  let n = 0, ndet = 0;

  const tStart = process.hrtime.bigint();
  const ff = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-threads', String(o.decThreads),
    '-i', clip, '-an', '-vsync', 'passthrough', '-vf', `scale=${cw}:${ch}:flags=bilinear,pad=${size}:${size}:${left}:${top}:black`,
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ffExit = new Promise((resolve) => ff.on('close', (code) => resolve(code)));
  let pending = Buffer.alloc(0);
  let stop = false;

  const stages = { read: 0, prep: 0, infer: 0, post: 0 };
  let tRead = process.hrtime.bigint();
  const ms = (a, b) => Number(b - a) / 1e6;

  async function onFrame(rgb) {
    const t0 = process.hrtime.bigint();
    stages.read += ms(tRead, t0);
    for (let i = 0; i < frameBytes; i++) input[i] = rgb[i] / 127.5 - 1;
    const t1 = process.hrtime.bigint();
    const res = await session.run(feeds);
    const t2 = process.hrtime.bigint();
    stages.prep += ms(t0, t1);
    stages.infer += ms(t1, t2);
    const sa = res[session.outputNames[0]].data, sb = res[session.outputNames[1]].data;
    const ra = res[session.outputNames[2]].data, rb = res[session.outputNames[3]].data;
    const na = sa.length, K = ra.length / na;
    const cands = [];
    for (let i = 0; i < anchors.length / 2; i++) {
      let logit = i < na ? sa[i] : sb[i - na];
      logit = Math.max(-100, Math.min(100, logit));
      if (!(logit > logitThr)) continue;
      const r = i < na ? ra.subarray(i * K, i * K + K) : rb.subarray((i - na) * K, (i - na) * K + K);
      const ax = anchors[2 * i], ay = anchors[2 * i + 1];
      const xc = r[0] / size + ax, yc = r[1] / size + ay, w = r[2] / size, h = r[3] / size;
      // model pixels -> source pixels (undo the letterbox), clipped to the frame
      const bx = (v) => Math.max(0, Math.min(W, (v * size - left) / s));
      const by = (v) => Math.max(0, Math.min(H, (v * size - top) / s));
      const kp = [];
      for (let q = 0; q < NUM_KEYPOINTS; q++) {
        kp.push(((r[4 + 2 * q] / size + ax) * size - left) / s, ((r[5 + 2 * q] / size + ay) * size - top) / s);
      }
      cands.push({ box: [bx(xc - w / 2), by(yc - h / 2), bx(xc + w / 2), by(yc + h / 2)],
        score: 1 / (1 + Math.exp(-logit)), kp });
    }
    const dets = weightedNms(cands, o.iou, 100).map((d) => ({
      label: 'face', score: Math.round(d.score * 1e4) / 1e4, box: d.box.map(r1),
      keypoints: Array.from({ length: NUM_KEYPOINTS }, (_, q) => [r1(d.kp[2 * q]), r1(d.kp[2 * q + 1])]),
    }));
    fs.writeSync(outFd, JSON.stringify({ source: clip, frame: n, width: W, height: H, detections: dets }) + '\n');
    tRead = process.hrtime.bigint();
    stages.post += ms(t2, tRead);
    lat.push(ms(t0, tRead));
    n++;
    ndet += dets.length;
    if (o.maxFrames && n >= o.maxFrames) stop = true;
  }

  for await (const chunk of ff.stdout) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let off = 0;
    while (!stop && pending.length - off >= frameBytes) {
      await onFrame(pending.subarray(off, off + frameBytes));
      off += frameBytes;
    }
    pending = pending.subarray(off);
    if (stop) { ff.kill('SIGTERM'); break; }
  }
  const code = await ffExit;
  const seconds = Number(process.hrtime.bigint() - tStart) / 1e9;
  if (outFd !== 1) fs.closeSync(outFd);
  if (!stop && code !== 0) {
    process.stderr.write(`peer_node.js: ffmpeg exited with ${code} on ${clip}\n`);
    process.exit(1);
  }
  if (n === 0) { process.stderr.write(`peer_node.js: no frame decoded from ${clip}\n`); process.exit(1); }
  lat.sort((a, b) => a - b);
  const summary = {
    frames: n, seconds: r3(seconds), fps: Math.round((n / seconds) * 100) / 100, detections: ndet,
    latency_ms: { p50: r3(percentile(lat, 50)), p90: r3(percentile(lat, 90)), p99: r3(percentile(lat, 99)),
      max: r3(lat[lat.length - 1]) },
    stages_ms: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, r3(v / n)])),
    node: process.version, onnxruntime_node: require(path.join(ORT_DIR, 'package.json')).version,
    threads: o.threads, decoder_threads: o.decThreads,
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((e) => { process.stderr.write(`peer_node.js: ${e.stack || e}\n`); process.exit(1); });
