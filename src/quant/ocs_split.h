// Weight outlier channel splitting on one tensor (docs/METHOD.md, "Weight OCS").
//
// A layer computes y = sum_c W[:, c] x_c over its input channels c. Splitting channel c into
// halves h1 + h2 = W[:, c] and feeding x_c to both keeps y exact:
//     W[:, c] x_c = h1 x_c + h2 x_c.
// The largest |w| halves, so the quantization grid t / (2^(b-1) - 1) gets finer for every weight.
//
// Greedy, k times: split the channel whose slice holds the current largest |w| (ties: the lowest
// channel index), over the whole tensor including halves appended earlier (a channel may be split
// again). The first half replaces the slice; the second is appended as input channel C_in + i.
//
// Modes:
//   naive: h1 = h2 = w / 2 (exact in float).
//   QA:    in grid units y = w / D (D = 1 / s the step of the post-split grid),
//          h1 = (w - D/2) / 2,  h2 = (w + D/2) / 2,  i.e.  y1 = y/2 - 1/4,  y2 = y/2 + 1/4,
//          so round(y1) + round(y2) = round(y): the quantized halves add up to the unsplit value
//          quantized on the new, finer grid (proof in ocs_split.cpp). Zero stays zero after
//          quantization: +-1/4 rounds to 0.
//   As in the reference, QA first runs the naive split to fix the threshold t (and so D), then
//   redoes the splits QA-style with that D. See ocs_split.cpp for the tie rule.
#pragma once

#include "core/tensor.h"

#include <functional>
#include <optional>
#include <vector>

namespace ocs {

enum class OcsSplitMode { QuantAware, Naive };

// The clip threshold t of a (split) weight tensor. Default: max |w| (no clipping). OCS + clip
// passes a clipping method here.
using OcsThresholdFn = std::function<double(const Tensor& weight)>;

struct OcsSplitOptions {
  double ratio = 0.0;              // k = ceil(ratio * C_in) (see ocs_split_count)
  std::optional<int64_t> splits;   // explicit k; overrides ratio
  OcsSplitMode mode = OcsSplitMode::QuantAware;
  int bits = 8;
  OcsThresholdFn threshold;        // empty: max |w| of the split tensor
};

struct OcsSplitResult {
  Tensor weight;                     // float32, C_in + k channels along the axis
  std::vector<int64_t> duplicated;   // for appended channel C_in + i: its original channel
  std::vector<int64_t> split_order;  // channel split at step i (may be an appended one)
  double threshold = 0.0;            // t, from the naive split tensor
  float step = 1.0f;                 // D = 1 / s as the quantizer stores it (quant_step)
};

// k = ceil(ratio * channels), computed as exact math: a product within 1e-9 of an integer counts
// as that integer (0.07 * 100 is 7.000000000000001 in double, and means 7). Any ratio > 0 gives
// k >= 1; ratio 0 gives 0. Negative or non-finite ratios are user errors.
int64_t ocs_split_count(double ratio, int64_t channels);

// Splits float32 `weight` along `axis` (its input channels).
OcsSplitResult ocs_split_weight(const Tensor& weight, int64_t axis, const OcsSplitOptions& options);

// The two halves of ocs_split_weight, for callers that reuse the first (`ocs sweep` splits one
// weight at one k for every bit width and clip method):
//  - the naive greedy split, which depends on the weight, the axis and k only;
//  - the threshold, the grid step and (QA mode) the quant-aware halves, from that naive split.
// ocs_split_finish(w, axis, ocs_split_naive(w, axis, k), options) == ocs_split_weight(w, axis,
// options) when options give k.
struct OcsNaiveSplit {
  Tensor weight;                     // the naive split tensor (C_in + k channels)
  std::vector<int64_t> duplicated;   // as OcsSplitResult
  std::vector<int64_t> split_order;
};
OcsNaiveSplit ocs_split_naive(const Tensor& weight, int64_t axis, int64_t k);
OcsSplitResult ocs_split_finish(const Tensor& weight, int64_t axis, const OcsNaiveSplit& naive,
                                const OcsSplitOptions& options);

// Inverse bookkeeping: adds each appended channel back onto its original channel, giving a tensor
// of the original shape. fold(split) == W up to float rounding; fold(fake_quant(split)) is the
// weight the quantized layer effectively applies (the duplicated inputs are identical).
Tensor ocs_fold_split(const Tensor& split_weight, int64_t axis,
                      const std::vector<int64_t>& duplicated);

}  // namespace ocs
