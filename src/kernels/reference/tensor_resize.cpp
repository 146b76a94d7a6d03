// Resize (opsets 10, 11, 13) and Upsample (opsets 7, 9).
//
// Interpolation is separable: each axis whose size or sampling changes is resampled in turn,
// in float64, exactly as ONNX's reference does it (a 1-D interpolation per axis, outermost
// first). For output coordinate x_resized along an axis of input length L_in, output length
// L_out and scale s (the given scale, or L_out / L_in when sizes are given), the source
// coordinate is (coordinate_transformation_mode):
//   half_pixel           (x_resized + 0.5) / s - 0.5
//   pytorch_half_pixel   L_out > 1 ? (x_resized + 0.5) / s - 0.5 : 0
//   align_corners        L_out == 1 ? 0 : x_resized * (L_in - 1) / (L_out - 1)
//   asymmetric           x_resized / s
//   tf_half_pixel_for_nn (x_resized + 0.5) / s
//   tf_crop_and_resize   L_out > 1 ? start * (L_in - 1) + x_resized * (end - start) * (L_in - 1) / (L_out - 1)
//                                  : 0.5 * (start + end) * (L_in - 1)
//                        (outside [0, L_in - 1] the output is extrapolation_value)
// For align_corners and tf_crop_and_resize, L_out is s * L_in as a real number, as in ONNX's
// reference implementation (it differs from the integer length only for fractional scales).
// Neighbours outside [0, L_in) read the edge element (unless cubic exclude_outside drops them).
// Upsample and Resize-10 are asymmetric with nearest = floor.
#include "core/memory_budget.h"
#include "kernels/reference/tensor_internal.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace ocs::tensor_kernels {
namespace {

enum class Interpolation { Nearest, Linear, Cubic };
enum class Coordinates {
  HalfPixel, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNN, TfCropAndResize,
  HalfPixelSymmetric
};
enum class Rounding { RoundPreferFloor, RoundPreferCeil, Floor, Ceil };

struct ResizeSettings {
  Interpolation interpolation = Interpolation::Nearest;
  Coordinates coordinates = Coordinates::HalfPixel;
  Rounding rounding = Rounding::RoundPreferFloor;
  double cubic_coeff_a = -0.75;
  bool exclude_outside = false;
  double extrapolation_value = 0.0;
};

struct Tap {
  int64_t index;
  double weight;
};

// How one axis is resampled: for every output coordinate, the weighted input coordinates, or
// `outside` when the output is the extrapolation value.
struct AxisPlan {
  std::vector<std::vector<Tap>> taps;
  std::vector<bool> outside;
};

double source_coordinate(const ResizeSettings& s, int64_t x_resized, int64_t in_length,
                         int64_t out_length, double scale, double roi_start, double roi_end) {
  const double x = static_cast<double>(x_resized);
  const double in_len = static_cast<double>(in_length);
  const double out_len_real = scale * in_len;
  switch (s.coordinates) {
    case Coordinates::HalfPixel: return (x + 0.5) / scale - 0.5;
    case Coordinates::PytorchHalfPixel: return out_length > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case Coordinates::AlignCorners:
      return out_len_real == 1.0 ? 0.0 : x * (in_len - 1) / (out_len_real - 1);
    case Coordinates::Asymmetric: return x / scale;
    case Coordinates::TfHalfPixelForNN: return (x + 0.5) / scale;
    case Coordinates::TfCropAndResize:
      if (out_len_real == 1.0) return 0.5 * (roi_start + roi_end) * (in_len - 1);
      return roi_start * (in_len - 1) + x * (roi_end - roi_start) * (in_len - 1) / (out_len_real - 1);
    case Coordinates::HalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out_length) / (in_len * scale);
      const double center = in_len / 2;
      return center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
    }
  }
  return 0.0;
}

// Keys' cubic convolution weights for the neighbours at floor(x) - 1 .. floor(x) + 2, where
// ratio = x - floor(x) in [0, 1) and A = cubic_coeff_a.
std::vector<double> cubic_weights(double ratio, double A) {
  const double t0 = ratio + 1, t1 = ratio, t2 = 1 - ratio, t3 = 2 - ratio;
  return {((A * t0 - 5 * A) * t0 + 8 * A) * t0 - 4 * A,
          ((A + 2) * t1 - (A + 3)) * t1 * t1 + 1,
          ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1,
          ((A * t3 - 5 * A) * t3 + 8 * A) * t3 - 4 * A};
}

