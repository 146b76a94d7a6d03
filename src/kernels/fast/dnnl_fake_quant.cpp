// The fake-quantize step of dnnl_int8.h: one pass over x's buffer, whatever its layout, in blocks
// small enough to stay in cache: DequantizeLinear(QuantizeLinear(x)) into the output block, then
// the element-wise functions that follow, in place. The scale is per tensor and the functions are
// element-wise, so every element, padding included, maps the same way; oneDNN keeps the padding of
// blocked layouts at zero, and zero maps to zero (q = zero_point, then q - zero_point = 0). A
// function with f(0) != 0 (Sigmoid, HardSigmoid) would write into the padding: with such
// functions the step declines a padded layout (its nodes then run one by one).
//
// Numbers: the fake quantization is bit for bit the two reference kernels (quant_loops.h). The
// functions compute what the ONNX nodes compute, in their order (HardSwish as Paddle's
// Add -> Clip -> Mul -> Div: (x * min(max(x + 3, 0), 6)) / 6); a linear function merged from two
// nodes, or a Div taken as a multiplication by 1 / c (dnnl_node_as_eltwise), is one float rounding
// away, as in the fused Conv chains.
#include "kernels/fast/dnnl_int8.h"

#include "kernels/fast/quant_loops.h"

#include "core/vector_clones.h"

#include <algorithm>
#include <cmath>

namespace ocs {

namespace {

OCS_VECTOR_CLONES void apply_clip(float* y, int64_t n, float low, float high) {
  for (int64_t i = 0; i < n; ++i) {
    float v = y[i] < low ? low : y[i];  // std::max / std::min as the reference Clip: NaN stays
    y[i] = high < v ? high : v;
  }
}
OCS_VECTOR_CLONES void apply_linear(float* y, int64_t n, float alpha, float beta) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * y[i] + beta;
}
OCS_VECTOR_CLONES void apply_leaky_relu(float* y, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] < 0.0f ? alpha * y[i] : y[i];
}
OCS_VECTOR_CLONES void apply_hardswish(float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float t = y[i] + 3.0f;
    t = t < 0.0f ? 0.0f : t;
    t = 6.0f < t ? 6.0f : t;
    y[i] = (y[i] * t) / 6.0f;
  }
}

void apply(const EltwiseOp& op, float* y, int64_t n) {
  switch (op.kind) {
    case EltwiseOp::Kind::Relu: return apply_leaky_relu(y, n, 0.0f);
    case EltwiseOp::Kind::LeakyRelu: return apply_leaky_relu(y, n, op.alpha);
    case EltwiseOp::Kind::Clip: return apply_clip(y, n, op.alpha, op.beta);
    case EltwiseOp::Kind::Linear: return apply_linear(y, n, op.alpha, op.beta);
    case EltwiseOp::Kind::HardSwish: return apply_hardswish(y, n);
    case EltwiseOp::Kind::Sigmoid:
      for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-y[i]));
      return;
    case EltwiseOp::Kind::Tanh:
      for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
      return;
  }
}

class LayoutFakeQuant final : public LayoutKernel {
 public:
  LayoutFakeQuant(float scale, int32_t zero_point, int32_t q_min, int32_t q_max, std::vector<EltwiseOp> after,
                  bool keeps_zero)
      : scale_(scale), zero_point_(zero_point), q_min_(q_min), q_max_(q_max), after_(std::move(after)),
        keeps_zero_(keeps_zero) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !dnnl_value_is_float(x)) return false;
    const dnnl::memory from = dnnl_memory_of(x);
    const dnnl::memory::desc desc = from.get_desc();
    if (desc.data_type() != dnnl::memory::data_type::f32) return false;
    const dnnl::memory::dims dims = desc.dims();
    const int64_t elements = shape_numel(Shape(dims.begin(), dims.end()));
    if (!keeps_zero_ && desc.get_size() != static_cast<size_t>(elements) * sizeof(float)) return false;  // padded
    dnnl_allocate_value(desc, output);
    const int64_t n = static_cast<int64_t>(desc.get_size() / sizeof(float));
    const float* in = static_cast<const float*>(from.get_data_handle());
    float* out = static_cast<float*>(output.memory.get_data_handle());
    constexpr int64_t block = 1 << 13;
    const int64_t blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static) if (n >= kQuantParallelMin)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t at = b * block, count = std::min(block, n - at);
      fast_fake_quantize_serial(in + at, count, scale_, zero_point_, q_min_, q_max_, out + at);
      for (const EltwiseOp& op : after_) apply(op, out + at, count);
    }
    return true;
  }

 private:
  const float scale_;
  const int32_t zero_point_, q_min_, q_max_;
  const std::vector<EltwiseOp> after_;
  const bool keeps_zero_;
};

// f(0) == 0 through all the functions: a blocked layout's zero padding stays zero.
bool keeps_zero(const std::vector<EltwiseOp>& ops) {
  float v = 0.0f;
  for (const EltwiseOp& op : ops) apply(op, &v, 1);
  return v == 0.0f;
}

}  // namespace

std::unique_ptr<LayoutKernel> dnnl_make_layout_fake_quant(float scale, int32_t zero_point, DType type,
                                                          std::vector<EltwiseOp> after) {
  if (!(scale > 0.0f) || !std::isfinite(scale)) return nullptr;
  const int32_t q_min = type == DType::UInt8 ? 0 : -128, q_max = type == DType::UInt8 ? 255 : 127;
  if ((type != DType::UInt8 && type != DType::Int8) || zero_point < q_min || zero_point > q_max) return nullptr;
  const bool zero_stays = keeps_zero(after);
  return std::make_unique<LayoutFakeQuant>(scale, zero_point, q_min, q_max, std::move(after), zero_stays);
}

}  // namespace ocs
