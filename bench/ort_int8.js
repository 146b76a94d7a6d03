#!/usr/bin/env node
// What ONNX Runtime makes of a quantized model (issue #11): which ops its optimised graph runs,
// how many of them are int8 kernels, and how fast it runs next to the float model.
//
//   node bench/ort_int8.js count MODEL.onnx
//       Loads MODEL with graphOptimizationLevel 'all' and optimizedModelFilePath, parses the
//       saved graph and prints one JSON line:
//       {"model", "int8_layers", "float_layers", "int8_other", "ops": {op type: count}}
//       int8_layers: Conv/Gemm/MatMul done in integer arithmetic (QLinearConv, ConvInteger,
//       QLinearMatMul, MatMulInteger, MatMulIntegerToFloat, DynamicQuantizeMatMul, QGemm, ...);
//       float_layers: Conv/Gemm/MatMul left in float (Conv, FusedConv, NCHWc Conv, Gemm,
//       FusedGemm, MatMul, FusedMatMul); int8_other: the other QLinear* ops (QLinearAdd, ...).
//   node bench/ort_int8.js bench [--runs N] [--rounds R] [--threads T] FLOAT.onnx QUANT.onnx
//                                NAME=FILE.npy ...
//       Two sessions at 'all' with T intra-op threads (default 2), the same inputs; for R rounds
//       (default 3) times N runs (default 20, after warm-up) of the float model, then N of the
//       quantized one, and prints one JSON line with the best round's median of each
//       (the least disturbed round on a shared machine), every round's medians, and the ratio.
//   node bench/ort_int8.js interleave [--runs N] [--threads T] FLOAT.onnx QUANT.onnx ... NAME=FILE.npy ...
//       One session per model at 'all'; N cycles (default 20, after 3 warm-up runs each), each
//       cycle one run of every model in turn, so that a load change on a shared machine hits
//       them alike. Prints one JSON line per model: its median, and the median over the cycles
//       of its time / the first model's time in the same cycle (the ratio a noisy machine
//       disturbs least).
//   node bench/ort_int8.js profile [--runs N] [--threads T] MODEL.onnx NAME=FILE.npy ...
//       Where ORT's time goes: one session at 'all' with ORT's profiler on, 3 warm-up runs then
//       N runs (default 20); prints one JSON line with the kernel time per op type (ms per run,
//       summed over the nodes of that type, largest first) and the share of the total.
// onnxruntime-node comes from $OCS_CACHE/ort (scripts/fetch_models.sh).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const { failer, loadOrt: loadOrtFrom } = require('../scripts/ort_load');
const { readNpy } = require('../scripts/ort_run');
const fail = failer('ort_int8');

// Op types (any domain) by what they compute.
const INT8_LAYER_OPS = new Set(['QLinearConv', 'ConvInteger', 'QLinearMatMul', 'MatMulInteger',
  'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'QGemm', 'QAttention', 'DynamicQuantizeLSTM']);
const FLOAT_LAYER_OPS = new Set(['Conv', 'FusedConv', 'ConvTranspose', 'Gemm', 'FusedGemm',
  'MatMul', 'FusedMatMul']);

// ---- a minimal protobuf reader: enough of ModelProto to list the graph's nodes ---------------

function readVarint(buf, pos) {
  let value = 0;
  let shift = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[pos++];
    value += (byte & 0x7f) * shift;
    if (!(byte & 0x80)) return [value, pos];
    shift *= 128;
  }
}

// Calls visit(fieldNumber, wireType, value) for every field of the message in buf[start, end);
// value is a number for varints and {start, end} for length-delimited fields.
function forEachField(buf, start, end, visit) {
  let pos = start;
  while (pos < end) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      visit(field, wire, v);
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      visit(field, wire, { start: pos, end: pos + len });
      pos += len;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
}

// ModelProto.graph = 7, GraphProto.node = 1, NodeProto.op_type = 4, NodeProto.domain = 7.
// Nodes inside subgraphs (If/Loop bodies) are not listed.
function nodeOpTypes(buf) {
  const ops = [];
  forEachField(buf, 0, buf.length, (field, wire, graph) => {
    if (field !== 7 || wire !== 2) return;
    forEachField(buf, graph.start, graph.end, (f, w, node) => {
      if (f !== 1 || w !== 2) return;
      let opType = '';
      let domain = '';
      forEachField(buf, node.start, node.end, (nf, nw, v) => {
        if (nf === 4 && nw === 2) opType = buf.toString('utf8', v.start, v.end);
        if (nf === 7 && nw === 2) domain = buf.toString('utf8', v.start, v.end);
      });
      ops.push({ opType, domain });
    });
  });
  return ops;
}

// ---- sessions ------------------------------------------------------------------------------

async function createSession(ort, modelPath, threads, optimizedModelFilePath, profilePrefix) {
  if (!fs.existsSync(modelPath)) fail(`${modelPath}: no such model file`);
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,  // not the warning that an 'all' graph is hardware-specific
  };
  if (optimizedModelFilePath) options.optimizedModelFilePath = optimizedModelFilePath;
  if (profilePrefix) Object.assign(options, { enableProfiling: true, profileFilePrefix: profilePrefix });
  try {
    return await ort.InferenceSession.create(modelPath, options);
  } catch (e) {
    fail(`${modelPath}: ONNX Runtime cannot load the model: ${e.message}`);
  }
}

