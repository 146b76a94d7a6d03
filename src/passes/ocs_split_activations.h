// ocs_split_activations: Outlier Channel Splitting for the activation feeding a layer
// (docs/METHOD.md, "Activation OCS"). Channels are chosen statically from calibration (per-channel
// max|x|); a runtime split layer duplicates and halves them, and the layer's weight rows for
// the duplicated input channels are duplicated (not halved). The graph stays functionally the
// same; the split activation's largest magnitude, hence its quantization threshold, shrinks.
// Run it before insert_qdq, and quantize the split activation with the reported threshold.
#pragma once

#include "ir/graph.h"
#include "quant/ocs_split.h"

#include <optional>
#include <string>
#include <vector>

namespace ocs {

// The split mode is weight OCS's (quant/ocs_split.h): Naive, both halves x / 2; QuantAware,
// x / 2 - D/4 and x / 2 + D/4, D the quantizer's step after the split.

struct ActivationSplitRequest {
  std::string node;                  // the consuming Conv, Gemm or MatMul
  std::vector<float> channel_max;    // max|x| per input channel, from calibration
  double expand_ratio = 0.0;         // r_a: ceil(r_a * C) channels are split (0: none)
  OcsSplitMode mode = OcsSplitMode::QuantAware;
  // The activation quantizer, for the QA step D = t / (2^(b-1) - 1) (unsigned: t / (2^b - 1)).
  int bits = 8;
  bool is_unsigned = false;
  // The threshold t the split activation will be quantized with; absent: the largest channel
  // max after the split (no clipping). Only the QA offsets depend on it.
  std::optional<float> threshold;
};

struct ActivationSplitResult {
  std::string node;
  int64_t channels_before = 0;
  int64_t channels_after = 0;
  std::vector<int64_t> split_channels;  // original channel of each split, in greedy order
  float threshold_before = 0.0f;        // max of channel_max
  float threshold_after = 0.0f;         // max of the channel maxima after splitting
  float step = 0.0f;                    // D of the QA offsets (0 for naive)
};

// Rewrites `graph` in place, one split layer per request. Throws UserError naming the node when
// it is not a Conv (group 1), Gemm or MatMul with a constant float weight, when channel_max does
// not have one entry per input channel, or when an option is out of range. graph.verify() holds
// afterwards.
std::vector<ActivationSplitResult> ocs_split_activations(
    Graph& graph, const std::vector<ActivationSplitRequest>& requests);

}  // namespace ocs