AxisPlan plan_axis(const ResizeSettings& s, int64_t in_length, int64_t out_length, double scale,
                   double roi_start, double roi_end) {
  AxisPlan plan;
  plan.taps.resize(static_cast<size_t>(out_length));
  plan.outside.assign(static_cast<size_t>(out_length), false);
  auto clamp_index = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in_length - 1); };
  for (int64_t o = 0; o < out_length; ++o) {
    const double x = source_coordinate(s, o, in_length, out_length, scale, roi_start, roi_end);
    if (s.coordinates == Coordinates::TfCropAndResize && (x < 0 || x > in_length - 1)) {
      plan.outside[o] = true;
      continue;
    }
    const double x_floor = std::floor(x);
    const int64_t i0 = static_cast<int64_t>(x_floor);
    const double ratio = x - x_floor;
    std::vector<Tap>& taps = plan.taps[o];
    switch (s.interpolation) {
      case Interpolation::Nearest: {
        bool take_upper = false;  // the neighbour at floor(x) + 1 instead of floor(x)
        if (ratio > 0) {
          switch (s.rounding) {
            case Rounding::RoundPreferFloor: take_upper = ratio > 0.5; break;
            case Rounding::RoundPreferCeil: take_upper = ratio >= 0.5; break;
            case Rounding::Floor: take_upper = false; break;
            case Rounding::Ceil: take_upper = true; break;
          }
        }
        taps.push_back({clamp_index(take_upper ? i0 + 1 : i0), 1.0});
        break;
      }
      case Interpolation::Linear:
        taps.push_back({clamp_index(i0), 1 - ratio});
        if (ratio > 0) taps.push_back({clamp_index(i0 + 1), ratio});
        break;
      case Interpolation::Cubic: {
        std::vector<double> weights = cubic_weights(ratio, s.cubic_coeff_a);
        if (s.exclude_outside) {
          double sum = 0;
          for (int k = 0; k < 4; ++k) {
            const int64_t i = i0 - 1 + k;
            if (i < 0 || i >= in_length) weights[k] = 0;
            sum += weights[k];
          }
          for (double& w : weights) w /= sum;
        }
        for (int k = 0; k < 4; ++k)
          if (weights[k] != 0) taps.push_back({clamp_index(i0 - 1 + k), weights[k]});
        break;
      }
    }
  }
  return plan;
}

bool is_identity(const AxisPlan& plan, int64_t in_length) {
  if (static_cast<int64_t>(plan.taps.size()) != in_length) return false;
  for (size_t o = 0; o < plan.taps.size(); ++o) {
    if (plan.outside[o] || plan.taps[o].size() != 1) return false;
    if (plan.taps[o][0].index != static_cast<int64_t>(o) || plan.taps[o][0].weight != 1.0) return false;
  }
  return true;
}

