#!/usr/bin/env node
// ort_bench.js — time one ONNX model in ONNX Runtime (onnxruntime-node, CPU provider).
// Usage: node ort_bench.js MODEL.onnx [--batch B] [--threads T] [--iters N] [--warmup W]
// Feeds every float input a fixed pseudo-random tensor whose symbolic dims are B (first)
// or 1; prints one JSON object: engine, median_ms, p10_ms, p90_ms, iters, threads, batch.
'use strict';
const ort = require('onnxruntime-node');
const { performance } = require('perf_hooks');

function parseArgs(argv) {
  const a = { model: null, batch: 1, threads: 1, iters: 50, warmup: 5 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`bad value for ${k}`);
      return v;
    };
    if (k === '--batch') a.batch = num();
    else if (k === '--threads') a.threads = num();
    else if (k === '--iters') a.iters = num();
    else if (k === '--warmup') a.warmup = num();
    else if (!k.startsWith('-') && a.model === null) a.model = k;
    else throw new Error(`unknown argument ${k}`);
  }
  if (a.model === null) throw new Error('usage: node ort_bench.js MODEL.onnx [--batch B] [--threads T] [--iters N] [--warmup W]');
  return a;
}

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = {};
  let seed = 12345;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 - 0.5; };
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor || meta.type !== 'float32') throw new Error(`input ${meta.name}: only float32 tensors are supported`);
    const dims = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : (i === 0 ? a.batch : 1)));
    const n = dims.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rand();
    feeds[meta.name] = new ort.Tensor('float32', data, dims);
  }
  for (let i = 0; i < a.warmup; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < a.iters; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  const r = (x) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({
    engine: 'onnxruntime', version: require('onnxruntime-node/package.json').version,
    median_ms: r(quantile(times, 0.5)), p10_ms: r(quantile(times, 0.1)), p90_ms: r(quantile(times, 0.9)),
    iters: a.iters, threads: a.threads, batch: a.batch,
  }));
}

main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
