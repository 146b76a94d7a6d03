#include "onnx/conv_kernel_shapes.h"

#include <map>
#include <string>
#include <vector>

namespace ocs::detail {

namespace {

using Dims = std::map<std::string, std::vector<int64_t>>;

// Index of the weight input of the ops whose shape inference takes the kernel from it.
int weight_input(const onnx::NodeProto& node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") return -1;
  if (node.op_type() == "Conv" || node.op_type() == "ConvInteger") return 1;
  if (node.op_type() == "QLinearConv") return 3;
  return -1;
}

bool has_attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return true;
  return false;
}

bool make_explicit(onnx::GraphProto& graph, Dims dims) {  // by value: a subgraph adds its own
  for (const auto& t : graph.initializer()) dims[t.name()] = {t.dims().begin(), t.dims().end()};
  for (const auto& v : graph.input()) {
    if (!v.type().tensor_type().has_shape()) continue;
    std::vector<int64_t> shape;
    for (const auto& d : v.type().tensor_type().shape().dim())
      shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    dims.emplace(v.name(), shape);
  }
  for (const auto& node : graph.node())
    if (node.op_type() == "Constant" && node.output_size() == 1)
      for (const auto& a : node.attribute())
        if (a.name() == "value" && a.has_t()) dims[node.output(0)] = {a.t().dims().begin(), a.t().dims().end()};

  for (auto& node : *graph.mutable_node()) {
    for (auto& a : *node.mutable_attribute()) {
      if (a.has_g() && !make_explicit(*a.mutable_g(), dims)) return false;
      for (auto& g : *a.mutable_graphs())
        if (!make_explicit(g, dims)) return false;
    }
    const int w = weight_input(node);
    if (w < 0 || has_attribute(node, "kernel_shape") || node.input_size() <= w) continue;
    const auto it = dims.find(node.input(w));
    if (it == dims.end() || it->second.size() < 3) return false;
    const std::vector<int64_t> spatial(it->second.begin() + 2, it->second.end());
    for (int64_t d : spatial)
      if (d < 0) return false;
    auto* kernel = node.add_attribute();
    kernel->set_name("kernel_shape");
    kernel->set_type(onnx::AttributeProto::INTS);
    for (int64_t d : spatial) kernel->add_ints(d);
  }
  return true;
}

}  // namespace

bool make_conv_kernel_shapes_explicit(onnx::GraphProto& graph) { return make_explicit(graph, {}); }

}  // namespace ocs::detail
