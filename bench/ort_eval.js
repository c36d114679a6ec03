#!/usr/bin/env node
// ort_eval.js — evaluate one ONNX model once in ONNX Runtime (onnxruntime-node, CPU), as an
// independent reference for tests. Usage: node ort_eval.js MODEL.onnx IN.json OUT.json
// IN.json: [{"name", "dtype": "float32"|"float64"|"int64"|"int32"|"bool"|"uint8"|"int8", "dims",
// "data"}]
// (data flat, row-major); OUT.json gets {"outputs": [{"name", "dtype", "dims", "data"}]} in
// the model's output order. Exit 1 with the error on stderr if ONNX Runtime refuses it.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array,
  bool: Uint8Array, uint8: Uint8Array, int8: Int8Array,
};

async function main() {
  const [model, inPath, outPath] = process.argv.slice(2);
  if (!outPath) throw new Error('usage: node ort_eval.js MODEL.onnx IN.json OUT.json');
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'disabled',
  });
  const feeds = {};
  for (const t of JSON.parse(fs.readFileSync(inPath, 'utf8'))) {
    const A = ARRAYS[t.dtype];
    if (!A) throw new Error(`unsupported input dtype ${t.dtype}`);
    const data = t.dtype === 'int64' ? A.from(t.data.map(BigInt)) : A.from(t.data);
    feeds[t.name] = new ort.Tensor(t.dtype, data, t.dims);
  }
  const res = await session.run(feeds);
  const outputs = session.outputNames.map((name) => {
    const t = res[name];
    const data = Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v));
    return { name, dtype: t.type, dims: Array.from(t.dims), data };
  });
  fs.writeFileSync(outPath, JSON.stringify({ outputs }));
}

main().catch((e) => {
  console.error(`ort_eval: ${e.message || e}`);
  process.exit(1);
});
