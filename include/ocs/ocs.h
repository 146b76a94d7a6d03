// The ocs library for programs that embed it: the common path of the command line (import a
// model, quantize it with OCS, evaluate it, run it) with the standard library's types only.
// Installed with the package (find_package(ocs) + target_link_libraries(app ocs::ocs)); the
// implementation is src/api/, a thin layer over the modules of src/ (docs/ARCHITECTURE.md).
//
//   ocs::QuantizeSettings settings;
//   settings.weight_bits = 6;
//   settings.ocs_ratio = 0.02;
//   std::string report = ocs::quantize("float.onnx", "w6.onnx", settings,
//                                      ocs::Calibration::from_specs({"calib.npz"}));
//   ocs::InferenceSession session("w6.onnx", ocs::SessionSettings{/*threads=*/2});
//   ocs::Arrays out = session.run({{"x", ocs::Array::copy_of("float32", {1, 1, 28, 28}, pixels)}});
//
// Errors: UserError (bad model, setting or data; the message names the file, node or tensor and
// says what to do; an option is named by its key, as the Python module and `--config` files
// spell it: `wbits` for weight_bits, `abits`, `wclip`, `aclip`, `overwrite`, `calibration`, the
// other fields as written here; never a command-line flag) and InternalError (a bug), from
// ocs/errors.h. Library calls change no state of
// the process: thread counts hold for the calls of one InferenceSession (or one quantize/evaluate)
// only; progress goes to the callback given, never to the terminal (import notes, such as a
// float16 model computed in float32, still go to stderr as in the CLI).
#pragma once

#include "ocs/errors.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ocs {

// A dense row-major array. `dtype` spells the element type as numpy does: float32, float64,
// float16, int8, uint8, int16, uint16, int32, uint32, int64, uint64, bool. The bytes are not
// owned by the struct: `owner` keeps them alive (an Array returned by the library owns the
// library's buffer through it, so outputs are never copied).
struct Array {
  std::string dtype = "float32";
  std::vector<int64_t> shape;
  const void* data = nullptr;
  std::shared_ptr<const void> owner;

  int64_t size() const;     // elements (1 for shape {})
  size_t nbytes() const;    // size() * the element size
  // An Array holding its own copy of `nbytes()` bytes read from `data`.
  static Array copy_of(const std::string& dtype, std::vector<int64_t> shape, const void* data);
};
using Arrays = std::map<std::string, Array>;  // by graph input or output name

// Told how far a long call is: a stage ("calibrate", "eval", ...), done and total samples.
// Called on the thread that made the call.
using ProgressCallback = std::function<void(const std::string& stage, int64_t done, int64_t total)>;

// A model's graph inputs and outputs, as `ocs inspect` prints them.
struct TensorInfo {
  std::string name;
  std::string dtype;            // numpy spelling; "" when the model does not say
  std::vector<int64_t> shape;   // -1 for a dimension the model leaves open
  bool has_shape = false;
};
struct ModelInfo {
  std::vector<TensorInfo> inputs, outputs;
  int64_t nodes = 0;
  // Per weighted layer (Conv/Gemm/MatMul) weight statistics, as JSON (what `ocs inspect --json`
  // writes): an object whose "layers" array holds one object per layer.
  std::string weight_stats_json;
};

// Imports (and so validates) a model and describes it. UserError for a model ocs cannot take.
ModelInfo inspect(const std::string& model_path);

// Calibration data for quantize(): either data specs as `ocs quantize --calib` takes them
// ("calib.npz", "x=x.npy", "fashion-mnist:train", "images:DIR,...") or arrays: stacked samples
// per input name, or batches from a callback (each {input name: array} with samples on axis 0,
// nullopt at the end). Batches are gathered up to `samples` samples and then fed as an .npz of
// the same arrays would be, so the result does not depend on how the data was batched.
struct Calibration {
  std::vector<std::string> specs;
  std::optional<Arrays> stacked;
  std::function<std::optional<Arrays>()> next_batch;

