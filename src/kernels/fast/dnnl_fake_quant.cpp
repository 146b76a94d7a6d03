// The fake-quantize step of dnnl_int8.h: one pass over x's buffer, whatever its layout. The scale
// is per tensor, so every element, padding included, maps the same way; oneDNN keeps the padding
// of blocked layouts at zero, and zero maps to zero (q = zero_point, then q - zero_point = 0).
#include "kernels/fast/dnnl_int8.h"

#include "kernels/fast/quant_loops.h"

#include <cmath>

namespace ocs {

namespace {

class LayoutFakeQuant final : public LayoutKernel {
 public:
  LayoutFakeQuant(float scale, int32_t zero_point, int32_t q_min, int32_t q_max)
      : scale_(scale), zero_point_(zero_point), q_min_(q_min), q_max_(q_max) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || (!x.has_memory && x.plain.dtype() != DType::Float32)) return false;
    const dnnl::memory from = dnnl_memory_of(x);
    const dnnl::memory::desc desc = from.get_desc();
    if (desc.data_type() != dnnl::memory::data_type::f32) return false;
    dnnl_allocate_value(desc, output);
    const int64_t n = static_cast<int64_t>(desc.get_size() / sizeof(float));
    fast_fake_quantize(static_cast<const float*>(from.get_data_handle()), n, scale_, zero_point_, q_min_, q_max_,
                       static_cast<float*>(output.memory.get_data_handle()));
    return true;
  }

 private:
  const float scale_;
  const int32_t zero_point_, q_min_, q_max_;
};

}  // namespace

std::unique_ptr<LayoutKernel> dnnl_make_layout_fake_quant(float scale, int32_t zero_point, DType type) {
  if (!(scale > 0.0f) || !std::isfinite(scale)) return nullptr;
  const int32_t q_min = type == DType::UInt8 ? 0 : -128, q_max = type == DType::UInt8 ? 255 : 127;
  if ((type != DType::UInt8 && type != DType::Int8) || zero_point < q_min || zero_point > q_max) return nullptr;
  return std::make_unique<LayoutFakeQuant>(scale, zero_point, q_min, q_max);
}

}  // namespace ocs
