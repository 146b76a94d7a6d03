#include "passes/raise_opset.h"

#include "passes/graph_edit.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace ocs {
namespace {

// Default-domain ops whose meaning does not change from opset 7 to opset 14: later versions only
// add element types, negative axes, or optional inputs/outputs/attributes that keep their old
// defaults (opset 14: Add/Sub/Mul/Div/Relu/Identity types, Reshape's allowzero = 0,
// BatchNormalization's training_mode = 0, GRU/LSTM/RNN's layout = 0, CumSum types).
const std::set<std::string>& opset_stable_ops() {
  static const std::set<std::string> ops = {
      "Abs", "Acos", "Add", "And", "ArgMax", "ArgMin", "Asin", "Atan", "AveragePool",
      "BatchNormalization", "Cast", "Ceil", "Compress", "Concat", "ConstantOfShape", "Conv",
      "ConvTranspose", "Cos", "CumSum", "DepthToSpace", "DequantizeLinear", "Div", "Elu", "Equal",
      "Erf", "Exp", "Expand", "Flatten", "Floor", "GRU", "Gather", "GatherElements", "Gemm",
      "GlobalAveragePool", "GlobalMaxPool", "Greater", "HardSigmoid", "Identity",
      "InstanceNormalization", "LRN", "LSTM", "LeakyRelu", "Less", "Log", "MatMul", "Max",
      "MaxPool", "Mean", "Min", "Mul", "Neg", "NonZero", "Not", "OneHot", "Or", "PRelu", "Pow",
      "QuantizeLinear", "RNN", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
      "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare",
      "Relu", "Reshape", "Selu", "Shape", "Sigmoid", "Sign", "Sin", "Size", "Softplus", "Softsign",
      "SpaceToDepth", "Sqrt", "Sub", "Sum", "Tan", "Tanh", "Tile", "Transpose", "Where", "Xor"};
  return ops;
}

// Ops whose meaning or signature changed at a given opset (attributes moved to inputs, axis
// semantics changed). A model using one is moved only to a target below that opset, unless
// convert_at() below converts it: Clip (11) and Slice (10) always, the opset-13 changes when
// the conversion keeps the meaning.
const std::map<std::string, int64_t>& opset_changes() {
  static const std::map<std::string, int64_t> changes = {
      {"Dropout", 12}, {"Hardmax", 13},  {"LogSoftmax", 13}, {"Pad", 11},     {"ReduceSum", 13},
      {"Resize", 11},  {"Softmax", 13},  {"Split", 13},      {"Squeeze", 13}, {"TopK", 10},
      {"Unsqueeze", 13}, {"Upsample", 10}};
  return changes;
}

// Opset 13 moved `axes` of Squeeze, Unsqueeze and ReduceSum and `split` of Split from attributes
// to int64 inputs (same meaning).
const std::map<std::string, std::string>& attributes_to_inputs_at_13() {
  static const std::map<std::string, std::string> moved = {
      {"ReduceSum", "axes"}, {"Split", "split"}, {"Squeeze", "axes"}, {"Unsqueeze", "axes"}};
  return moved;
}

// Softmax, LogSoftmax and Hardmax before opset 13 flatten the input to 2-D at `axis` (default
// 1) and normalize over everything from `axis` on; from 13 on they normalize over `axis` alone
// (default -1). The two agree when `axis` is the last axis. Otherwise (or when the rank is not
// known statically) the old meaning is spelled out: Reshape(op13(Flatten(x, axis), 1), Shape(x)).
bool is_normalizer(const std::string& op) { return op == "Softmax" || op == "LogSoftmax" || op == "Hardmax"; }

std::optional<int64_t> normalizer_last_axis(const Graph& graph, const Node& node) {
  const Value& input = graph.values[node.inputs.at(0)];
  if (!input.shape) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(input.shape->size());
  int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis != rank - 1) return std::nullopt;
  return axis;
}

// True when raise_opset converts `node` itself on the way from `opset` to `target`.
bool convertible(const Graph& graph, const Node& node, int64_t opset, int64_t target) {
  if (node.op_type == "Clip" || node.op_type == "Slice") return true;
  if (opset >= 13 || target < 13) return false;
  return attributes_to_inputs_at_13().count(node.op_type) || is_normalizer(node.op_type);
}

// Rewrites the opset < 13 normalizer `node` for opset 13; returns the nodes that must run
// before it (Flatten, Shape) and after it (Reshape).
std::pair<std::vector<Node>, std::vector<Node>> convert_normalizer_to_13(Graph& graph, NameTable& names, Node& node) {
  if (const std::optional<int64_t> axis = normalizer_last_axis(graph, node)) {
    node.attributes["axis"] = int_attribute(*axis);
    return {};
  }
  const ValueId x = node.inputs.at(0);
  const ValueId y = node.outputs.at(0);
  const DType dtype = graph.values[x].dtype;
  const ValueId flat = add_activation(graph, names, node.name + "_flat", dtype, std::nullopt);
  const ValueId shape = add_activation(graph, names, node.name + "_shape", DType::Int64, std::nullopt);
  const ValueId flat_out = add_activation(graph, names, node.name + "_flat_out", dtype, std::nullopt);
  Node flatten = make_node(names, "Flatten", node.name + "_flatten", {x}, {flat});
  flatten.attributes["axis"] = int_attribute(node.attr_int("axis", 1));
  Node shape_of = make_node(names, "Shape", node.name + "_shape_of", {x}, {shape});
  Node reshape = make_node(names, "Reshape", node.name + "_reshape", {flat_out, shape}, {y});
  node.inputs[0] = flat;
  node.outputs[0] = flat_out;
  node.attributes["axis"] = int_attribute(1);
  std::vector<Node> before;
  before.push_back(std::move(flatten));
  before.push_back(std::move(shape_of));
  std::vector<Node> after;
  after.push_back(std::move(reshape));
  return {std::move(before), std::move(after)};
}

}  // namespace

