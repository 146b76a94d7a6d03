// A dense, row-major tensor that owns (shares) a 64-byte aligned buffer.
// Copies are shallow: two Tensors may view one buffer (Reshape and Identity are free).
// Call clone() for a deep copy before writing into a tensor you did not allocate.
#pragma once

#include "core/dtype.h"
#include "core/error.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ocs {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[1, 3, 224, 224]"
// Row-major strides in elements.
std::vector<int64_t> shape_strides(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Allocates numel * size bytes, zero-filled.
  Tensor(DType dtype, Shape shape);

  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values) {
    Tensor t(DTypeOf<T>::value, std::move(shape));
    OCS_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "{} values for shape {}",
              values.size(), shape_str(t.shape()));
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }
  template <typename T>
  static Tensor scalar(T value) { return from_vector<T>({}, {value}); }

  bool defined() const { return dtype_ != DType::Undefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t axis) const { return shape_.at(static_cast<size_t>(axis)); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  template <typename T>
  T* data() {
    OCS_CHECK(DTypeOf<T>::value == dtype_, "tensor holds {}, asked for {}", dtype_name(dtype_),
              dtype_name(DTypeOf<T>::value));
    return reinterpret_cast<T*>(raw());
  }
  template <typename T>
  const T* data() const {
    OCS_CHECK(DTypeOf<T>::value == dtype_, "tensor holds {}, asked for {}", dtype_name(dtype_),
              dtype_name(DTypeOf<T>::value));
    return reinterpret_cast<const T*>(raw());
  }
  template <typename T>
  std::span<T> span() { return {data<T>(), static_cast<size_t>(numel_)}; }
  template <typename T>
  std::span<const T> span() const { return {data<T>(), static_cast<size_t>(numel_)}; }
  template <typename T>
  std::vector<T> to_vector() const { auto s = span<T>(); return {s.begin(), s.end()}; }

  void* raw() { return buffer_ ? buffer_.get() + offset_ : nullptr; }
  const void* raw() const { return buffer_ ? buffer_.get() + offset_ : nullptr; }

  // Same buffer, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Deep copy.
  Tensor clone() const;
  // Values converted to int64 (for shape-like inputs: any integer type).
  std::vector<int64_t> to_int64_vector() const;
  // Values converted to float64 (any numeric type).
  std::vector<double> to_double_vector() const;
  // True when `other` shares this tensor's buffer.
  bool shares_buffer_with(const Tensor& other) const { return buffer_ && buffer_ == other.buffer_; }

 private:
  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<std::byte[]> buffer_;
  size_t offset_ = 0;
};

// Converts element type (value-preserving static_cast per element, like ONNX Cast for numbers;
// float16/bfloat16 to and from float32 as core/half.h converts).
Tensor tensor_cast(const Tensor& input, DType to);

}  // namespace ocs
