#include "quant/ocs_split.h"

#include "core/axis_split.h"
#include "quant/fake_quant.h"

#include <cmath>

namespace ocs {

// Why the QA halves add up exactly (round = half to even).
// Write y = n + f with n = round(y), f in [-1/2, 1/2].
//  - n = 2m even: y/2 - 1/4 = m + f/2 - 1/4 lies in [m - 1/2, m], y/2 + 1/4 in [m, m + 1/2];
//    both round to m, sum 2m = n.
//  - n = 2m + 1 odd: y/2 - 1/4 = m + 1/4 + f/2 lies in [m, m + 1/2] -> m, and
//    y/2 + 1/4 = m + 3/4 + f/2 lies in [m + 1/2, m + 1] -> m + 1; sum 2m + 1 = n.
// The only way out is an endpoint, which needs f = +-1/2: y itself exactly a tie j + 1/2.
//
// Ties (not special-cased): for y = j + 1/2 the halves are j/2 and j/2 + 1/2, and their rounded
// sum is j or j + 1 (for j = 0, 3 mod 4 it equals round(y); for j = 1, 2 mod 4 it is the odd
// neighbour). Either way |sum - y| = 1/2, the same error as rounding y directly: only the tie
// break differs from half-to-even, never the size of the error. Exact ties need w / D to be a
// half-integer in float, which real weights essentially never are (tests/ocs_split_test.cpp
// states and checks this).
//
// Re-splitting a QA half h (y_h = y/2 +- 1/4) QA-style gives round(y_h/2 - 1/4) +
// round(y_h/2 + 1/4) = round(y_h): the identity holds level by level, so all pieces of one original
// channel still sum to round(y).
//
// Channel choice in QA mode: the splits replay the naive greedy sequence (whose split tensor
// gave t). The reference instead re-runs the greedy search on the QA values; the two choose
// differently only when two channel peaks are within a quarter step of each other. Replaying
// bounds each QA piece by its naive counterpart: one split moves a value by D/4, a re-split of
// that half by D/4 + D/8, ..., always less than D/2. So with t = max |naive split| every QA piece
// is below 2^(b-1) - 1 + 1/2 grid units in magnitude and rounds within the code range: nothing
// clamps, and the identity above survives quantization.

int64_t ocs_split_count(double ratio, int64_t channels) {
  if (!std::isfinite(ratio) || ratio < 0.0)
    user_error("OCS expand ratio {} is invalid; use a finite ratio >= 0 (e.g. 0.05)", ratio);
  if (ratio == 0.0 || channels <= 0) return 0;
  const double product = ratio * static_cast<double>(channels);
  const double nearest = std::round(product);
  int64_t k = std::fabs(product - nearest) <= 1e-9 * std::max(1.0, product)
                  ? static_cast<int64_t>(nearest)
                  : static_cast<int64_t>(std::ceil(product));
  return std::max<int64_t>(k, 1);
}

namespace {

// The tensor seen as [outer, channels, inner] around the split axis; slices[c] holds channel c's
// outer * inner values in (outer, inner) order.
struct Slices {
  Shape shape;
  int64_t axis = 0, outer = 1, inner = 1;
  std::vector<std::vector<float>> slices;
};

Slices to_slices(const Tensor& weight, int64_t axis) {
  Slices s;
  s.shape = weight.shape();
  s.axis = axis;
  const AxisSplit around = split_at_axis(weight.shape(), axis);
  s.outer = around.outer;
  s.inner = around.inner;
  const int64_t channels = around.channels;
  const float* data = weight.data<float>();
  s.slices.assign(static_cast<size_t>(channels), std::vector<float>(s.outer * s.inner));
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t r = 0; r < s.inner; ++r)
        s.slices[c][o * s.inner + r] = data[(o * channels + c) * s.inner + r];
  return s;
}

Tensor from_slices(const Slices& s) {
  Shape shape = s.shape;
  const int64_t channels = static_cast<int64_t>(s.slices.size());
  shape[s.axis] = channels;
  Tensor out(DType::Float32, shape);
  float* data = out.data<float>();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t r = 0; r < s.inner; ++r)
        data[(o * channels + c) * s.inner + r] = s.slices[c][o * s.inner + r];
  return out;
}

double slice_peak(const std::vector<float>& slice) {
  double peak = 0.0;
  for (float v : slice) peak = std::max(peak, static_cast<double>(std::fabs(v)));
  return peak;
}

