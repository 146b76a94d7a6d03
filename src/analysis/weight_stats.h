// Per-layer weight statistics: the view a user needs to see where outliers are before
// quantizing (`ocs inspect`).
#pragma once

#include "ir/graph.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace ocs {

struct ChannelPeak {
  int64_t channel = 0;
  double max_abs = 0.0;
};

struct WeightStats {
  std::string subgraph;  // "" at the top level, else where the layer is: "If 'x' then_branch"
  std::string node;      // node name
  std::string op_type;
  std::string weight;    // weight value name
  Shape shape;
  int64_t params = 0;
  int64_t in_channel_axis = 0;  // the axis OCS splits (input channels)
  double max_abs = 0.0;
  double mean = 0.0;
  double std = 0.0;
  double kurtosis = 0.0;  // Pearson's (normal = 3); large values mean heavy tails
  std::vector<ChannelPeak> top_channels;  // input channels with the largest |w|, descending
};

// Layers whose weight input is a constant: Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU, RNN,
// including those inside subgraphs (also when the weight is the enclosing graph's initializer). `top_k` input channels are reported per layer.
std::vector<WeightStats> collect_weight_stats(const Graph& graph, int top_k = 5);

nlohmann::json weight_stats_json(const std::vector<WeightStats>& stats);
std::string weight_stats_table(const std::vector<WeightStats>& stats);

}  // namespace ocs
