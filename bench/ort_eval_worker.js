#!/usr/bin/env node
// The ONNX Runtime half of bench/numpy_ort_sweep.py (the "numpy + ONNX Runtime" pipeline of
// issue #12). This machine has ONNX Runtime for node only (scripts/fetch_models.sh), so the
// Python script keeps one of these workers open instead of calling onnxruntime from Python.
//
//   node bench/ort_eval_worker.js [--threads T] [--batch B] IMAGES.npy LABELS.npy INPUT_NAME
//
// Loads the images (float32 [N, ...]) and labels (uint8 [N]) once, prints "ready", then for
// every line MODEL.onnx read from stdin: creates a session (CPU, graph optimisation 'all', T
// intra-op threads, default 2), runs all images in batches of B (default 1000), and prints one
// JSON line {"top1", "correct", "count", "session_ms", "run_ms"}. Ends at end of input.
'use strict';

const readline = require('readline');

const { failer, loadOrt } = require('../scripts/ort_load');
const { readNpy } = require('../scripts/ort_run');
const fail = failer('ort_eval_worker');

function parseArgs(argv) {
  const options = { threads: 2, batch: 1000, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threads' || argv[i] === '--batch') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) fail(`${argv[i - 1]} needs a positive integer`);
      options[argv[i - 1].slice(2)] = value;
    } else {
      options.positional.push(argv[i]);
    }
  }
  if (options.positional.length !== 3) {
    fail('usage: node bench/ort_eval_worker.js [--threads T] [--batch B] IMAGES.npy LABELS.npy INPUT_NAME');
  }
  return options;
}

async function evaluate(ort, modelPath, images, labels, inputName, options) {
  const start = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const created = process.hrtime.bigint();
  const count = images.dims[0];
  const perImage = images.data.length / count;
  let correct = 0;
  for (let first = 0; first < count; first += options.batch) {
    const n = Math.min(options.batch, count - first);
    const batch = new ort.Tensor('float32', images.data.subarray(first * perImage, (first + n) * perImage),
                                 [n, ...images.dims.slice(1)]);
    const output = (await session.run({ [inputName]: batch }))[session.outputNames[0]];
    const classes = output.data.length / n;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (output.data[i * classes + c] > output.data[i * classes + best]) best = c;
      }
      if (best === labels.data[first + i]) correct++;
    }
  }
  const done = process.hrtime.bigint();
  await session.release();
  return {
    top1: correct / count, correct, count,
    session_ms: Number(created - start) / 1e6, run_ms: Number(done - created) / 1e6,
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const [imagesFile, labelsFile, inputName] = options.positional;
  const ort = loadOrt(fail);
  const images = readNpy(imagesFile);
  const labels = readNpy(labelsFile);
  if (images.type !== 'float32') fail(`${imagesFile}: float32 images expected, not ${images.type}`);
  if (labels.dims[0] !== images.dims[0]) fail(`${labelsFile}: ${labels.dims[0]} labels for ${images.dims[0]} images`);
  process.stdout.write('ready\n');
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const modelPath = line.trim();
    if (!modelPath) continue;
    try {
      process.stdout.write(JSON.stringify(await evaluate(ort, modelPath, images, labels, inputName, options)) + '\n');
    } catch (e) {
      fail(`${modelPath}: ${e.message}`);
    }
  }
}

main().catch((e) => fail(e.stack || String(e)));