async function count(ort, modelPath) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ort_int8_'));
  const optimized = path.join(scratch, 'optimized.onnx');
  try {
    const session = await createSession(ort, modelPath, 1, optimized);
    await session.release();
    if (!fs.existsSync(optimized)) fail(`${modelPath}: ONNX Runtime wrote no optimised model`);
    let nodes;
    try {
      nodes = nodeOpTypes(fs.readFileSync(optimized));
    } catch (e) {
      fail(`${optimized}: cannot parse the optimised model: ${e.message}`);
    }
    const ops = {};
    const summary = { model: path.basename(modelPath), int8_layers: 0, float_layers: 0, int8_other: 0 };
    for (const { opType, domain } of nodes) {
      const key = domain && domain !== 'ai.onnx' ? `${domain}.${opType}` : opType;
      ops[key] = (ops[key] || 0) + 1;
      if (INT8_LAYER_OPS.has(opType)) summary.int8_layers++;
      else if (FLOAT_LAYER_OPS.has(opType)) summary.float_layers++;
      else if (opType.startsWith('QLinear')) summary.int8_other++;
    }
    summary.ops = Object.fromEntries(Object.entries(ops).sort());
    process.stdout.write(JSON.stringify(summary) + '\n');
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timeRuns(session, feeds, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(times);
}

function readFeeds(ort, pairs) {
  const feeds = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) fail(`input '${pair}' is not NAME=FILE.npy`);
    const { type, data, dims } = readNpy(pair.slice(eq + 1));
    feeds[pair.slice(0, eq)] = new ort.Tensor(type, data, dims);
  }
  return feeds;
}

// ORT's profile (a JSON list of trace events): the kernel time of the timed runs per op type.
// Node events are named "<node>_kernel_time" and carry args.op_name; the warm-up runs are the
// first `skip` "model_run" events and everything before the end of the last of them.
function kernelTimePerOp(events, skip, runs) {
  const modelRuns = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const from = skip > 0 ? modelRuns[skip - 1].ts + modelRuns[skip - 1].dur : 0;
  const perOp = {};
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    const op = (e.args && e.args.op_name) || '?';
    perOp[op] = (perOp[op] || 0) + e.dur / 1000 / runs;
    total += e.dur / 1000 / runs;
  }
  const rows = Object.entries(perOp).sort((a, b) => b[1] - a[1])
    .map(([op, ms]) => [op, Number(ms.toFixed(3)), Number((ms / total).toFixed(3))]);
  return { kernel_ms_per_run: Number(total.toFixed(3)), ops: rows };
}

