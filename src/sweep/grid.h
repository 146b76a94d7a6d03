// The configurations of `ocs sweep`: the cross product of the grid's axes, in a fixed order,
// with redundant points removed (at r = 0 the split mode changes nothing, so only one of
// qa/naive is kept), and the share of one shard of it.
#pragma once

#include "recipe/quantize_options.h"

#include <string>
#include <vector>

namespace ocs {

struct SweepGrid {
  std::vector<int> weight_bits{8, 7, 6, 5, 4};
  std::vector<int> activation_bits{8};
  std::vector<double> ocs_ratios{0.0, 0.01, 0.02, 0.05, 0.1};
  std::vector<std::string> weight_clips{"max", "mse", "aciq", "kl"};
  std::vector<std::string> splits{"qa"};
  std::vector<std::string> activation_clips{"max"};
  std::vector<double> act_ocs_ratios{0.0};
};

struct SweepConfig {
  int index = 0;  // position in the full grid (stable across shards)
  int weight_bits = 8;
  int activation_bits = 8;
  double ocs_ratio = 0.0;
  std::string weight_clip = "max";
  std::string split = "qa";  // "-" when neither OCS ratio splits anything
  std::string activation_clip = "max";
  double act_ocs_ratio = 0.0;

  // `base` with this point's values filled in.
  QuantizeOptions apply(QuantizeOptions base) const;
  // "w6a8 mse r=0.02 qa" (+ " a:kl ra=0.05" when activations are clipped or split), for progress lines.
  std::string label() const;
};

// Every point of the grid, deduplicated, numbered 0..n-1. UserError for an empty axis.
std::vector<SweepConfig> expand_grid(const SweepGrid& grid);

struct Shard {
  int index = 1;  // 1-based
  int count = 1;
};

// "i/n" with 1 <= i <= n. UserError naming the text otherwise.
Shard parse_shard(const std::string& text);

// The configurations shard `shard` runs: those with index % n == i - 1 (round robin, so each
// shard gets a mix of cheap and expensive points).
std::vector<SweepConfig> shard_configs(const std::vector<SweepConfig>& all, const Shard& shard);

}  // namespace ocs