// Resamples `input` to `out_shape`. scales[a] is the axis scale; roi holds [starts..., ends...]
// (used by tf_crop_and_resize only; may be empty).
Tensor resize_tensor(const KernelContext& ctx, const Tensor& input, const Shape& out_shape,
                     const std::vector<double>& scales, const std::vector<double>& roi,
                     const ResizeSettings& s) {
  const size_t rank = out_shape.size();
  if (s.coordinates == Coordinates::TfCropAndResize && roi.size() != 2 * rank)
    user_error("{}: tf_crop_and_resize needs an roi of {} values, got {}", ctx.node.describe(),
               2 * rank, roi.size());
  for (size_t a = 0; a < rank; ++a)
    if (input.dim(static_cast<int64_t>(a)) == 0 && out_shape[a] > 0)
      user_error("{}: cannot resize an empty axis {}", ctx.node.describe(), a);
  // The output is checked against the memory budget before the float64 work buffers (two at a
  // time, each at most max(in, out) on every axis) and the per-axis plans (up to 4 taps per
  // output coordinate) are sized from it.
  Tensor output(input.dtype(), out_shape);
  if (output.numel() == 0) return output;
  Shape widest(rank);
  uint64_t plans = 0;
  for (size_t a = 0; a < rank; ++a) {
    widest[a] = std::max(out_shape[a], input.dim(static_cast<int64_t>(a)));
    plans += static_cast<uint64_t>(out_shape[a]) * (sizeof(std::vector<Tap>) + 4 * sizeof(Tap));
  }
  const std::optional<uint64_t> buffer = shape_bytes(widest, 2 * sizeof(double));
  const uint64_t work = buffer && *buffer < UINT64_MAX - plans ? *buffer + plans : UINT64_MAX;
  check_allocation(work, fmt::format("resizing a {} tensor of shape {} to {} (float64 work buffers)",
                                     dtype_name(input.dtype()), shape_str(input.shape()), shape_str(out_shape)));

  Shape shape = input.shape();
  std::vector<double> values = input.to_double_vector();
  for (size_t axis = 0; axis < rank; ++axis) {
    const int64_t in_length = shape[axis], out_length = out_shape[axis];
    const double roi_start = roi.empty() ? 0.0 : roi[axis];
    const double roi_end = roi.empty() ? 1.0 : roi[axis + rank];
    const AxisPlan plan = plan_axis(s, in_length, out_length, scales[axis], roi_start, roi_end);
    if (is_identity(plan, in_length)) continue;

    const int64_t outer = dims_product(shape, 0, axis);
    const int64_t inner = dims_product(shape, axis + 1, rank);
    std::vector<double> next(static_cast<size_t>(outer * out_length * inner), 0.0);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t x = 0; x < out_length; ++x) {
        double* out = next.data() + (o * out_length + x) * inner;
        if (plan.outside[x]) {
          std::fill_n(out, inner, s.extrapolation_value);
          continue;
        }
        for (const Tap& tap : plan.taps[x]) {
          const double* in = values.data() + (o * in_length + tap.index) * inner;
          for (int64_t i = 0; i < inner; ++i) out[i] += tap.weight * in[i];
        }
      }
    values = std::move(next);
    shape[axis] = out_length;
  }

  dispatch_dtype(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = output.data<T>();
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        out[i] = static_cast<T>(values[i]);
      } else {
        // Integer images: round to nearest and saturate (cubic can overshoot the input range).
        const double v = std::clamp(std::nearbyint(values[i]),
                                    static_cast<double>(std::numeric_limits<T>::lowest()),
                                    static_cast<double>(std::numeric_limits<T>::max()));
        out[i] = static_cast<T>(v);
      }
    }
  });
  return output;
}

Interpolation interpolation_of(const KernelContext& ctx) {
  const std::string mode = ctx.node.attr_string("mode", "nearest");
  if (mode == "nearest") return Interpolation::Nearest;
  if (mode == "linear" || mode == "bilinear") return Interpolation::Linear;
  if (mode == "cubic") return Interpolation::Cubic;
  user_error("{}: unknown mode '{}'", ctx.node.describe(), mode);
}

ResizeSettings settings_of(const KernelContext& ctx) {
  ResizeSettings s;
  s.interpolation = interpolation_of(ctx);
  const std::string coordinates = ctx.node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coordinates == "half_pixel") s.coordinates = Coordinates::HalfPixel;
  else if (coordinates == "pytorch_half_pixel") s.coordinates = Coordinates::PytorchHalfPixel;
  else if (coordinates == "align_corners") s.coordinates = Coordinates::AlignCorners;
  else if (coordinates == "asymmetric") s.coordinates = Coordinates::Asymmetric;
  else if (coordinates == "tf_half_pixel_for_nn") s.coordinates = Coordinates::TfHalfPixelForNN;
  else if (coordinates == "tf_crop_and_resize") s.coordinates = Coordinates::TfCropAndResize;
  else if (coordinates == "half_pixel_symmetric") s.coordinates = Coordinates::HalfPixelSymmetric;
  else user_error("{}: unknown coordinate_transformation_mode '{}'", ctx.node.describe(), coordinates);
  const std::string rounding = ctx.node.attr_string("nearest_mode", "round_prefer_floor");
  if (rounding == "round_prefer_floor") s.rounding = Rounding::RoundPreferFloor;
  else if (rounding == "round_prefer_ceil") s.rounding = Rounding::RoundPreferCeil;
  else if (rounding == "floor") s.rounding = Rounding::Floor;
  else if (rounding == "ceil") s.rounding = Rounding::Ceil;
  else user_error("{}: unknown nearest_mode '{}'", ctx.node.describe(), rounding);
  s.cubic_coeff_a = ctx.node.attr_float("cubic_coeff_a", -0.75f);
  s.exclude_outside = ctx.node.attr_int("exclude_outside", 0) != 0;
  s.extrapolation_value = ctx.node.attr_float("extrapolation_value", 0.0f);
  return s;
}

