#include "api/arrays.h"

#include "core/error.h"

#include <cstring>

namespace ocs {

int64_t Array::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t Array::nbytes() const {
  return static_cast<size_t>(size()) * dtype_size(api::dtype_from_name(dtype, "array"));
}

Array Array::copy_of(const std::string& dtype, std::vector<int64_t> shape, const void* data) {
  Tensor t(api::dtype_from_name(dtype, "array"), std::move(shape));
  if (t.nbytes() > 0) std::memcpy(t.raw(), data, t.nbytes());
  return api::to_array(t);
}

namespace api {

DType dtype_from_name(const std::string& name, const std::string& what) {
  for (DType t : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8,
                  DType::Int16, DType::UInt16, DType::Int32, DType::UInt32, DType::Int64, DType::UInt64, DType::Bool})
    if (dtype_name(t) == name) return t;
  user_error("{} has element type '{}', which ocs cannot hold; use float32, float64, float16, int8, uint8, int16, "
             "uint16, int32, uint32, int64, uint64 or bool",
             what, name);
}

Tensor to_tensor(const Array& array, const std::string& what) {
  for (int64_t d : array.shape)
    if (d < 0) user_error("{} has a negative dimension in its shape", what);
  Tensor t(dtype_from_name(array.dtype, what), array.shape);
  if (t.nbytes() == 0) return t;
  if (!array.data) user_error("{} has no data", what);
  std::memcpy(t.raw(), array.data, t.nbytes());
  return t;
}

std::map<std::string, Tensor> to_tensors(const Arrays& arrays, const std::string& what) {
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, array] : arrays) tensors[name] = to_tensor(array, fmt::format("{} '{}'", what, name));
  return tensors;
}

Array to_array(const Tensor& tensor) {
  auto owner = std::make_shared<const Tensor>(tensor);
  Array array;
  array.dtype = std::string(dtype_name(tensor.dtype()));
  array.shape = tensor.shape();
  array.data = owner->raw();
  array.owner = owner;
  return array;
}

}  // namespace api
}  // namespace ocs
