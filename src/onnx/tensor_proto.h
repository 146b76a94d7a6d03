// Conversion between onnx.TensorProto and ocs::Tensor, including external data.
#pragma once

#include "core/tensor.h"

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <string>

namespace ocs {

// `base_dir` resolves external data; an empty base_dir refuses external data. `context` names the
// file the tensor comes from, for messages. Every malformed tensor is a UserError.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::filesystem::path& base_dir,
                         const std::string& context);
void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);

}  // namespace ocs