// Why the model cannot move from its opset to `target`; empty when it can.
std::string opset_blocker(const Graph& graph, int64_t target) {
  const int64_t opset = graph.opset();
  if (opset < 7) return fmt::format("opset {} predates broadcasting (opset 7)", opset);
  std::set<std::string> blockers;
  for (const Node& node : graph.nodes) {
    for (const auto& [key, attr] : node.attributes)
      if (attr.g) blockers.insert(node.describe() + " (has a subgraph)");
    if (!is_default_domain(node.domain)) continue;
    if (convertible(graph, node, opset, target)) continue;  // raise_opset converts it
    // BatchNormalization's `spatial` attribute was removed in opset 9.
    if (node.op_type == "BatchNormalization" && node.has_attr("spatial")) {
      blockers.insert(node.describe() + " (attribute 'spatial')");
      continue;
    }
    if (opset_stable_ops().count(node.op_type)) continue;
    auto change = opset_changes().find(node.op_type);
    if (change != opset_changes().end() && (change->second <= opset || change->second > target)) continue;
    blockers.insert(node.op_type);
  }
  if (blockers.empty()) return "";
  std::string list;
  for (const std::string& b : blockers) list += (list.empty() ? "" : ", ") + b;
  return fmt::format("its ops {} changed meaning between opset {} and opset {}", list, opset, target);
}

// Raises the default-domain opset to `target` (no-op when already there). Clip nodes below
// opset 11 carry min/max as attributes; they become constant inputs.
void raise_opset(Graph& graph, int64_t target, const std::string& why) {
  const int64_t opset = graph.opset();
  if (opset >= target) return;
  NameTable names(graph);
  const std::string blocker = opset_blocker(graph, target);
  if (!blocker.empty())
    user_error("{} needs opset {}, but the model has opset {} and {}; re-export the model at opset "
               "{} or higher{}",
               why, target, opset, blocker, target,
               target == 13 ? ", or use per-tensor weight scales" : "");
  if (opset < 11 && target >= 11) {
    for (Node& node : graph.nodes) {
      if (node.op_type != "Clip" || !is_default_domain(node.domain)) continue;
      // Clip-6 defaults: min = lowest float, max = highest float.
      const float low = node.attr_float("min", std::numeric_limits<float>::lowest());
      const float high = node.attr_float("max", std::numeric_limits<float>::max());
      node.attributes.erase("min");
      node.attributes.erase("max");
      node.inputs.resize(1);
      node.inputs.push_back(add_constant(graph, names, node.name + "_min", Tensor::scalar<float>(low)));
      node.inputs.push_back(add_constant(graph, names, node.name + "_max", Tensor::scalar<float>(high)));
    }
  }
  if (opset < 10 && target >= 10) {
    for (Node& node : graph.nodes) {
      if (node.op_type != "Slice" || !is_default_domain(node.domain)) continue;
      // Slice-1 carries starts/ends/axes as attributes; Slice-10 takes them as int64 inputs
      // (same semantics, steps default to 1).
      auto as_input = [&](const std::string& key) {
        std::vector<int64_t> values = node.attr_ints(key);
        return add_constant(graph, names, node.name + "_" + key,
                            Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values));
      };
      node.inputs.resize(1);
      node.inputs.push_back(as_input("starts"));
      node.inputs.push_back(as_input("ends"));
      if (node.has_attr("axes")) node.inputs.push_back(as_input("axes"));
      node.attributes.erase("starts");
      node.attributes.erase("ends");
      node.attributes.erase("axes");
    }
  }
  if (opset < 13 && target >= 13) {
    for (Node& node : graph.nodes) {
      if (!is_default_domain(node.domain)) continue;
      auto moved = attributes_to_inputs_at_13().find(node.op_type);
      if (moved != attributes_to_inputs_at_13().end()) {
        const std::string& key = moved->second;
        if (!node.has_attr(key)) continue;  // absent stays absent (same default)
        std::vector<int64_t> values = node.attr_ints(key);
        node.attributes.erase(key);
        node.inputs.resize(1);
        node.inputs.push_back(add_constant(graph, names, node.name + "_" + key,
                                           Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values)));
      }
    }
    // Normalizers may need nodes around them: rebuild the list in topological order.
    std::vector<Node> nodes;
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      Node node = std::move(graph.nodes[n]);
      if (!is_default_domain(node.domain) || !is_normalizer(node.op_type)) {
        nodes.push_back(std::move(node));
        continue;
      }
      auto [before, after] = convert_normalizer_to_13(graph, names, node);
      for (Node& extra : before) nodes.push_back(std::move(extra));
      nodes.push_back(std::move(node));
      for (Node& extra : after) nodes.push_back(std::move(extra));
    }
    graph.nodes = std::move(nodes);
  }
  graph.opsets[""] = target;
  graph.opsets.erase("ai.onnx");
  // The IR version that introduced each opset: 10 -> IR 5, 11 -> IR 6, 12/13 -> IR 7.
  const int64_t ir = target >= 12 ? 7 : (target == 11 ? 6 : 5);
  graph.ir_version = std::max(graph.ir_version, ir);
}

}  // namespace ocs
