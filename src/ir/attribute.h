// A node attribute, keyed by its ONNX name on the node. Holds one of ONNX's attribute kinds.
#pragma once

#include "core/tensor.h"

#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace ocs {

struct Graph;

struct Attribute {
  enum class Kind { Float, Int, String, Tensor, Graph, Floats, Ints, Strings };
  Kind kind = Kind::Int;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  ocs::Tensor t;
  std::shared_ptr<ocs::Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

}  // namespace ocs
