#include "data/fixed_inputs.h"

#include "core/error.h"

#include <algorithm>
#include <stdexcept>

namespace ocs {

namespace {

std::pair<std::string, std::string> split_pair(const std::string& spec, const std::string& option,
                                               const std::string& form) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    user_error("{} '{}' must be {}", option, spec, form);
  return {spec.substr(0, eq), spec.substr(eq + 1)};
}

}  // namespace

Tensor fixed_input_tensor(const Value& value, const std::string& text) {
  Shape shape;
  if (value.shape) {
    shape = *value.shape;
    for (int64_t& d : shape) {
      if (d > 1) user_error("cannot fix input {}={}: input '{}' has shape {}; only inputs holding one number "
                            "can be fixed", value.name, text, value.name, shape_str(*value.shape));
      d = 1;  // an unknown dim becomes 1: one number
    }
  }
  double number = 0;
  try {
    size_t used = 0;
    number = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    user_error("cannot fix input {}={}: '{}' is not a number", value.name, text, text);
  }
  if (value.dtype != DType::Float32 && value.dtype != DType::Float64 && value.dtype != DType::Float16 &&
      number != static_cast<double>(static_cast<int64_t>(number)))
    user_error("cannot fix input {}={}: input '{}' is {}, which takes whole numbers", value.name, text,
               value.name, dtype_name(value.dtype));
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return tensor_cast(Tensor::from_vector<double>(shape, std::vector<double>(count, number)), value.dtype);
}

std::map<std::string, std::string> parse_fixed_values(const std::vector<std::string>& specs,
                                                      const std::string& option) {
  std::map<std::string, std::string> values;
  for (const auto& spec : specs) {
    auto [name, value] = split_pair(spec, option, "NAME=VALUE (e.g. sr=16000)");
    if (!values.emplace(name, value).second) user_error("{} gives input '{}' twice", option, name);
  }
  return values;
}

std::map<std::string, Shape> parse_fixed_shapes(const std::vector<std::string>& specs, const std::string& option) {
  std::map<std::string, Shape> shapes;
  for (const auto& spec : specs) {
    auto [name, text] = split_pair(spec, option, "NAME=D0xD1x... (e.g. input=1x512)");
    Shape shape;
    size_t begin = 0;
    while (begin <= text.size()) {
      const size_t end = std::min(text.find('x', begin), text.size());
      const std::string dim = text.substr(begin, end - begin);
      if (dim.empty() || dim.find_first_not_of("0123456789") != std::string::npos || dim.size() > 12)
        user_error("{} '{}': '{}' is not a dimension; write the shape as D0xD1x... (e.g. 1x512)", option, spec, dim);
      shape.push_back(std::stoll(dim));
      begin = end + 1;
    }
    if (!shapes.emplace(name, shape).second) user_error("{} gives input '{}' twice", option, name);
  }
  return shapes;
}

}  // namespace ocs