  static Calibration from_specs(std::vector<std::string> specs);
  static Calibration from_arrays(Arrays stacked);
  static Calibration from_batches(std::function<std::optional<Arrays>()> next_batch);
};

// The settings of `ocs quantize` (docs/QUANTIZE.md explains each).
struct QuantizeSettings {
  int weight_bits = 8;          // 2..16
  int activation_bits = 8;      // 2..16; 0 leaves activations in float (no calibration needed)
  double ocs_ratio = 0.0;       // weight OCS expand ratio
  double act_ocs_ratio = 0.0;   // activation OCS expand ratio
  double max_overhead = -1.0;   // cap on the weights OCS adds, percent of the model's (< 0: none)
  std::string split = "qa";     // qa | naive
  std::string weight_clip = "max";      // max | mse | aciq | kl | mse-fine | aciq-std | kl-nonzero | percentile[:P]
  std::string activation_clip = "mse";  // same; mse by default, not the paper's max (docs/QUANTIZE.md)
  bool per_channel = false;
  bool unsigned_activations = false;    // qdq-inputs: unsigned grid after ReLU-like ops
  bool signed_activations = false;      // qdq: keep the signed grid there (unsigned by default)
  std::string ocs_clip_on = "split";    // split | original (the reference's order)
  bool fold_batchnorm = true;
  bool quantize_first_last = false;     // also the first conv and the last FC layer
  std::vector<std::string> exclude;     // node names left in float
  std::vector<std::string> fix_input;   // NAME=VALUE
  std::vector<std::string> fix_shape;   // NAME=D0xD1x...
  bool unroll_recurrent = true;
  std::string format = "qdq";           // qdq (deployable) | qdq-inputs (the paper's layout) | split-float
  int calib_samples = 512;
  int threads = 0;                      // 0: all cores
};

// Quantizes `input_path` into `output_path` (refusing to overwrite unless `overwrite`) and
// returns the report as JSON text (docs/QUANTIZE.md: the layers, their thresholds and splits).
// The report is not written to a file; the model is written atomically.
std::string quantize(const std::string& input_path, const std::string& output_path, const QuantizeSettings& settings,
                     const Calibration& calibration, const ProgressCallback& progress = {}, bool overwrite = false);

struct SessionSettings {
  int threads = 0;              // 0: all cores; for this session's calls only
  bool reference_kernels = false;
};

// A model loaded once and run many times, as `ocs run` runs it. (Named apart from the engine's
// Session, src/engine/session.h, which it wraps.)
class InferenceSession {
 public:
  explicit InferenceSession(const std::string& model_path, SessionSettings settings = {});
  ~InferenceSession();
  InferenceSession(InferenceSession&&) noexcept;
  InferenceSession& operator=(InferenceSession&&) noexcept;

  // Every graph input by name; returns every graph output by name. The inputs are copied once
  // into the engine; the outputs share the engine's buffers.
  Arrays run(const Arrays& inputs);
  std::vector<TensorInfo> inputs() const;
  std::vector<TensorInfo> outputs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct EvaluateSettings {
  std::vector<std::string> data;     // as `ocs eval --data` takes it
  std::vector<std::string> metrics;  // empty: what the data's labels allow (+ fidelity with a reference)
  std::string reference;             // float model for fidelity metrics ("" = none)
  std::string keys;                  // character list of a CTC recognizer (metric cer)
  int64_t limit = 10000;             // at most this many samples
  int threads = 0;
};

// Measures a model on data, as `ocs eval` does; returns the results as JSON text (what
// `ocs eval --json` writes: samples, seconds and every metric's values).
std::string evaluate(const std::string& model_path, const EvaluateSettings& settings,
                     const ProgressCallback& progress = {});

// The library's version, "major.minor.patch".
std::string version();

}  // namespace ocs
