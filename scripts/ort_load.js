// Shared by scripts/ort_run.js and scripts/ort_stream.js: loads onnxruntime-node from
// $OCS_CACHE/ort (scripts/fetch_models.sh installs it there), then from node's usual places,
// and reports failures as "<tool>: error: ..." with exit code 1.
'use strict';

const os = require('os');
const path = require('path');

function failer(tool) {
  return (message) => {
    process.stderr.write(`${tool}: error: ${message}\n`);
    process.exit(1);
  };
}

function loadOrt(fail) {
  const cache = process.env.OCS_CACHE || path.join(os.homedir(), '.cache', 'ocs');
  const places = [path.join(cache, 'ort')];
  try {
    return require(require.resolve('onnxruntime-node', { paths: places }));
  } catch (e) {
    try {
      return require('onnxruntime-node');
    } catch (e2) {
      fail(`cannot load onnxruntime-node from ${places[0]} (run scripts/fetch_models.sh): ${e.message}`);
    }
  }
}

module.exports = { failer, loadOrt };
