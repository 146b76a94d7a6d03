#!/usr/bin/env node
// Runs a stateful model (a voice-activity detector such as Silero VAD) with ONNX Runtime over an
// audio stream, chunk by chunk, carrying state outputs back to state inputs, and writes the
// per-chunk score: the reference for `ocs stream` (tests/stream_vad_test.cpp).
//
//   node scripts/ort_stream.js [--chunk 512] [--state IN=OUT ...] [--fix NAME=VALUE ...]
//        [--output-name NAME] [--threads T] [--optimization disabled|basic|extended|all]
//        MODEL.onnx AUDIO.npy|AUDIO.wav OUT.npy|OUT.csv
//
// --optimization: ORT's graph optimization level (default all, as scripts/ort_run.js). At
// extended and all, ORT fuses DequantizeLinear -> Conv/MatMul -> QuantizeLinear into integer
// kernels (QLinearConv, ...), which round differently from the float simulation of the QDQ graph.
//
// The same loop as src/eval/stream_runner.h: chunk k is samples [k*chunk, (k+1)*chunk) shaped
// [1, chunk] (or [chunk] for a rank-1 input), a last partial chunk is dropped; each state input
// starts as zeros of its declared shape (symbolic dims as 1) and then takes its paired output;
// each --fix input is held at VALUE in its declared type (fed only if the model has it). The
// audio input is the first float input that is neither a state nor fixed. The score is element 0
// of --output-name (default: the first output). AUDIO.npy: 1-D float32; AUDIO.wav: 16-bit PCM,
// mono or stereo (averaged), scaled by 1/32768. OUT.npy: float32 [chunks]; else CSV chunk,score.
// onnxruntime-node is looked up in $OCS_CACHE/ort, as in scripts/ort_run.js.
'use strict';

const fs = require('fs');
const path = require('path');

const { failer, loadOrt: loadOrtFrom } = require('./ort_load');
const fail = failer('ort_stream');
const loadOrt = () => loadOrtFrom(fail);

// ---- audio -------------------------------------------------------------------------------

function readNpyFloat32(file, bytes) {
  const bad = (what) => fail(`${file}: not a 1-D float32 .npy: ${what}`);
  if (bytes.length < 10 || bytes[0] !== 0x93 || bytes.toString('latin1', 1, 6) !== 'NUMPY') bad('no magic');
  const major = bytes[6];
  const headerStart = major === 1 ? 10 : 12;
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const header = bytes.toString('latin1', headerStart, headerStart + headerLen);
  if (!/'descr'\s*:\s*'<f4'/.test(header)) bad(`dtype in ${JSON.stringify(header)}`);
  if (/'fortran_order'\s*:\s*True/.test(header)) bad('Fortran order');
  const shape = /'shape'\s*:\s*\(\s*(\d+)\s*,?\s*\)/.exec(header);
  if (!shape) bad(`shape in ${JSON.stringify(header)}`);
  const count = Number(shape[1]);
  const start = headerStart + headerLen;
  if (bytes.length - start !== 4 * count) bad('truncated');
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = bytes.readFloatLE(start + 4 * i);
  return out;
}

function readWav(file, bytes) {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WAVE') {
    fail(`${file}: not a WAV file`);
  }
  let channels = 0;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = bytes.toString('latin1', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      let format = bytes.readUInt16LE(body);
      if (format === 0xfffe && size >= 26) format = bytes.readUInt16LE(body + 24);
      channels = bytes.readUInt16LE(body + 2);
      const bits = bytes.readUInt16LE(body + 14);
      if (format !== 1 || bits !== 16 || (channels !== 1 && channels !== 2)) {
        fail(`${file}: only 16-bit PCM mono/stereo is read (format ${format}, ${bits} bits, ${channels} channels)`);
      }
    } else if (id === 'data') {
      if (!channels) fail(`${file}: data before fmt`);
      const length = Math.min(size === 0 || size === 0xffffffff ? bytes.length - body : size, bytes.length - body);
      const frames = Math.floor(length / (2 * channels));
      const out = new Float32Array(frames);
      for (let f = 0; f < frames; f++) {
        let sum = 0;
        for (let c = 0; c < channels; c++) sum += bytes.readInt16LE(body + 2 * (f * channels + c));
        out[f] = Math.fround(sum / (32768 * channels));
      }
      return out;
    }
    at = body + size + (size & 1);
  }
  fail(`${file}: no data chunk`);
}

