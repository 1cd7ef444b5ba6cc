#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// bench/run.py part 1, paths (a), (b), (d): the seed's traditional path, its stdin "zero-copy", POST /api/detect.
//
// usage: node bench/zc_node.js traditional|stdin|api [--frames N] [--warmup N] [--width W] [--height H]
//                              [--port P]
//
// Same round trip as bench/zc_ring.c: the producer fills one RGB frame (every byte = frame number), hands
// it to a processing process (a child node), which computes the shared checksum (the byte at every 64th
// offset, summed) and answers a JSON result; the producer parses it and checks it. One frame in flight.
//   traditional: as the seed's TypeScript shows it: frame.toString('base64'), JSON.stringify, http POST to
//                127.0.0.1, the server JSON.parse()s and Buffer.from(b64, 'base64')s, answers
//                JSON.stringify(result); the client JSON.parse()s the answer.
//   stdin:       the raw frame written to the child's stdin; the child answers one JSON line on stdout.
//   api:         (d) the raw frame POSTed to /api/detect?width=&height=&format=rgb24 of a `framepipe serve`
//                already listening on 127.0.0.1:--port; its answer is that frame's detections (real work:
//                decode of the body, prep, the model, post), not the checksum.
// Per-frame time: from the start of the fill to the parsed result. Prints one JSON object on stdout:
// {"path":...,"width":W,"height":H,"frames":N,"ms":[...]}.
'use strict';
const http = require('http');
const { spawn } = require('child_process');

function checksum(buf) {
  let s = 0;
  for (let i = 0; i < buf.length; i += 64) s += buf[i];
  return s;
}

function parseArgs(argv) {
  const o = { mode: argv[0], frames: 200, warmup: 10, width: 1920, height: 1080, port: 0 };
  for (let i = 1; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    const v = Number(argv[i + 1]);
    if (!(k in o) || k === 'mode' || !Number.isInteger(v) || v < 0) {
      process.stderr.write(`zc_node: bad option '${argv[i]} ${argv[i + 1]}'\n`);
      process.exit(2);
    }
    o[k] = v;
  }
  if (!['traditional', 'stdin', 'api', 'serve-http', 'serve-stdin'].includes(o.mode)) {
    process.stderr.write(`zc_node: mode '${o.mode}': want traditional, stdin or api\n`);
    process.exit(2);
  }
  return o;
}

// ---- the processing processes ----

function serveHttp() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      const frame = Buffer.from(body.image, 'base64');
      const result = { frame: body.frame, bytes: frame.length, checksum: checksum(frame), detections: [] };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(result));
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

function serveStdin(frameBytes) {
  let frame = Buffer.allocUnsafe(frameBytes);
  let have = 0;
  let n = 0;
  process.stdin.on('data', (chunk) => {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(frameBytes - have, chunk.length - off);
      chunk.copy(frame, have, off, off + take);
      have += take;
      off += take;
      if (have === frameBytes) {
        const result = { frame: n++, bytes: frameBytes, checksum: checksum(frame), detections: [] };
        process.stdout.write(JSON.stringify(result) + '\n');
        have = 0;
      }
    }
  });
}

// ---- the producer ----

function postFrame(port, frame, k) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ frame: k, width: 0, height: 0, image: frame.toString('base64') });
    const req = http.request({ host: '127.0.0.1', port, path: '/detect', method: 'POST', agent: keepAlive,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

// (d): the raw frame as the body of POST /api/detect?width=&height=&format=rgb24 of a running `framepipe serve`
function postRaw(o, frame) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: o.port, method: 'POST', agent: keepAlive,
      path: `/api/detect?width=${o.width}&height=${o.height}&format=rgb24`,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': frame.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) {
          reject(new Error(`POST /api/detect: HTTP ${res.statusCode}: ${text.slice(0, 160)}`));
        } else {
          resolve(JSON.parse(text));
        }
      });
    });
    req.on('error', reject);
    req.end(frame);
  });
}

function lineReader(stream) {
  let buf = '';
  const waiting = [];
  const lines = [];
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (waiting.length) waiting.shift()(line); else lines.push(line);
    }
  });
  return () => new Promise((resolve) => (lines.length ? resolve(lines.shift()) : waiting.push(resolve)));
}

async function produceApi(o) {
  const frame = Buffer.allocUnsafe(o.width * o.height * 3);
  const ms = [];
  for (let k = 0; k < o.warmup + o.frames; k++) {
    const t0 = process.hrtime.bigint();
    frame.fill(k & 0xff);
    const result = await postRaw(o, frame);
    const t1 = process.hrtime.bigint();
    if (typeof result !== 'object' || result === null) throw new Error(`frame ${k}: not a JSON object`);
    if (k >= o.warmup) ms.push(Number(t1 - t0) / 1e6);
  }
  keepAlive.destroy();
  process.stdout.write(JSON.stringify({ path: 'api', width: o.width, height: o.height, frames: o.frames,
    ms: ms.map((x) => Math.round(x * 1e4) / 1e4) }) + '\n');
}

async function produce(o) {
  if (o.mode === 'api') return produceApi(o);
  const frameBytes = o.width * o.height * 3;
  const child = spawn(process.execPath, [__filename, o.mode === 'traditional' ? 'serve-http' : 'serve-stdin',
    '--width', String(o.width), '--height', String(o.height)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const nextLine = lineReader(child.stdout);
  let port = 0;
  if (o.mode === 'traditional') port = Number(await nextLine());
  const frame = Buffer.allocUnsafe(frameBytes);
  const ms = [];
  for (let k = 0; k < o.warmup + o.frames; k++) {
    const t0 = process.hrtime.bigint();
    frame.fill(k & 0xff);
    let result;
    if (o.mode === 'traditional') {
      result = await postFrame(port, frame, k);
    } else {
      const ok = child.stdin.write(frame);
      const line = nextLine();
      if (!ok) await new Promise((r) => child.stdin.once('drain', r));
      result = JSON.parse(await line);
    }
    const t1 = process.hrtime.bigint();
    const want = (k & 0xff) * Math.ceil(frameBytes / 64);
    if (result.checksum !== want || result.bytes !== frameBytes) {
      process.stderr.write(`zc_node: frame ${k}: wrong result ${JSON.stringify(result)}\n`);
      child.kill();
      process.exit(1);
    }
    if (k >= o.warmup) ms.push(Number(t1 - t0) / 1e6);
  }
  keepAlive.destroy();
  child.stdin.end();
  child.kill();
  process.stdout.write(JSON.stringify({ path: o.mode, width: o.width, height: o.height, frames: o.frames,
    ms: ms.map((x) => Math.round(x * 1e4) / 1e4) }) + '\n');
}

const o = parseArgs(process.argv.slice(2));
if (o.mode === 'serve-http') serveHttp();
else if (o.mode === 'serve-stdin') serveStdin(o.width * o.height * 3);
else produce(o).catch((e) => { process.stderr.write(`zc_node: ${e.stack}\n`); process.exit(1); });
