#include "analysis/integer_layers.h"

#include "analysis/subgraph_layers.h"

#include <nlohmann/json.hpp>

#include <optional>

namespace ocs {
namespace {

bool is_integer(DType t) {
  return t == DType::Int8 || t == DType::UInt8 || t == DType::Int16 || t == DType::UInt16 || t == DType::Int32;
}

// The input holding the weight of an integer op: ConvInteger / MatMulInteger (A, B, ...) -> 1;
// QLinearConv / QLinearMatMul (x, x_scale, x_zero_point, w, ...) -> 3; -1 for other ops.
int integer_weight_input(const std::string& op) {
  if (op == "ConvInteger" || op == "MatMulInteger") return 1;
  if (op == "QLinearConv" || op == "QLinearMatMul") return 3;
  return -1;
}

bool is_float_layer(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul";
}

// The node as an integer layer, or nullopt.
std::optional<IntegerLayer> integer_layer(const Graph& graph, const Node& node, const GraphScope& scope) {
  if (!node.domain.empty()) return std::nullopt;
  IntegerLayer layer{node.name, node.op_type, "", DType::Undefined, {}};
  ValueId weight = kNoValue;
  if (const int index = integer_weight_input(node.op_type); index >= 0) {
    if (static_cast<size_t>(index) < node.inputs.size()) weight = node.inputs[index];
  } else if (is_float_layer(node.op_type) && node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
    // QDQ: the weight is DequantizeLinear(integer constant).
    const auto producer = graph.producer(node.inputs[1]);
    if (!producer || graph.nodes[*producer].op_type != "DequantizeLinear") return std::nullopt;
    weight = graph.nodes[*producer].inputs.at(0);
    const Value* q = resolve_constant(graph, weight, scope);
    if (!q || !is_integer(q->constant->dtype())) return std::nullopt;
    layer.op_type += " (QDQ)";
  } else {
    return std::nullopt;
  }
  if (const Value* w = resolve_constant(graph, weight, scope)) {
    layer.weight = w->name;
    layer.dtype = w->constant->dtype();
    layer.shape = w->constant->shape();
  } else if (weight != kNoValue) {
    layer.dtype = graph.values[weight].dtype;  // computed at run time (MatMulInteger of two activations)
  }
  return layer;
}

void collect(const Graph& graph, GraphScope& scope, std::vector<IntegerLayer>& out) {
  for (const Node& node : graph.nodes) {
    if (auto layer = integer_layer(graph, node, scope)) out.push_back(std::move(*layer));
    for (const auto& [key, attr] : node.attributes) {
      if (!attr.g) continue;
      scope.push_back(&graph);
      collect(*attr.g, scope, out);
      scope.pop_back();
    }
  }
}

}  // namespace

std::vector<IntegerLayer> find_integer_layers(const Graph& graph) {
  std::vector<IntegerLayer> out;
  GraphScope scope;
  collect(graph, scope, out);
  return out;
}

std::string integer_layers_brief(const std::vector<IntegerLayer>& layers, size_t shown) {
  std::string out;
  for (size_t i = 0; i < layers.size() && i < shown; ++i)
    out += fmt::format("{}{} '{}'", i ? ", " : "", layers[i].op_type, layers[i].node);
  if (layers.size() > shown) out += fmt::format(" and {} more", layers.size() - shown);
  return out;
}

std::string integer_layers_table(const std::vector<IntegerLayer>& layers) {
  if (layers.empty()) return "";
  std::string out = fmt::format("{:<32} {:<20} {:<8} {:<20} {}\n", "integer layer", "op", "dtype", "weight shape", "weight");
  for (const auto& l : layers) {
    std::string name = l.node.size() > 32 ? "..." + l.node.substr(l.node.size() - 29) : l.node;
    out += fmt::format("{:<32} {:<20} {:<8} {:<20} {}\n", name, l.op_type, dtype_name(l.dtype),
                       l.weight.empty() ? "-" : shape_str(l.shape), l.weight.empty() ? "(not a constant)" : l.weight);
  }
  out += fmt::format("the model is already quantized: {} integer layers\n", layers.size());
  return out;
}

nlohmann::json integer_layers_json(const std::vector<IntegerLayer>& layers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : layers)
    out.push_back({{"node", l.node}, {"op_type", l.op_type}, {"weight", l.weight},
                   {"dtype", dtype_name(l.dtype)}, {"shape", l.shape}});
  return out;
}

void refuse_quantized_model(const Graph& graph, const std::string& path) {
  const auto layers = find_integer_layers(graph);
  if (layers.empty()) return;
  user_error("'{}' is already quantized: {} integer layers ({}); quantize the float model instead "
             "(`ocs inspect` lists them)", path, layers.size(), integer_layers_brief(layers));
}

}  // namespace ocs
