// Which nodes the layout kernels take (kernels/fast/dnnl_layout.h), registered with the other
// kernels: one entry per op type, each naming the kind that OCS_NO_LAYOUT can turn off. Fused Conv
// chains are planned by engine/fusion.h instead (they span several nodes).
#include "kernels/fast/dnnl_depth_to_space.h"
#include "kernels/fast/dnnl_layout.h"

#include <array>
#include <cmath>
#include <limits>

namespace ocs {

std::optional<float> dnnl_scalar_constant(const Graph& graph, ValueId id) {
  if (id == kNoValue) return std::nullopt;
  const Value& value = graph.values.at(static_cast<size_t>(id));
  if (!value.constant || value.constant->dtype() != DType::Float32 || value.constant->numel() != 1 ||
      value.constant->rank() > 1)
    return std::nullopt;
  return value.constant->data<float>()[0];
}

std::optional<std::vector<EltwiseOp>> dnnl_node_as_eltwise(const Graph& graph, const Node& node, ValueId from,
                                                           int64_t opset) {
  using K = EltwiseOp::Kind;
  if (!node.domain.empty() || node.outputs.size() != 1 || node.inputs.empty()) return std::nullopt;
  const std::string& op = node.op_type;
  if (node.inputs.size() == 1 && node.inputs[0] == from) {
    if (op == "Relu") return std::vector<EltwiseOp>{{K::Relu}};
    if (op == "LeakyRelu") return std::vector<EltwiseOp>{{K::LeakyRelu, node.attr_float("alpha", 0.01f)}};
    if (op == "Sigmoid") return std::vector<EltwiseOp>{{K::Sigmoid}};
    if (op == "Tanh") return std::vector<EltwiseOp>{{K::Tanh}};
    if (op == "HardSwish") return std::vector<EltwiseOp>{{K::HardSwish}};
    if (op == "HardSigmoid")  // max(0, min(1, alpha * x + beta))
      return std::vector<EltwiseOp>{{K::Linear, node.attr_float("alpha", 0.2f), node.attr_float("beta", 0.5f)},
                                    {K::Clip, 0.0f, 1.0f}};
  }
  const float inf = std::numeric_limits<float>::infinity();
  if (op == "Clip" && node.inputs[0] == from) {
    if (opset < 11) {
      if (node.inputs.size() != 1) return std::nullopt;
      return std::vector<EltwiseOp>{{K::Clip, node.attr_float("min", -inf), node.attr_float("max", inf)}};
    }
    float low = -inf, high = inf;
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      if (node.inputs[i] == kNoValue) continue;
      const std::optional<float> bound = dnnl_scalar_constant(graph, node.inputs[i]);
      if (!bound) return std::nullopt;
      (i == 1 ? low : high) = *bound;
    }
    if (std::isnan(low) || std::isnan(high) || low > high) return std::nullopt;
    return std::vector<EltwiseOp>{{K::Clip, low, high}};
  }
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && node.inputs.size() == 2 && opset >= 7) {
    const bool first = node.inputs[0] == from;
    if (first == (node.inputs[1] == from)) return std::nullopt;  // x op x, or not an input
    const std::optional<float> c = dnnl_scalar_constant(graph, node.inputs[first ? 1 : 0]);
    if (!c || !std::isfinite(*c)) return std::nullopt;
    if (op == "Add") return std::vector<EltwiseOp>{{K::Linear, 1.0f, *c}};
    if (op == "Mul") return std::vector<EltwiseOp>{{K::Linear, *c, 0.0f}};
    if (op == "Sub") return std::vector<EltwiseOp>{first ? EltwiseOp{K::Linear, 1.0f, -*c} : EltwiseOp{K::Linear, -1.0f, *c}};
    // x / c as x * (1/c) differs from the division by at most one rounding.
    if (op == "Div" && first && *c != 0.0f) return std::vector<EltwiseOp>{{K::Linear, 1.0f / *c, 0.0f}};
  }
  return std::nullopt;
}

namespace {

// Ops dnnl_node_as_eltwise may map (it decides per node).
constexpr std::array<const char*, 11> kEltwiseOps = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid",
                                                    "Clip", "Add", "Sub", "Mul", "Div"};

bool from_layout(const LayoutSite& site, size_t input) {
  return input < site.from_layout.size() && site.from_layout[input];
}

// Pooling keeps a plain input plain (reorders would cost more than they save) and reads a blocked
// one as is, so it runs wherever its input comes from.
LayoutStep pool_step(const LayoutSite& site) {
  return {dnnl_make_layout_pool(site.node, site.graph), {site.node.inputs[0]}};
}

LayoutStep resize_step(const LayoutSite& site) {
  if (!from_layout(site, 0)) return {};
  return {dnnl_make_layout_resize(site.node, site.graph, site.opset), {site.node.inputs[0]}};
}

// Wherever its input comes from: one reorder beats the reference kernel's strided copy even on a
// plain input.
LayoutStep depth_to_space_step(const LayoutSite& site) {
  return {dnnl_make_layout_depth_to_space(site.node, site.opset), {site.node.inputs[0]}};
}

LayoutStep concat_step(const LayoutSite& site) {
  if (!site.any_from_layout()) return {};
  return {dnnl_make_layout_concat(site.node, site.graph), site.node.inputs};
}

// A function of the input that arrives in a layout (the first one, when both could).
LayoutStep eltwise_step(const LayoutSite& site) {
  for (size_t i = 0; i < 2 && i < site.node.inputs.size(); ++i) {
    if (!from_layout(site, i)) continue;
    if (auto ops = dnnl_node_as_eltwise(site.graph, site.node, site.node.inputs[i], site.opset))
      return {dnnl_make_layout_eltwise(std::move(*ops)), {site.node.inputs[i]}};
  }
  return {};
}

// Two tensors (opset 7 on: multidirectional broadcasting).
LayoutStep binary_step(const LayoutSite& site) {
  if (site.node.inputs.size() != 2 || site.opset < 7 || !site.any_from_layout()) return {};
  return {dnnl_make_layout_binary(site.node), site.node.inputs};
}

}  // namespace

void register_layout_kernels(KernelRegistry& registry) {
  for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool"}) registry.add_layout(op, "pool", pool_step);
  registry.add_layout("Resize", "resize", resize_step);
  registry.add_layout("Concat", "concat", concat_step);
  registry.add_layout("DepthToSpace", "depth_to_space", depth_to_space_step);
  for (const char* op : kEltwiseOps) registry.add_layout(op, "eltwise", eltwise_step);
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) registry.add_layout(op, "binary", binary_step);  // after eltwise
}

}  // namespace ocs
