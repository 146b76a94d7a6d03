#include "core/tensor.h"

#include "core/half.h"
#include "core/memory_budget.h"

#include <cstdlib>
#include <cstring>
#include <limits>

namespace ocs {

int64_t shape_numel(const Shape& shape) {
  // Shapes come from models and inputs: a product that overflows must be refused, never wrap
  // around to a small count that would then be indexed past.
  const std::optional<uint64_t> n = shape_bytes(shape, 1);
  if (!n || *n > static_cast<uint64_t>(INT64_MAX)) {
    for (int64_t d : shape) OCS_CHECK(d >= 0, "negative dimension in {}", shape_str(shape));
    memory_refuse(std::numeric_limits<uint64_t>::max(), "a tensor of shape " + shape_str(shape));
  }
  return static_cast<int64_t>(*n);
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<int64_t> shape_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  OCS_CHECK(dtype_supported(dtype), "cannot allocate a {} tensor", dtype_name(dtype));
  for (int64_t d : shape_) OCS_CHECK(d >= 0, "negative dimension in {}", shape_str(shape_));
  // Every tensor goes through the memory budget (core/memory_budget.h) before it is allocated.
  const std::optional<uint64_t> bytes = shape_bytes(shape_, dtype_size(dtype));
  // Round up to the alignment so that aligned_alloc's size rule holds; never allocate 0 bytes.
  const uint64_t padded = bytes && *bytes < (uint64_t{1} << 62) ? ((*bytes + 63) / 64) * 64 + 64 : 0;
  if (!padded || !memory_fits(padded))
    memory_refuse(bytes.value_or(std::numeric_limits<uint64_t>::max()),
                  fmt::format("a {} tensor of shape {}", dtype_name(dtype), shape_str(shape_)));
  numel_ = shape_numel(shape_);
  auto* p = static_cast<std::byte*>(std::aligned_alloc(64, padded));
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, padded);
  memory_note_allocated(padded);
  buffer_ = std::shared_ptr<std::byte[]>(p, [padded](std::byte* q) {
    memory_note_released(padded);
    std::free(q);
  });
}

Tensor Tensor::reshaped(Shape shape) const {
  OCS_CHECK(shape_numel(shape) == numel_, "reshape {} to {}", shape_str(shape_), shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  return dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    std::vector<int64_t> out(static_cast<size_t>(numel_));
    const T* p = data<T>();
    for (int64_t i = 0; i < numel_; ++i) out[i] = static_cast<int64_t>(p[i]);
    return out;
  });
}

std::vector<double> Tensor::to_double_vector() const {
  if (dtype_is_half(dtype_)) {  // widened exactly (core/half.h); no kernel computes with these
    std::vector<double> out(static_cast<size_t>(numel_));
    const auto* bits = static_cast<const uint16_t*>(raw());
    for (int64_t i = 0; i < numel_; ++i)
      out[i] = dtype_ == DType::Float16 ? float16_to_float({bits[i]}) : bfloat16_to_float({bits[i]});
    return out;
  }
  return dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> out(static_cast<size_t>(numel_));
    const T* p = data<T>();
    for (int64_t i = 0; i < numel_; ++i) out[i] = static_cast<double>(p[i]);
    return out;
  });
}

// Between a 16-bit float and float32: exact widening, or narrowing to nearest even.
static Tensor half_float_cast(const Tensor& input, DType to) {
  Tensor out(to, input.shape());
  const int64_t n = input.numel();
  if (to == DType::Float32) {
    const std::vector<double> wide = input.to_double_vector();
    float* dst = out.data<float>();
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(wide[i]);
    return out;
  }
  const float* src = input.data<float>();
  auto* dst = static_cast<uint16_t*>(out.raw());
  for (int64_t i = 0; i < n; ++i)
    dst[i] = to == DType::Float16 ? float16_from_double(src[i]).bits : bfloat16_from_double(src[i]).bits;
  return out;
}

Tensor tensor_cast(const Tensor& input, DType to) {
  if (input.dtype() == to) return input;
  const bool half_in = dtype_is_half(input.dtype()), half_out = dtype_is_half(to);
  if ((half_in && to == DType::Float32) || (half_out && input.dtype() == DType::Float32))
    return half_float_cast(input, to);
  Tensor out(to, input.shape());
  dispatch_dtype(input.dtype(), [&](auto in_tag) {
    using In = decltype(in_tag);
    const In* src = input.data<In>();
    dispatch_dtype(to, [&](auto out_tag) {
      using Out = decltype(out_tag);
      Out* dst = out.data<Out>();
      for (int64_t i = 0; i < input.numel(); ++i) dst[i] = static_cast<Out>(src[i]);
    });
  });
  return out;
}

}  // namespace ocs
