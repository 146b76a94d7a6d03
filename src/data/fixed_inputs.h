// Inputs fixed to one number (--fix-input sr=16000, --fix in `ocs stream`) and input shapes fixed
// (--fix-shape input=1x512): the parsers of those options and the tensor a fixed number becomes.
// Used by the input specialization pass (passes/specialize_inputs.h), the options of the recipe
// and the stream runner (eval/stream_runner.h).
#pragma once

#include "core/tensor.h"
#include "ir/graph.h"

#include <map>
#include <string>
#include <vector>

namespace ocs {

// Parses "NAME=VALUE" items (--fix-input); `option` names the flag in messages.
std::map<std::string, std::string> parse_fixed_values(const std::vector<std::string>& specs,
                                                      const std::string& option);
// Parses "NAME=D0xD1x..." items (--fix-shape), e.g. input=1x512.
std::map<std::string, Shape> parse_fixed_shapes(const std::vector<std::string>& specs,
                                                const std::string& option);

// The tensor an input holding one number takes for `text` ("16000"): the input's element type,
// its declared shape with unknown dims as 1 (a scalar when the rank is unknown). UserError when
// the input holds more than one element or `text` is not a number of its type.
Tensor fixed_input_tensor(const Value& input, const std::string& text);

}  // namespace ocs
