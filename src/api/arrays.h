// Between the installed API's Array (include/ocs/ocs.h) and the engine's Tensor: inputs are
// copied once into a Tensor, outputs share the Tensor's buffer.
#pragma once

#include "core/tensor.h"
#include "ocs/ocs.h"

#include <map>
#include <string>

namespace ocs::api {

DType dtype_from_name(const std::string& name, const std::string& what);
// `array` as a Tensor (a copy); UserError naming `what` for an unknown dtype or missing data.
Tensor to_tensor(const Array& array, const std::string& what);
std::map<std::string, Tensor> to_tensors(const Arrays& arrays, const std::string& what);
// `tensor` as an Array sharing its buffer.
Array to_array(const Tensor& tensor);

}  // namespace ocs::api
