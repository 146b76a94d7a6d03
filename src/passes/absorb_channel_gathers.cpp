// absorb_channel_gathers: the algebra and the conditions are in absorb_channel_gathers.h.
#include "passes/absorb_channel_gathers.h"

#include "core/axis_split.h"
#include "passes/graph_edit.h"

#include <optional>
#include <set>

namespace ocs {
namespace {

// Element-wise functions of one tensor: they commute with any gather of its elements.
const std::set<std::string> kUnary = {"Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
                                      "Tanh", "Elu", "Selu", "Softplus", "Softsign", "Identity"};
const std::set<std::string> kBinary = {"Add", "Sub", "Mul", "Div"};

// The gather's indices when they are [0, ..., C-1, dup...] (C = the first run of 0..C-1 entries).
std::optional<std::vector<int64_t>> duplicating_indices(const Graph& graph, const Node& gather) {
  if (gather.inputs.size() != 2) return std::nullopt;
  const auto& constant = graph.values[gather.inputs[1]].constant;
  if (!constant || constant->rank() != 1) return std::nullopt;
  std::vector<int64_t> indices;
  for (double v : constant->to_double_vector()) indices.push_back(static_cast<int64_t>(v));
  return indices;
}

// One op between the producer and the Gather, with what must be widened in it.
struct ChainOp {
  NodeId node;
  std::vector<int> channel_inputs;  // inputs holding one constant per channel (gathered too)
};

// A constant that broadcasts against a rank-`rank` tensor with one value per channel of `axis`
// (or a single value): returns the constant's own axis that holds the channels, -1 for a scalar,
// nullopt for anything else.
std::optional<int64_t> per_channel_axis(const Tensor& c, int64_t rank, int64_t axis, int64_t channels) {
  if (c.numel() == 1) return -1;
  if (c.rank() > rank) return std::nullopt;
  const int64_t offset = rank - c.rank();  // numpy broadcasting aligns the trailing dims
  const int64_t own = axis - offset;
  if (own < 0) return std::nullopt;
  for (int64_t a = 0; a < c.rank(); ++a)
    if (c.dim(a) != (a == own ? channels : 1)) return std::nullopt;
  return own;
}

class Absorber {
 public:
  explicit Absorber(Graph& graph) : graph_(graph) {}

  ChannelGatherReport absorb(const std::string& gather_name);

 private:
  std::string trace(NodeId gather, const std::vector<int64_t>& indices, int64_t& channels, NodeId& producer,
                    std::vector<ChainOp>& chain);
  void widen(NodeId gather, const std::vector<int64_t>& indices, int64_t channels, NodeId producer,
             const std::vector<ChainOp>& chain);

