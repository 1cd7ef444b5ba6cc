#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The traditional path in Node.js (the seed's own language): JSON {"image": base64} over HTTP, a fresh process per request.
//
// usage: node bench/peer_base64_server.js PORT FRAMEPIPE MODEL
//
// The Node.js twin of bench/peer_base64_server.py, with the request handling of bench/zc_node.js's
// traditional path: the body collected into Buffers and concatenated, JSON.parse, Buffer.from(b64,
// 'base64') (a new buffer per call), the picture written to a temporary file and a fresh
// `FRAMEPIPE detect --quiet MODEL FILE` run for it (process start, model load, decode, inference)
// under /usr/bin/time (for the child's peak RSS), whose JSON line is the answer. The same model,
// runtime and decoder as `framepipe serve`. GET /stats: {"children_max_rss_kb", "self_max_rss_kb"}.
'use strict';
const http = require('http');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile } = require('child_process');

const [port, framepipe, model] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
if (!port || !framepipe || !model) {
  process.stderr.write('usage: node peer_base64_server.js PORT FRAMEPIPE MODEL\n');
  process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-peer-node-'));
let seq = 0;
let childMaxRss = 0;

function answer(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    answer(res, 200, JSON.stringify({ children_max_rss_kb: childMaxRss,
                                      self_max_rss_kb: process.resourceUsage().maxRSS }));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let picture;
    try {
      picture = Buffer.from(JSON.parse(Buffer.concat(chunks).toString()).image, 'base64');
    } catch (e) {
      answer(res, 400, JSON.stringify({ error: String(e) }));
      return;
    }
    const file = path.join(tmp, `${process.pid}-${seq++}.jpg`);
    fs.writeFileSync(file, picture);
    execFile('/usr/bin/time', ['-f', 'maxrss_kb=%M', framepipe, 'detect', '--quiet', model, file],
             { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      fs.unlink(file, () => {});
      const m = /maxrss_kb=(\d+)/.exec(stderr);
      if (m)
        childMaxRss = Math.max(childMaxRss, Number(m[1]));
      if (err)
        answer(res, 500, JSON.stringify({ error: stderr.slice(-500) }));
      else
        answer(res, 200, stdout.trim() || '{}');
    });
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
});
