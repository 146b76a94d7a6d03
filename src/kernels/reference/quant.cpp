// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear reference kernels. These must agree
// with ONNX Runtime's CPU kernels to the last bit (OCS compares our QDQ with ORT's), so the
// arithmetic lives in core/round.h, which documents each rounding step.
//
//   QuantizeLinear   y = saturate(round_half_to_even(x / y_scale) + y_zero_point)
//   DequantizeLinear y = (x - x_zero_point) * x_scale
//
// Scale and zero point: opset 10 takes a scalar (per tensor); opset 13 also takes 1-D tensors
// of the size of axis `axis` (default 1, negative counts from the back) for per-axis
// quantization. A 1-element 1-D scale is per tensor, as in ONNX Runtime. The zero point is
// optional; without it, QuantizeLinear produces uint8 with zero point 0. DequantizeLinear also
// accepts int32 input (a quantized bias), whose zero point must be 0.
#include "kernels/reference/reduction_internal.h"
#include "core/round.h"

#include <algorithm>

namespace ocs {
namespace {

// How scale and zero point apply: x is viewed as [outer, channels, inner] and element
// (o, c, i) uses scales[c] and zero_points[c]. Per tensor: one channel covering everything.
struct QuantLayout {
  AxisSplit split;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
};

QuantLayout quant_layout(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor& zero_point) {
  const Node& node = ctx.node;
  if (scale.dtype() != DType::Float32)
    user_error("{}: scale is {}, expected float32", node.describe(), dtype_name(scale.dtype()));
  // A scalar and a 1-element 1-D tensor are interchangeable here, as in ONNX Runtime.
  if (zero_point.defined() && zero_point.numel() != scale.numel())
    user_error("{}: zero point shape {} does not match scale shape {}", node.describe(),
               shape_str(zero_point.shape()), shape_str(scale.shape()));

  QuantLayout layout;
  const bool per_tensor = scale.numel() == 1 && scale.rank() <= 1;
  if (per_tensor) {
    layout.split.inner = x.numel();
  } else {
    if (ctx.opset < 13)
      user_error("{}: per-axis scale {} needs opset 13 (the model has opset {})", node.describe(),
                 shape_str(scale.shape()), ctx.opset);
    if (scale.rank() != 1)
      user_error("{}: scale must be a scalar or 1-D, got shape {}", node.describe(), shape_str(scale.shape()));
    const int64_t axis = reduction_normalize_axis(node.attr_int("axis", 1), x.rank(), node);
    if (x.rank() == 0 || x.dim(axis) != scale.numel())
      user_error("{}: {} scales for axis {} of an input of shape {}", node.describe(), scale.numel(), axis,
                 shape_str(x.shape()));
    layout.split = reduction_split_at_axis(x.shape(), axis);
  }
  for (double s : scale.to_double_vector()) layout.scales.push_back(static_cast<float>(s));
  if (zero_point.defined()) {
    for (int64_t z : zero_point.to_int64_vector()) layout.zero_points.push_back(static_cast<int32_t>(z));
  } else {
    layout.zero_points.assign(layout.scales.size(), 0);
  }
  return layout;
}

template <typename Q>
void quantize_typed(const float* x, const QuantLayout& layout, Q* y) {
  const AxisSplit& s = layout.split;
  if (layout.scales.size() == 1) {  // per tensor: one flat loop
    const float scale = layout.scales[0];
    const int32_t zero_point = layout.zero_points[0];
    for (int64_t i = 0, n = s.outer * s.axis_dim * s.inner; i < n; ++i) y[i] = quantize_value<Q>(x[i], scale, zero_point);
    return;
  }
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < s.axis_dim; ++c)
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t index = s.index(o, c, i);
        y[index] = quantize_value<Q>(x[index], layout.scales[c], layout.zero_points[c]);
      }
}

void quantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& zero_point = ctx.input(2);
  if (x.dtype() != DType::Float32 && x.dtype() != DType::Int32)
    user_error("{}: input is {}, expected float32 or int32", ctx.node.describe(), dtype_name(x.dtype()));
  const DType out_type = zero_point.defined() ? zero_point.dtype() : DType::UInt8;
  if (out_type != DType::UInt8 && out_type != DType::Int8)
    user_error("{}: zero point is {}, expected uint8 or int8", ctx.node.describe(), dtype_name(out_type));
  const QuantLayout layout = quant_layout(ctx, x, ctx.input(1), zero_point);

  // int32 input (allowed by the spec, not by ONNX Runtime) is converted to float first.
  std::vector<float> converted;
  const float* values = x.dtype() == DType::Float32 ? x.data<float>() : nullptr;
  if (!values) {
    converted.resize(static_cast<size_t>(x.numel()));
    std::transform(x.data<int32_t>(), x.data<int32_t>() + x.numel(), converted.begin(),
                   [](int32_t v) { return static_cast<float>(v); });
    values = converted.data();
  }
  Tensor y(out_type, x.shape());
  if (out_type == DType::UInt8) quantize_typed<uint8_t>(values, layout, y.data<uint8_t>());
  else quantize_typed<int8_t>(values, layout, y.data<int8_t>());
  ctx.outputs[0] = std::move(y);
}

void dequantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& zero_point = ctx.input(2);
  const DType in_type = x.dtype();
  if (in_type != DType::UInt8 && in_type != DType::Int8 && in_type != DType::Int32)
    user_error("{}: input is {}, expected uint8, int8 or int32", ctx.node.describe(), dtype_name(in_type));
  if (zero_point.defined() && zero_point.dtype() != in_type)
    user_error("{}: zero point is {} but the input is {}; they must match", ctx.node.describe(),
               dtype_name(zero_point.dtype()), dtype_name(in_type));
  const QuantLayout layout = quant_layout(ctx, x, ctx.input(1), zero_point);
  if (in_type == DType::Int32)
    for (int32_t z : layout.zero_points)
      if (z != 0) user_error("{}: an int32 input needs zero point 0, got {}", ctx.node.describe(), z);

  const std::vector<int64_t> q = x.to_int64_vector();
  Tensor y(DType::Float32, x.shape());
  float* out = y.data<float>();
  const AxisSplit& s = layout.split;
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < s.axis_dim; ++c)
      for (int64_t i = 0; i < s.inner; ++i) {
        const int64_t index = s.index(o, c, i);
        out[index] = dequantize_value(static_cast<int32_t>(q[index]), layout.scales[c], layout.zero_points[c]);
      }
  ctx.outputs[0] = std::move(y);
}

// DynamicQuantizeLinear (opset 11): uint8 quantization with scale and zero point from the data.
//   range = [min(0, min(x)), max(0, max(x))]            (always contains 0)
//   scale = (range_max - range_min) / 255               (float32; 1 when the range is [0, 0],
//                                                        where ONNX would divide by zero; ORT's choice)
//   zero_point = round_half_to_even(clamp(0 - range_min / scale, 0, 255))
//   y = QuantizeLinear(x, scale, zero_point)
// NaNs are skipped when finding the range.
void dynamic_quantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::Float32)
    user_error("{}: input is {}, expected float32", ctx.node.describe(), dtype_name(x.dtype()));
  const float* in = x.data<float>();
  float range_min = 0.0f;
  float range_max = 0.0f;
  for (int64_t k = 0; k < x.numel(); ++k) {
    if (std::isnan(in[k])) continue;
    range_min = std::min(range_min, in[k]);
    range_max = std::max(range_max, in[k]);
  }
  constexpr float q_min = 0.0f;
  constexpr float q_max = 255.0f;
  const float scale = range_max == range_min ? 1.0f : (range_max - range_min) / (q_max - q_min);
  const float initial_zero_point = q_min - range_min / scale;
  const auto zero_point =
      static_cast<uint8_t>(round_half_to_even(std::clamp(initial_zero_point, q_min, q_max)));

  Tensor y(DType::UInt8, x.shape());
  uint8_t* out = y.data<uint8_t>();
  for (int64_t k = 0; k < x.numel(); ++k) out[k] = quantize_value<uint8_t>(in[k], scale, zero_point);
  ctx.outputs[0] = std::move(y);
  if (ctx.num_outputs() > 1) ctx.outputs[1] = Tensor::scalar<float>(scale);
  if (ctx.num_outputs() > 2) ctx.outputs[2] = Tensor::scalar<uint8_t>(zero_point);
}

}  // namespace

void register_quant_kernels(KernelRegistry& registry) {
  registry.add_reference("QuantizeLinear", quantize_linear);
  registry.add_reference("DequantizeLinear", dequantize_linear);
  registry.add_reference("DynamicQuantizeLinear", dynamic_quantize_linear);
}

}  // namespace ocs
