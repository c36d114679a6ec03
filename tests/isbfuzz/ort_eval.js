#!/usr/bin/env node
// ort_eval.js — evaluate an ONNX model with ONNX Runtime (onnxruntime-node, CPU), the
// independent reference of tests/isbfuzz. Reads one JSON request on stdin:
//   {"model": PATH, "inputs": {NAME: {"shape": [..], "file": RAW_F32}}, "out_dir": DIR}
// writes each output as DIR/NAME.f32 (raw little-endian float32, with '/' in NAME as '_') and
// prints {NAME: {"shape": [..], "file": PATH}} as JSON.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const req = JSON.parse(fs.readFileSync(0, 'utf8'));
  const session = await ort.InferenceSession.create(req.model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1,
  });
  const feeds = {};
  for (const [name, inp] of Object.entries(req.inputs)) {
    const buf = fs.readFileSync(inp.file);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    feeds[name] = new ort.Tensor('float32', Float32Array.from(data), inp.shape);
  }
  const res = await session.run(feeds);
  const out = {};
  for (const [name, t] of Object.entries(res)) {
    const file = path.join(req.out_dir, name.replace(/[^A-Za-z0-9_.-]/g, '_') + '.f32');
    fs.writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    out[name] = { shape: t.dims, file };
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