  Graph& graph_;
};

// Walks from the Gather's input back to a producer layer; returns why not, or "" when it can.
std::string Absorber::trace(NodeId gather_id, const std::vector<int64_t>& indices, int64_t& channels,
                            NodeId& producer, std::vector<ChainOp>& chain) {
  const Node& gather = graph_.nodes[gather_id];
  ValueId v = gather.inputs[0];
  const auto& shape = graph_.values[v].shape;
  if (!shape) return "the input's rank is unknown";
  const int64_t rank = static_cast<int64_t>(shape->size());
  int64_t axis = gather.attr_int("axis", 0);
  if (axis < 0) axis += rank;
  if (axis != 1 && axis != rank - 1) return "the gather axis is not a channel axis";
  while (true) {
    if (!has_single_consumer(graph_, v)) return fmt::format("'{}' has other readers", graph_.values[v].name);
    const auto p = graph_.producer(v);
    if (!p) return "its input is a graph input";
    const Node& node = graph_.nodes[*p];
    if (!is_default_domain(node.domain)) return fmt::format("{} is no per-channel op", node.describe());
    if (const auto layer = match_weighted_layer(graph_, *p); layer && node.outputs[0] == v) {
      if (node.op_type == "Conv" && conv_group(node) != 1) return fmt::format("{} is a grouped convolution", node.describe());
      const Tensor& w = *graph_.values[node.inputs[layer->weight_input]].constant;
      const bool conv_axis = node.op_type == "Conv" ? axis == 1 : axis == rank - 1;
      if (!conv_axis || layer->weight_out_axis < 0) return fmt::format("the gather axis is not {}'s output channels", node.describe());
      channels = w.dim(layer->weight_out_axis);
      producer = *p;
      break;
    }
    ChainOp op{*p, {}};
    if (kUnary.count(node.op_type)) {
      for (size_t i = 1; i < node.inputs.size(); ++i) {
        const ValueId in = node.inputs[i];
        if (in == kNoValue) continue;
        const auto& c = graph_.values[in].constant;
        if (!c || c->numel() != 1) {
          if (node.op_type != "PRelu" || !c || c->dtype() != DType::Float32) return fmt::format("{} has a non-scalar parameter", node.describe());
          op.channel_inputs.push_back(static_cast<int>(i));
        }
      }
    } else if (kBinary.count(node.op_type)) {
      if (node.inputs.size() != 2 || graph_.values[node.inputs[0]].constant)
        return fmt::format("{} does not take the tensor as its first input", node.describe());
      const auto& c = graph_.values[node.inputs[1]].constant;
      if (!c || c->dtype() != DType::Float32) return fmt::format("{} adds another tensor", node.describe());
      if (c->numel() != 1) op.channel_inputs.push_back(1);
    } else if (node.op_type == "BatchNormalization" && node.outputs.size() == 1 && axis == 1) {
      for (int i = 1; i < 5; ++i) {
        const auto& c = graph_.values[node.inputs[i]].constant;
        if (!c || c->dtype() != DType::Float32) return fmt::format("{} has non-constant parameters", node.describe());
        op.channel_inputs.push_back(i);
      }
    } else {
      return fmt::format("{} is between the layers", node.describe());
    }
    chain.push_back(op);
    v = node.inputs[0];
    if (graph_.values[v].shape && static_cast<int64_t>(graph_.values[v].shape->size()) != rank)
      return fmt::format("{} changes the rank", node.describe());
  }
  // The indices must keep channels 0..C-1 first and duplicate existing channels.
  if (static_cast<int64_t>(indices.size()) < channels) return "the indices do not keep every channel";
  for (int64_t c = 0; c < static_cast<int64_t>(indices.size()); ++c)
    if (c < channels ? indices[c] != c : indices[c] < 0 || indices[c] >= channels)
      return "the indices are not a channel duplication";
  for (const ChainOp& op : chain)
    for (int i : op.channel_inputs) {
      const Tensor& c = *graph_.values[graph_.nodes[op.node].inputs[i]].constant;
      const int64_t bn = graph_.nodes[op.node].op_type == "BatchNormalization" ? 1 : rank;
      if (bn == 1 ? c.rank() != 1 || c.dim(0) != channels : !per_channel_axis(c, rank, axis, channels))
        return fmt::format("{}'s constant is not per channel", graph_.nodes[op.node].describe());
    }
  return "";
}

void Absorber::widen(NodeId gather_id, const std::vector<int64_t>& indices, int64_t channels, NodeId producer,
                     const std::vector<ChainOp>& chain) {
  const int64_t widened = static_cast<int64_t>(indices.size());
  const Node& layer_node = graph_.nodes[producer];
  const auto layer = match_weighted_layer(graph_, producer);
  const std::string base = layer_node.name;
  const Tensor& w = *graph_.values[layer_node.inputs[layer->weight_input]].constant;
  set_constant_input(graph_, producer, layer->weight_input, gather_along_axis(w, layer->weight_out_axis, indices),
                     base + "_ocs_widened");
  // The bias: Conv input 2 (1-D), Gemm input 2 when it has one value per output channel.
  const Node& p = graph_.nodes[producer];
  if (p.inputs.size() > 2 && p.inputs[2] != kNoValue) {
    const Tensor& b = *graph_.values[p.inputs[2]].constant;
    if (b.numel() != 1) {
      const int64_t own = b.rank() - 1;
      set_constant_input(graph_, producer, 2, gather_along_axis(b, own, indices), base + "_bias_ocs_widened");
    }
  }
  std::vector<ValueId> resized = {graph_.nodes[producer].outputs[0]};
  const int64_t rank = static_cast<int64_t>(graph_.values[resized[0]].shape->size());
  const int64_t axis = graph_.nodes[producer].op_type == "Conv" ? 1 : rank - 1;
  for (const ChainOp& op : chain) {
    resized.push_back(graph_.nodes[op.node].outputs[0]);
    for (int i : op.channel_inputs) {
      const Tensor& c = *graph_.values[graph_.nodes[op.node].inputs[i]].constant;
      const int64_t own = graph_.nodes[op.node].op_type == "BatchNormalization" ? 0 : *per_channel_axis(c, rank, axis, channels);
      set_constant_input(graph_, op.node, i, gather_along_axis(c, own, indices), graph_.nodes[op.node].name + "_ocs_widened");
    }
  }
  for (ValueId v : resized)
    if (auto& shape = graph_.values[v].shape) (*shape)[axis] = widened;
  // The layer reads the widened tensor itself; the Gather and its output go.
  const ValueId source = graph_.nodes[gather_id].inputs[0];
  const ValueId gathered = graph_.nodes[gather_id].outputs[0];
  for (Node& node : graph_.nodes)
    for (ValueId& in : node.inputs)
      if (in == gathered) in = source;
  graph_.nodes.erase(graph_.nodes.begin() + gather_id);
  prune_unused_values(graph_);
}

ChannelGatherReport Absorber::absorb(const std::string& gather_name) {
  ChannelGatherReport report;
  report.gather = gather_name;
  NodeId gather = -1;
  for (NodeId n = 0; n < static_cast<NodeId>(graph_.nodes.size()); ++n)
    if (graph_.nodes[n].name == gather_name) gather = n;
  OCS_CHECK(gather >= 0 && graph_.nodes[gather].op_type == "Gather", "no Gather named '{}'", gather_name);
  const auto readers = graph_.consumers(graph_.nodes[gather].outputs[0]);
  if (readers.size() == 1) report.consumer = graph_.nodes[readers[0]].name;
  const auto indices = duplicating_indices(graph_, graph_.nodes[gather]);
  if (!indices) {
    report.kept_because = "its indices are not a constant list";
    return report;
  }
  int64_t channels = 0;
  NodeId producer = -1;
  std::vector<ChainOp> chain;
  report.kept_because = trace(gather, *indices, channels, producer, chain);
  if (!report.kept_because.empty()) return report;
  report.producer = graph_.nodes[producer].name;
  widen(gather, *indices, channels, producer, chain);
  return report;
}

}  // namespace

std::vector<ChannelGatherReport> absorb_channel_gathers(Graph& graph, const std::vector<std::string>& gathers) {
  Absorber absorber(graph);
  std::vector<ChannelGatherReport> reports;
  for (const std::string& name : gathers) reports.push_back(absorber.absorb(name));
  graph.verify();
  return reports;
}

}  // namespace ocs
