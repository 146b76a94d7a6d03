#include "quant/fake_quant.h"

#include "core/axis_split.h"
#include "core/round.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace ocs {

namespace {

void check_bits(int bits) {
  if (bits < kQuantMinBits || bits > kQuantMaxBits)
    user_error("quantization to {} bits is not supported; use {} to {} bits", bits, kQuantMinBits,
               kQuantMaxBits);
}

// Layout of `shape` around `axis` (core/axis_split.h); axis = -1 means per tensor: one channel
// holding everything.
using ChannelLayout = AxisSplit;

ChannelLayout channel_layout(const Shape& shape, int64_t axis) {
  if (axis >= 0) return split_at_axis(shape, axis);
  ChannelLayout layout;
  layout.inner = shape_numel(shape);
  return layout;
}

std::vector<float> steps_for(const std::vector<double>& thresholds, const ChannelLayout& layout,
                             int bits) {
  OCS_CHECK(static_cast<int64_t>(thresholds.size()) == layout.channels,
            "{} thresholds for {} channels", thresholds.size(), layout.channels);
  std::vector<float> steps;
  for (double t : thresholds) steps.push_back(quant_step(t, bits));
  return steps;
}

}  // namespace

double quant_scale(double threshold, int bits) {
  check_bits(bits);
  return static_cast<double>(quant_max_code(bits)) / threshold;
}

float quant_step(double threshold, int bits) {
  check_bits(bits);
  // step = t / (2^(b-1) - 1) = 1 / s, rounded once to float32 (the stored ONNX scale).
  return grid_step(threshold, quant_max_code(bits));
}

float grid_step(double threshold, int64_t max_code) {
  if (!(threshold > 0.0)) return 1.0f;
  return static_cast<float>(threshold / static_cast<double>(max_code));
}

int64_t grid_max_code(int bits, bool is_unsigned) {
  check_bits(bits);
  return is_unsigned ? (int64_t{1} << bits) - 1 : quant_max_code(bits);
}

int threshold_bits(int bits, bool is_unsigned) { return is_unsigned ? std::min(bits + 1, kQuantMaxBits) : bits; }

int32_t quant_max_code(int bits) { return (int32_t{1} << (bits - 1)) - 1; }
int32_t quant_min_code(int bits) { return -(int32_t{1} << (bits - 1)); }

double max_abs(const Tensor& x) {
  double peak = 0.0;
  for (float v : x.span<float>()) peak = std::max(peak, static_cast<double>(std::fabs(v)));
  return peak;
}

std::vector<double> max_abs_per_channel(const Tensor& x, int64_t axis) {
  const ChannelLayout layout = channel_layout(x.shape(), axis);
  const float* data = x.data<float>();
  std::vector<double> peak(static_cast<size_t>(layout.channels), 0.0);
  for (int64_t o = 0; o < layout.outer; ++o)
    for (int64_t c = 0; c < layout.channels; ++c)
      for (int64_t r = 0; r < layout.inner; ++r)
        peak[c] = std::max(peak[c], static_cast<double>(std::fabs(
                                        data[(o * layout.channels + c) * layout.inner + r])));
  return peak;
}

Tensor quantize_symmetric(const Tensor& x, const std::vector<double>& thresholds, int64_t axis,
                          int bits) {
  check_bits(bits);
  const ChannelLayout layout = channel_layout(x.shape(), axis);
  const std::vector<float> steps = steps_for(thresholds, layout, bits);
  // Clamping before rounding is the same as after: both bounds are integers.
  const float low = static_cast<float>(quant_min_code(bits));
  const float high = static_cast<float>(quant_max_code(bits));
  Tensor q(bits <= 8 ? DType::Int8 : DType::Int16, x.shape());
  const float* in = x.data<float>();
  auto fill = [&](auto* out) {
    using Code = std::remove_pointer_t<decltype(out)>;
    for (int64_t o = 0; o < layout.outer; ++o)
      for (int64_t c = 0; c < layout.channels; ++c) {
        const float step = steps[c];
        const bool all_zero = !(thresholds[c] > 0.0);
        for (int64_t r = 0; r < layout.inner; ++r) {
          const int64_t i = (o * layout.channels + c) * layout.inner + r;
          // x / step in float32, as QuantizeLinear does (not x * s in double).
          const float scaled = all_zero ? 0.0f : in[i] / step;
          if (std::isnan(scaled)) {
            out[i] = static_cast<Code>(quant_min_code(bits));  // as QuantizeLinear (round.h)
            continue;
          }
          out[i] = static_cast<Code>(round_half_to_even(std::clamp(scaled, low, high)));
        }
      }
  };
  if (bits <= 8)
    fill(q.data<int8_t>());
  else
    fill(q.data<int16_t>());
  return q;
}

Tensor dequantize_symmetric(const Tensor& q, const std::vector<double>& thresholds, int64_t axis,
                            int bits) {
  check_bits(bits);
  OCS_CHECK(q.dtype() == DType::Int8 || q.dtype() == DType::Int16, "codes of type {}",
            dtype_name(q.dtype()));
  const ChannelLayout layout = channel_layout(q.shape(), axis);
  const std::vector<float> steps = steps_for(thresholds, layout, bits);
  Tensor x(DType::Float32, q.shape());
  float* out = x.data<float>();
  auto read = [&](const auto* in) {
    for (int64_t o = 0; o < layout.outer; ++o)
      for (int64_t c = 0; c < layout.channels; ++c)
        for (int64_t r = 0; r < layout.inner; ++r) {
          const int64_t i = (o * layout.channels + c) * layout.inner + r;
          out[i] = dequantize_value(in[i], steps[c], 0);  // q * step in float32
        }
  };
  if (q.dtype() == DType::Int8)
    read(q.data<int8_t>());
  else
    read(q.data<int16_t>());
  return x;
}

Tensor fake_quantize(const Tensor& x, const std::vector<double>& thresholds, int64_t axis,
                     int bits) {
  return dequantize_symmetric(quantize_symmetric(x, thresholds, axis, bits), thresholds, axis, bits);
}

Tensor fake_quantize_max(const Tensor& x, int bits) {
  return fake_quantize(x, {max_abs(x)}, -1, bits);
}

double sqnr_db(const Tensor& x, const Tensor& x_hat) {
  OCS_CHECK(x.shape() == x_hat.shape(), "SQNR of {} against {}", shape_str(x.shape()),
            shape_str(x_hat.shape()));
  const float* a = x.data<float>();
  const float* b = x_hat.data<float>();
  double signal = 0.0, noise = 0.0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = a[i], e = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    signal += v * v;
    noise += e * e;
  }
  if (noise == 0.0) return std::numeric_limits<double>::infinity();
  if (signal == 0.0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

}  // namespace ocs
