// The typed state of the recipe (recipe/quantizer.h): one LayerPlan per weighted layer, filled
// step by step, and what the steps did to the whole model. The JSON report is written once, at
// the end, from this plan (recipe/report.h); the sweep (sweep/runner.h) reads it directly.
#pragma once

#include "core/tensor.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace ocs {

struct LayerPlan {
  // Step "choose the layers".
  std::string node;        // node name: stable while the passes rewrite the graph around it
  std::string op_type;
  std::string left_float;  // why the layer stays float ("--exclude", the reference policy); empty
                           // when it is quantized
  bool quantized() const { return left_float.empty(); }

  // Weight, before OCS (quantized layers only).
  std::string weight;      // the weight constant's name
  Shape weight_shape;
  double weight_threshold_no_ocs = 0.0;  // the weight clip method on the float weight
  double weight_sqnr_db_no_ocs = 0.0;    // per-tensor grid with that threshold

  // Step "activation OCS".
  std::string act_ocs_skipped;                          // why it was not split; empty otherwise
  std::optional<std::vector<int64_t>> act_channels_split;  // present when the split ran
  float act_max_before = 0.0f, act_max_after = 0.0f;

  // Step "weight OCS".
  std::string ocs_skipped;              // why the pass left the layer alone
  std::vector<int64_t> channels_split;  // original channel of each appended channel
  double weights_added_percent = 0.0;
  std::optional<double> weight_sqnr_db_ocs;
  // How the input channels the split needs are made: a Gather in front of the layer, the
  // producer layer's output channels duplicated, or copies made on the 8-bit codes (and why).
  std::string channel_duplication;

  // The weight grid: per tensor, its threshold (OCS's, else the clip method's); per channel,
  // one threshold per output channel.
  std::optional<double> weight_threshold;
  std::vector<float> weight_channel_thresholds;
  std::optional<double> weight_sqnr_db_per_channel;  // per-channel grid on an unsplit weight

  // The activation grid (when activations are quantized or activation OCS ran).
  bool act_unsigned = false;             // uint grid: the input is non-negative and asked for
  std::optional<double> act_threshold;   // chosen by the activation clip method
  bool act_quantized = false;            // QuantizeLinear/DequantizeLinear inserted
};

// A tensor the deployable layout quantizes besides the layers' inputs, or a layer input whose
// grid it shares (analysis/int8_tensors.h).
struct TensorPlan {
  std::string value;         // the tensor's name in the float model
  std::string role;          // "layer input", "layer output", "between layers"
  bool layer_input = false;
  std::string same_grid_as;  // the input of the value-moving op computing it, when it copies its grid
  bool is_unsigned = false;
  double threshold = 0.0;
};

// A step of the recipe as the report lists it.
struct StepRecord {
  std::string step;
  double seconds = 0.0;
  nlohmann::json extra = nlohmann::json::object();  // what the step counted
};

struct QuantizePlan {
  std::vector<LayerPlan> layers;  // every weighted layer, in the order of the quantized graph
  std::vector<StepRecord> steps;
  std::string weight_clip, activation_clip;  // the clip methods' names, as they print them
  int64_t weights_before = 0;     // every constant of the model after specialization
  int64_t weights_after_ocs = 0;  // the same count after the OCS passes
  int64_t batchnorms_folded = 0;
  std::vector<TensorPlan> int8_tensors;  // deployable layout, in graph order
  // --max-overhead: the cap in percent and in weights weight OCS could still add under it.
  std::optional<double> max_overhead_percent;
  int64_t overhead_budget = 0;
  int64_t layers_quantized() const;
  int64_t layers_left_float() const;
  double size_overhead_percent() const;
  LayerPlan* find(const std::string& node);
};

}  // namespace ocs