// Output dims floor(L_in * scale), the scale read as the float it is stored as.
Shape scaled_shape(const KernelContext& ctx, const Shape& in_shape, const std::vector<double>& scales) {
  if (scales.size() != in_shape.size())
    user_error("{}: {} scales for an input of rank {}", ctx.node.describe(), scales.size(), in_shape.size());
  Shape out(in_shape.size());
  for (size_t a = 0; a < in_shape.size(); ++a) {
    if (!(scales[a] > 0)) user_error("{}: scale {} must be positive", ctx.node.describe(), scales[a]);
    const double length = std::floor(static_cast<double>(in_shape[a]) * scales[a]);
    // A huge or infinite scale is refused before the conversion to int64, which would be undefined.
    if (length >= 0x1p62)
      memory_refuse(UINT64_MAX, fmt::format("resizing shape {} by scales {}", shape_str(in_shape),
                                            fmt::join(scales, ", ")));
    out[a] = static_cast<int64_t>(length);
  }
  return out;
}

// Upsample-7 (scales attribute), Upsample-9 and Resize-10 (scales input): asymmetric
// coordinates, nearest rounds down.
void resize_asymmetric_floor(KernelContext& ctx, const std::vector<double>& scales) {
  const Tensor& input = ctx.input(0);
  ResizeSettings s;
  s.interpolation = interpolation_of(ctx);
  s.coordinates = Coordinates::Asymmetric;
  s.rounding = Rounding::Floor;
  ctx.outputs[0] = resize_tensor(ctx, input, scaled_shape(ctx, input.shape(), scales), scales, {}, s);
}

void upsample(KernelContext& ctx) {
  std::vector<double> scales;
  if (ctx.has_input(1)) {
    scales = ctx.input(1).to_double_vector();
  } else {
    for (float f : ctx.node.attr_floats("scales")) scales.push_back(f);
  }
  resize_asymmetric_floor(ctx, scales);
}

// Resize-11/13: X, roi, scales, sizes; exactly one of scales and sizes is non-empty.
void resize(KernelContext& ctx) {
  if (ctx.opset > 0 && ctx.opset < 11) {
    resize_asymmetric_floor(ctx, ctx.input(1).to_double_vector());
    return;
  }
  const Tensor& input = ctx.input(0);
  const ResizeSettings s = settings_of(ctx);
  std::vector<double> roi;
  if (ctx.has_input(1)) roi = ctx.input(1).to_double_vector();
  std::vector<double> scales;
  Shape out_shape;
  if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
    scales = ctx.input(2).to_double_vector();
    out_shape = scaled_shape(ctx, input.shape(), scales);
  } else if (ctx.has_input(3) && ctx.input(3).numel() > 0) {
    out_shape = input_ints(ctx, 3, "sizes");
    if (out_shape.size() != input.shape().size())
      user_error("{}: sizes {} do not match the input rank {}", ctx.node.describe(),
                 shape_str(out_shape), input.rank());
    for (size_t a = 0; a < out_shape.size(); ++a) {
      if (out_shape[a] < 0) user_error("{}: negative size {}", ctx.node.describe(), shape_str(out_shape));
      scales.push_back(static_cast<double>(out_shape[a]) / static_cast<double>(input.shape()[a]));
    }
  } else {
    user_error("{}: needs either scales or sizes", ctx.node.describe());
  }
  ctx.outputs[0] = resize_tensor(ctx, input, out_shape, scales, roi, s);
}

}  // namespace

void register_resize_kernels(KernelRegistry& registry) {
  registry.add_reference("Resize", resize);
  registry.add_reference("Upsample", upsample);
}

}  // namespace ocs::tensor_kernels