// Naive greedy: returns the channel split at each step; `s` ends up naively split.
std::vector<int64_t> split_naive(Slices& s, int64_t k) {
  std::vector<double> peak;
  for (const auto& slice : s.slices) peak.push_back(slice_peak(slice));
  std::vector<int64_t> order;
  for (int64_t step = 0; step < k; ++step) {
    int64_t chosen = 0;  // largest peak, lowest index on ties
    for (int64_t c = 1; c < static_cast<int64_t>(peak.size()); ++c)
      if (peak[c] > peak[chosen]) chosen = c;
    // h1 = h2 = w / 2: halving is exact in binary floating point (barring subnormals).
    std::vector<float> half = s.slices[chosen];
    for (float& v : half) v *= 0.5f;
    s.slices[chosen] = half;
    s.slices.push_back(half);
    peak[chosen] = slice_peak(half);
    peak.push_back(peak[chosen]);
    order.push_back(chosen);
  }
  return order;
}

// QA split replaying `order`: h1 = (w - D/2) / 2, h2 = (w + D/2) / 2, computed in double and
// rounded once to float32 (so h1 + h2 = w to within one float rounding of each half).
void split_quant_aware(Slices& s, const std::vector<int64_t>& order, double step) {
  const double half_step = step / 2.0;
  for (int64_t chosen : order) {
    std::vector<float> low = s.slices[chosen], high = s.slices[chosen];
    for (size_t i = 0; i < low.size(); ++i) {
      const double w = s.slices[chosen][i];
      low[i] = static_cast<float>((w - half_step) / 2.0);
      high[i] = static_cast<float>((w + half_step) / 2.0);
    }
    s.slices[chosen] = std::move(low);
    s.slices.push_back(std::move(high));
  }
}

}  // namespace

OcsNaiveSplit ocs_split_naive(const Tensor& weight, int64_t axis, int64_t k) {
  OCS_CHECK(weight.dtype() == DType::Float32, "OCS splits float32 weights, got {}",
            dtype_name(weight.dtype()));
  OCS_CHECK(axis >= 0 && axis < weight.rank(), "axis {} of a rank-{} weight", axis, weight.rank());
  if (k < 0) user_error("OCS split count {} is invalid; use k >= 0", k);
  const int64_t channels = weight.dim(axis);
  OcsNaiveSplit naive;
  Slices split = to_slices(weight, axis);
  naive.split_order = split_naive(split, k);
  for (size_t i = 0; i < naive.split_order.size(); ++i) {
    const int64_t chosen = naive.split_order[i];
    naive.duplicated.push_back(chosen < channels ? chosen : naive.duplicated[chosen - channels]);
  }
  naive.weight = from_slices(split);
  return naive;
}

OcsSplitResult ocs_split_finish(const Tensor& weight, int64_t axis, const OcsNaiveSplit& naive,
                                const OcsSplitOptions& options) {
  OcsSplitResult result;
  result.duplicated = naive.duplicated;
  result.split_order = naive.split_order;
  // The threshold (and the grid) comes from the naive split tensor, for both modes.
  result.weight = naive.weight;
  result.threshold = options.threshold ? options.threshold(result.weight) : max_abs(result.weight);
  result.step = quant_step(result.threshold, options.bits);

  // An all-zero tensor (t = 0) has no grid to be aware of; its naive halves are zeros.
  const bool split = !naive.split_order.empty();
  if (options.mode == OcsSplitMode::QuantAware && split && result.threshold > 0.0) {
    Slices qa = to_slices(weight, axis);
    split_quant_aware(qa, result.split_order, static_cast<double>(result.step));
    result.weight = from_slices(qa);
  }
  return result;
}

OcsSplitResult ocs_split_weight(const Tensor& weight, int64_t axis, const OcsSplitOptions& options) {
  OCS_CHECK(axis >= 0 && axis < weight.rank(), "axis {} of a rank-{} weight", axis, weight.rank());
  const int64_t k = options.splits ? *options.splits : ocs_split_count(options.ratio, weight.dim(axis));
  return ocs_split_finish(weight, axis, ocs_split_naive(weight, axis, k), options);
}

Tensor ocs_fold_split(const Tensor& split_weight, int64_t axis,
                      const std::vector<int64_t>& duplicated) {
  const int64_t k = static_cast<int64_t>(duplicated.size());
  const int64_t split_channels = split_weight.dim(axis);
  const int64_t channels = split_channels - k;
  OCS_CHECK(channels > 0, "{} appended channels in a weight with {}", k, split_channels);
  Shape shape = split_weight.shape();
  shape[axis] = channels;
  const AxisSplit around = split_at_axis(shape, axis);
  const int64_t outer = around.outer, inner = around.inner;
  // W[:, c] = piece c + sum of the appended pieces whose original channel is c.
  Tensor folded(DType::Float32, shape);
  const float* in = split_weight.data<float>();
  float* out = folded.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < split_channels; ++c) {
      const int64_t target = c < channels ? c : duplicated[c - channels];
      OCS_CHECK(target >= 0 && target < channels, "duplicated index {} of {} channels", target,
                channels);
      for (int64_t r = 0; r < inner; ++r)
        out[(o * channels + target) * inner + r] += in[(o * split_channels + c) * inner + r];
    }
  return folded;
}

}  // namespace ocs