async function profile(ort, options) {
  const [modelPath, ...pairs] = options.positional;
  if (!modelPath) fail('profile needs MODEL.onnx NAME=FILE.npy ...');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ort_profile_'));
  try {
    const session = await createSession(ort, modelPath, options.threads, undefined,
      path.join(scratch, 'profile'));
    const feeds = readFeeds(ort, pairs);
    const warmup = 3;
    for (let w = 0; w < warmup; w++) await session.run(feeds);
    const medianMs = await timeRuns(session, feeds, options.runs);
    session.endProfiling();
    await session.release();
    const file = fs.readdirSync(scratch).find((f) => f.endsWith('.json'));
    if (!file) fail(`${modelPath}: ONNX Runtime wrote no profile`);
    const events = JSON.parse(fs.readFileSync(path.join(scratch, file), 'utf8'));
    process.stdout.write(JSON.stringify({ model: path.basename(modelPath), threads: options.threads,
      runs: options.runs, median_ms: Number(medianMs.toFixed(3)),
      ...kernelTimePerOp(events, warmup, options.runs) }) + '\n');
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function interleave(ort, options) {
  const models = options.positional.filter((a) => a.endsWith('.onnx'));
  const pairs = options.positional.filter((a) => !a.endsWith('.onnx'));
  if (models.length < 2) fail('interleave needs two or more MODEL.onnx and NAME=FILE.npy ...');
  const feeds = readFeeds(ort, pairs);
  const sessions = [];
  for (const m of models) sessions.push(await createSession(ort, m, options.threads));
  for (const s of sessions) for (let w = 0; w < 3; w++) await s.run(feeds);
  const times = models.map(() => []);
  for (let i = 0; i < options.runs; i++) {
    for (const [k, s] of sessions.entries()) {
      const start = process.hrtime.bigint();
      await s.run(feeds);
      times[k].push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  for (const [k, m] of models.entries()) {
    process.stdout.write(JSON.stringify({ model: path.basename(m), threads: options.threads, runs: options.runs,
      median_ms: Number(median(times[k]).toFixed(3)),
      ratio_to_first: Number(median(times[k].map((t, i) => t / times[0][i])).toFixed(3)) }) + '\n');
  }
  for (const s of sessions) await s.release();
}

async function bench(ort, options) {
  const [floatPath, quantPath, ...pairs] = options.positional;
  if (!floatPath || !quantPath) fail('bench needs FLOAT.onnx QUANT.onnx NAME=FILE.npy ...');
  const sessions = [await createSession(ort, floatPath, options.threads),
    await createSession(ort, quantPath, options.threads)];
  const feeds = readFeeds(ort, pairs);
  for (const [i, s] of sessions.entries()) {
    const missing = s.inputNames.filter((n) => !(n in feeds));
    if (missing.length) fail(`${[floatPath, quantPath][i]}: inputs not given: ${missing.join(', ')}`);
    for (let w = 0; w < 3; w++) await s.run(feeds);  // warm-up
  }
  const rounds = [];
  for (let r = 0; r < options.rounds; r++) {
    const f = await timeRuns(sessions[0], feeds, options.runs);
    const q = await timeRuns(sessions[1], feeds, options.runs);
    rounds.push([Number(f.toFixed(3)), Number(q.toFixed(3))]);
  }
  const floatMs = Math.min(...rounds.map((x) => x[0]));
  const quantMs = Math.min(...rounds.map((x) => x[1]));
  process.stdout.write(JSON.stringify({
    float: path.basename(floatPath), quantized: path.basename(quantPath), threads: options.threads,
    runs: options.runs, float_ms: floatMs, quantized_ms: quantMs,
    ratio: Number((quantMs / floatMs).toFixed(3)), rounds,
  }) + '\n');
  for (const s of sessions) await s.release();
}

function parseArgs(argv) {
  const options = { command: argv[0], runs: 20, rounds: 3, threads: 2, positional: [] };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--runs' || arg === '--rounds' || arg === '--threads') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) fail(`${arg} needs a positive integer`);
      options[arg.slice(2)] = value;
    } else {
      options.positional.push(arg);
    }
  }
  return options;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.command === 'count' && options.positional.length === 1) {
    await count(loadOrtFrom(fail), options.positional[0]);
  } else if (options.command === 'bench') {
    await bench(loadOrtFrom(fail), options);
  } else if (options.command === 'interleave') {
    await interleave(loadOrtFrom(fail), options);
  } else if (options.command === 'profile') {
    await profile(loadOrtFrom(fail), options);
  } else {
    fail('usage: node bench/ort_int8.js count MODEL.onnx | bench [--runs N] [--rounds R] ' +
         '[--threads T] FLOAT.onnx QUANT.onnx NAME=FILE.npy ... | interleave [--runs N] [--threads T] ' +
         'FLOAT.onnx QUANT.onnx ... NAME=FILE.npy ... | profile [--runs N] [--threads T] ' +
         'MODEL.onnx NAME=FILE.npy ...');
  }
}

main().catch((e) => fail(e.stack || String(e)));
