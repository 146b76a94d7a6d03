// Every choice `ocs quantize` makes, as one struct that the CLI flags and the JSON config file
// (--config) both fill. validate() rejects bad values with a UserError naming the option; it runs
// before any work starts.
#pragma once

#include "quant/ocs_split.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace ocs {

// What `ocs quantize` writes (docs/QUANTIZE.md, "Two layouts"): the deployable QDQ model
// (runtimes fuse it into 8-bit kernels), the paper's simulation layout (quantizers on the layers'
// inputs only), or the OCS-split float model (the splits only, for studying them).
enum class OutputFormat { Qdq, QdqInputs, SplitFloat };

struct QuantizeOptions {
  // Data.
  std::vector<std::string> calib;  // .npz keyed by input name, or NAME=FILE.npy (axis 0 = samples)
  int calib_samples = 512;         // the paper's calibration set size
  // Bits.
  int weight_bits = 8;      // 2..16
  int activation_bits = 8;  // 2..16; 0 leaves activations in float
  // OCS.
  double ocs_ratio = 0.0;      // weight OCS expand ratio r (k = ceil(r * C_in))
  double act_ocs_ratio = 0.0;  // activation OCS expand ratio r_a
  // Zero-weight input channels pad each weight-split layer to a multiple of this many channels
  // (passes/ocs_split_weights.h): ONNX Runtime's fast int8 convolutions need aligned channel
  // counts. 0: 8 in the deployable layout, 1 (no padding) otherwise.
  int64_t ocs_channel_multiple = 0;
  // A cap on the weights OCS adds to the whole model, in percent of its weights (< 0: none).
  // Within it, weight OCS spends its splits where they gain the most (quant/ocs_budget.h); the
  // ratio still bounds every layer.
  double max_overhead = -1.0;
  std::string split = "qa";    // qa | naive
  // Clipping.
  std::string weight_clip = "max";      // max | mse | aciq | kl | mse-fine | aciq-std | kl-nonzero | percentile[:P]
  // The activation default is mse, not the paper's max (`ocs sweep` keeps max): over our models
  // it is best or near-best at 8 and at fewer bits, where max loses accuracy as soon as one
  // activation tensor has a long tail (docs/RESULTS.md, "The default activation clip method").
  std::string activation_clip = "mse";  // same
  // With weight OCS and a clip method other than max, the weight threshold is computed on the
  // split weight ("split", ours) or on the unsplit weight ("original", the reference's order).
  std::string ocs_clip_on = "split";
  bool per_channel = false;             // per-output-channel weight scales (not the paper's)
  bool unsigned_activations = false;    // qdq-inputs: uint grid for non-negative activations
  bool signed_activations = false;      // qdq: keep the signed grid on non-negative activations
                                        // (by default they take the unsigned one there)
  // Which layers.
  bool keep_first_last_float = true;  // the reference's policy: first conv and last FC stay float
  std::vector<std::string> exclude;   // node names left in float
  bool fold_batchnorm = true;
  // Inputs fixed to one number ("sr=16000") and input shapes fixed ("input=1x512") before anything
  // else (passes/specialize_inputs.h): Ifs on them are inlined, so that the layers in their
  // branches (Silero VAD's LSTMs) are quantized too.
  std::vector<std::string> fix_input;
  std::vector<std::string> fix_shape;
  // Unroll LSTM/GRU nodes into MatMul/Sigmoid/Tanh/... per time step first (passes/unroll_recurrent.h), so
  // that their input and recurrent weights and the hidden state are quantized (docs/RECURRENT.md).
  bool unroll_recurrent = true;
  // Output.
  std::string format = "qdq";  // qdq | qdq-inputs | split-float
  std::string report;          // JSON report path ("" = OUT.report.json)
  bool force = false;          // overwrite an existing output
  int threads = 0;

  void validate() const;
  // The spellings above as the recipe reads them (validate() has accepted them).
  OcsSplitMode split_mode() const;     // from `split`
  OutputFormat output_format() const;  // from `format`
  bool writes_qdq() const;             // qdq or qdq-inputs
  // Whether non-negative activations take the unsigned grid: the default of the deployable
  // layout (a runtime folds a Relu into a quantizer whose grid starts at 0), asked for in the
  // paper's layout with `unsigned_activations`.
  bool unsigned_grid() const;
  nlohmann::json to_json() const;
  // Fills the fields present in `config`; unknown keys are a UserError naming them.
  void merge_json(const nlohmann::json& config, const std::string& origin);
};

}  // namespace ocs
