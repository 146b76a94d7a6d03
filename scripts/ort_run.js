#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU, 2 intra-op threads) on .npy
// inputs and writes every output as OUT_DIR/<escaped output name>.npy. It is the reference
// engine for golden outputs and the speed peer for benchmarks.
//
//   node scripts/ort_run.js [--bench N] [--threads T] MODEL.onnx OUT_DIR NAME=FILE.npy ...
//
// --bench N  after the outputs are written, runs N more times (after warm-up) and prints one
//            JSON line {"model", "runs", "threads", "median_ms", "min_ms", "mean_ms"}.
//            OUT_DIR may be "-" to write nothing.
// onnxruntime-node is looked up in $OCS_CACHE/ort (scripts/fetch_models.sh installs it there),
// then in node's usual places. Output file names use the same escaping as ocs'
// escape_file_name: [A-Za-z0-9_.-] kept, other bytes %XX, a leading '.' escaped, "" -> "%".
'use strict';

const fs = require('fs');
const path = require('path');

const { failer, loadOrt: loadOrtFrom } = require('./ort_load');
const fail = failer('ort_run');
const loadOrt = () => loadOrtFrom(fail);

// ---- .npy --------------------------------------------------------------------------------

// descr code (without byte order) -> [ort type, TypedArray, bytes per element]
const NPY_TYPES = {
  f4: ['float32', Float32Array, 4],
  f8: ['float64', Float64Array, 8],
  i8: ['int64', BigInt64Array, 8],
  u8: ['uint64', BigUint64Array, 8],
  i4: ['int32', Int32Array, 4],
  u4: ['uint32', Uint32Array, 4],
  i2: ['int16', Int16Array, 2],
  u2: ['uint16', Uint16Array, 2],
  i1: ['int8', Int8Array, 1],
  u1: ['uint8', Uint8Array, 1],
  b1: ['bool', Uint8Array, 1],
};

function readNpy(file) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: cannot read: ${e.message}`);
  }
  const bad = (what) => fail(`${file}: not a valid .npy file: ${what}`);
  if (bytes.length < 10 || bytes[0] !== 0x93 || bytes.toString('latin1', 1, 6) !== 'NUMPY') {
    bad('no \\x93NUMPY magic');
  }
  const major = bytes[6];
  if (major < 1 || major > 3) bad(`version ${major} is not supported`);
  const headerStart = major === 1 ? 10 : 12;
  if (bytes.length < headerStart) bad('truncated');
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  if (headerStart + headerLen > bytes.length) bad('truncated header');
  const header = bytes.toString('latin1', headerStart, headerStart + headerLen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) bad(`cannot parse header ${JSON.stringify(header)}`);
  if (fortran[1] === 'True') bad('Fortran order is not supported here; save a C-order array');
  const order = descr[1][0];
  const code = descr[1].slice(1);
  if (order === '>' && code[1] !== '1') bad('big-endian data is not supported here');
  const type = NPY_TYPES[code];
  if (!type) bad(`dtype '${descr[1]}' is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0)
      .map((s) => Number(s.replace(/L$/, '')));
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) bad(`bad shape (${shape[1]})`);
  const numel = dims.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const [ortType, ArrayType, itemSize] = type;
  if (bytes.length - dataStart !== numel * itemSize) {
    bad(`shape [${dims}] needs ${numel * itemSize} bytes, the file has ${bytes.length - dataStart}`);
  }
  // Copy into a fresh buffer: a typed array view needs an aligned offset.
  const buffer = new ArrayBuffer(numel * itemSize);
  new Uint8Array(buffer).set(bytes.subarray(dataStart, dataStart + numel * itemSize));
  const data = new ArrayType(buffer);
  return { type: ortType, data: ortType === 'bool' ? data.map((v) => (v ? 1 : 0)) : data, dims };
}

function descrFor(ortType) {
  for (const [code, [type]] of Object.entries(NPY_TYPES)) {
    if (type === ortType) return (code[1] === '1' ? '|' : '<') + code;
  }
  return null;
}

function npyBytes(ortType, dims, data) {
  const descr = descrFor(ortType);
  if (!descr) fail(`cannot write an output of type ${ortType} to .npy`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so that the data starts at a multiple of 64, as NumPy does (version 1.0 header).
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix[0] = 0x93;
  prefix.write('NUMPY', 1, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  let body;
  if (ortType === 'bool') {
    body = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]);
}

function escapeFileName(name) {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0) return '%';
  let out = '';
  bytes.forEach((c, i) => {
    const ch = String.fromCharCode(c);
    const kept = /[A-Za-z0-9_-]/.test(ch) || (ch === '.' && i > 0);
    out += kept ? ch : '%' + c.toString(16).toUpperCase().padStart(2, '0');
  });
  return out;
}

// ---- main --------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = { bench: 0, threads: 2, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--bench' || arg === '--threads') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) fail(`${arg} needs a positive integer`);
      options[arg.slice(2)] = value;
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write('usage: node scripts/ort_run.js [--bench N] [--threads T] ' +
                           'MODEL.onnx OUT_DIR NAME=FILE.npy ...\n');
      process.exit(0);
    } else {
      options.positional.push(arg);
    }
  }
  if (options.positional.length < 2) {
    fail('usage: node scripts/ort_run.js [--bench N] [--threads T] MODEL.onnx OUT_DIR ' +
         'NAME=FILE.npy ...');
  }
  return options;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const [modelPath, outDir, ...pairs] = options.positional;
  const ort = loadOrt();
  if (!fs.existsSync(modelPath)) fail(`${modelPath}: no such model file`);

  let session;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    fail(`${modelPath}: ONNX Runtime cannot load the model: ${e.message}`);
  }

  const feeds = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) fail(`input '${pair}' is not NAME=FILE.npy`);
    const name = pair.slice(0, eq);
    if (!session.inputNames.includes(name)) {
      fail(`${modelPath} has no input '${name}'; its inputs are ${session.inputNames.join(', ')}`);
    }
    const { type, data, dims } = readNpy(pair.slice(eq + 1));
    feeds[name] = new ort.Tensor(type, data, dims);
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) fail(`${modelPath}: inputs not given: ${missing.join(', ')}`);

  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    fail(`${modelPath}: run failed: ${e.message}`);
  }
  if (outDir !== '-') {
    fs.mkdirSync(outDir, { recursive: true });
    for (const name of session.outputNames) {
      const tensor = results[name];
      const file = path.join(outDir, escapeFileName(name) + '.npy');
      fs.writeFileSync(file, npyBytes(tensor.type, tensor.dims, tensor.data));
      process.stderr.write(`ort_run: ${name} ${tensor.type} [${tensor.dims}] -> ${file}\n`);
    }
  }

  if (options.bench > 0) {
    const warmup = Math.min(10, Math.max(3, Math.ceil(options.bench / 10)));
    for (let i = 0; i < warmup; i++) await session.run(feeds);
    const times = [];
    for (let i = 0; i < options.bench; i++) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const report = {
      model: path.basename(modelPath),
      runs: options.bench,
      threads: options.threads,
      median_ms: Number(median(times).toFixed(4)),
      min_ms: Number(Math.min(...times).toFixed(4)),
      mean_ms: Number((times.reduce((a, b) => a + b, 0) / times.length).toFixed(4)),
    };
    process.stdout.write(JSON.stringify(report) + '\n');
  }
  await session.release();
}

// bench/ort_int8.js reads its inputs with readNpy; run as a script, this file runs main.
module.exports = { readNpy };
if (require.main === module) main().catch((e) => fail(e.stack || String(e)));