function readAudio(file) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: cannot read: ${e.message}`);
  }
  return file.endsWith('.npy') ? readNpyFloat32(file, bytes) : readWav(file, bytes);
}

function writeScores(file, scores) {
  if (file.endsWith('.npy')) {
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${scores.length},), }`;
    header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
    const prefix = Buffer.alloc(10);
    prefix[0] = 0x93;
    prefix.write('NUMPY', 1, 'latin1');
    prefix[6] = 1;
    prefix.writeUInt16LE(header.length, 8);
    const data = Float32Array.from(scores);
    fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'),
                                          Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  } else {
    fs.writeFileSync(file, 'chunk,score\n' + scores.map((p, i) => `${i},${p}`).join('\n') + '\n');
  }
}

// ---- main --------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = { chunk: 512, threads: 1, states: [], fixed: {}, outputName: '', optimization: 'all',
                    positional: [] };
  const pair = (arg, value) => {
    const eq = value ? value.indexOf('=') : -1;
    if (eq <= 0 || eq === value.length - 1) fail(`${arg} needs NAME=VALUE, got '${value}'`);
    return [value.slice(0, eq), value.slice(eq + 1)];
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--chunk' || arg === '--threads') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) fail(`${arg} needs a positive integer`);
      options[arg.slice(2)] = value;
    } else if (arg === '--state') {
      options.states.push(pair(arg, argv[++i]));
    } else if (arg === '--fix') {
      const [name, value] = pair(arg, argv[++i]);
      options.fixed[name] = value;
    } else if (arg === '--output-name') {
      options.outputName = argv[++i];
    } else if (arg === '--optimization') {
      options.optimization = argv[++i];
      if (!['disabled', 'basic', 'extended', 'all'].includes(options.optimization)) {
        fail('--optimization takes disabled, basic, extended or all');
      }
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write('usage: node scripts/ort_stream.js [--chunk N] [--state IN=OUT] [--fix NAME=VALUE] ' +
                           '[--output-name NAME] MODEL.onnx AUDIO OUT\n');
      process.exit(0);
    } else {
      options.positional.push(arg);
    }
  }
  if (options.positional.length !== 3) fail('usage: node scripts/ort_stream.js [options] MODEL.onnx AUDIO OUT');
  return options;
}

const TYPED = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array,
};

function filled(ort, type, dims, value) {
  const ArrayType = TYPED[type];
  if (!ArrayType) fail(`cannot build an input of type ${type}`);
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new ArrayType(count);
  data.fill(type === 'int64' ? BigInt(value) : Number(value));
  return new ort.Tensor(type, data, dims);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const [modelPath, audioPath, outPath] = options.positional;
  const ort = loadOrt();
  const audio = readAudio(audioPath);
  let session;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'], intraOpNumThreads: options.threads, interOpNumThreads: 1,
      graphOptimizationLevel: options.optimization,
    });
  } catch (e) {
    fail(`${modelPath}: ONNX Runtime cannot load the model: ${e.message}`);
  }
  const meta = {};
  for (const m of session.inputMetadata) meta[m.name] = m;
  const staticDims = (m) => m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1));

  const feeds = {};
  const stateInputs = new Set();
  for (const [input, output] of options.states) {
    if (!meta[input]) fail(`${modelPath} has no input '${input}'`);
    if (!session.outputNames.includes(output)) fail(`${modelPath} has no output '${output}'`);
    feeds[input] = filled(ort, meta[input].type, staticDims(meta[input]), 0);
    stateInputs.add(input);
  }
  for (const [name, value] of Object.entries(options.fixed)) {
    if (meta[name]) feeds[name] = filled(ort, meta[name].type, staticDims(meta[name]), value);
  }
  const audioMeta = session.inputMetadata.find((m) => m.type === 'float32' && !stateInputs.has(m.name) &&
                                                     !(m.name in options.fixed));
  if (!audioMeta) fail(`${modelPath}: no float input is left for the audio`);
  const missing = session.inputNames.filter((n) => n !== audioMeta.name && !(n in feeds));
  if (missing.length) fail(`${modelPath}: inputs not given (use --state or --fix): ${missing.join(', ')}`);
  const scoreName = options.outputName || session.outputNames[0];
  const audioDims = audioMeta.shape.length === 1 ? [options.chunk] : [1, options.chunk];

  const scores = [];
  for (let start = 0; start + options.chunk <= audio.length; start += options.chunk) {
    feeds[audioMeta.name] = new ort.Tensor('float32', audio.slice(start, start + options.chunk), audioDims);
    let results;
    try {
      results = await session.run(feeds);
    } catch (e) {
      fail(`${modelPath}: run failed at chunk ${scores.length}: ${e.message}`);
    }
    for (const [input, output] of options.states) feeds[input] = results[output];
    scores.push(results[scoreName].data[0]);
  }
  writeScores(outPath, scores);
  process.stderr.write(`ort_stream: ${scores.length} chunks of ${options.chunk} -> ${outPath}\n`);
  await session.release();
}

main().catch((e) => fail(e.stack || String(e)));
