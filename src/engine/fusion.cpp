#include "engine/fusion.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ocs {

namespace {

// Consumers of `value` when it may be hidden inside a fused step: not a graph output, and used
// by plain nodes only (a subgraph reading it shows up as its If node, which never fuses).
std::vector<NodeId> hideable_consumers(const Graph& graph, ValueId value) {
  if (graph.is_graph_output(value)) return {};
  return graph.consumers(value);
}

int uses(const Node& node, ValueId value) {
  int n = 0;
  for (ValueId in : node.inputs) n += in == value;
  return n;
}

bool is(const Node& node, const char* op) { return node.domain.empty() && node.op_type == op; }

// Matches Paddle's expanded HardSwish starting at `x`, whose two consumers are `first` and
// `second`: Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(., 6) (or Mul(., 1/6)). Returns the
// four nodes in graph order.
std::optional<std::vector<NodeId>> match_hardswish(const Graph& graph, ValueId x, NodeId first, NodeId second) {
  for (int attempt = 0; attempt < 2; ++attempt, std::swap(first, second)) {
    const Node& add = graph.nodes[first];
    const Node& mul = graph.nodes[second];
    if (!is(add, "Add") || !is(mul, "Mul") || add.inputs.size() != 2 || mul.inputs.size() != 2) continue;
    if (uses(add, x) != 1 || uses(mul, x) != 1) continue;
    const ValueId three = add.inputs[0] == x ? add.inputs[1] : add.inputs[0];
    if (dnnl_scalar_constant(graph, three) != 3.0f) continue;
    const std::vector<NodeId> after_add = hideable_consumers(graph, add.outputs[0]);
    if (after_add.size() != 1) continue;
    const Node& clip = graph.nodes[after_add[0]];
    if (!is(clip, "Clip") || clip.inputs.empty() || clip.inputs[0] != add.outputs[0]) continue;
    const bool bounds_0_6 =
        clip.inputs.size() == 1 ? clip.attr_float("min", -1.0f) == 0.0f && clip.attr_float("max", -1.0f) == 6.0f
                                : clip.inputs.size() == 3 && dnnl_scalar_constant(graph, clip.inputs[1]) == 0.0f &&
                                      dnnl_scalar_constant(graph, clip.inputs[2]) == 6.0f;
    if (!bounds_0_6) continue;
    const std::vector<NodeId> after_clip = hideable_consumers(graph, clip.outputs[0]);
    if (after_clip.size() != 1 || after_clip[0] != second || uses(mul, clip.outputs[0]) != 1) continue;
    const std::vector<NodeId> after_mul = hideable_consumers(graph, mul.outputs[0]);
    if (after_mul.size() != 1) continue;
    const Node& scale = graph.nodes[after_mul[0]];
    if (scale.inputs.size() != 2 || scale.inputs[0] != mul.outputs[0]) continue;
    const std::optional<float> by = dnnl_scalar_constant(graph, scale.inputs[1]);
    const bool divides = is(scale, "Div") && by == 6.0f;
    const bool multiplies = is(scale, "Mul") && by && std::fabs(*by * 6.0f - 1.0f) < 1e-6f;
    if (!divides && !multiplies) continue;
    return std::vector<NodeId>{first, after_add[0], second, after_mul[0]};
  }
  return std::nullopt;
}

// Appends element-wise post-ops to `chain` (see fusion.h for the rules); false, leaving the
// chain as it was, when they cannot join it.
bool append_eltwise(FusedChain& chain, const std::vector<EltwiseOp>& ops) {
  FusedChain grown = chain;
  for (const EltwiseOp& op : ops) {
    const bool linear = op.kind == EltwiseOp::Kind::Linear;
    if (linear && grown.post_ops.empty()) {  // a * (scale x + shift) + b
      for (size_t c = 0; c < grown.scale.size(); ++c) {
        grown.scale[c] *= op.alpha;
        grown.shift[c] = op.alpha * grown.shift[c] + op.beta;
      }
      continue;
    }
    if (linear && !grown.post_ops.back().sum && grown.post_ops.back().eltwise.kind == EltwiseOp::Kind::Linear) {
      EltwiseOp& last = grown.post_ops.back().eltwise;
      last.beta = op.alpha * last.beta + op.beta;
      last.alpha *= op.alpha;
      continue;
    }
    // Relu and LeakyRelu are one oneDNN algorithm.
    auto algorithm = [](EltwiseOp::Kind k) { return k == EltwiseOp::Kind::LeakyRelu ? EltwiseOp::Kind::Relu : k; };
    for (const PostOp& p : grown.post_ops)
      if (!p.sum && algorithm(p.eltwise.kind) == algorithm(op.kind)) return false;
    grown.post_ops.push_back(PostOp{false, op});
  }
  chain = std::move(grown);
  return true;
}

// A per-channel affine function s[c] x + t[c] (C = `channels` entries each).
struct ChannelAffine {
  std::vector<float> scale, shift;
};

// The float32 values of a constant of C elements laid out along the channel axis of a rank-4
// tensor ([C], only when `plain_vector`; [C,1,1] or [1,C,1,1] otherwise), or nullopt.
std::optional<std::vector<float>> channel_constant(const Graph& graph, ValueId id, int64_t channels,
                                                   bool plain_vector) {
  if (id == kNoValue) return std::nullopt;
  const Value& value = graph.values.at(static_cast<size_t>(id));
  if (!value.constant || value.constant->dtype() != DType::Float32 || value.constant->numel() != channels)
    return std::nullopt;
  const Shape& shape = value.constant->shape();
  const bool fits = plain_vector ? shape == Shape{channels}
                                 : shape == Shape{channels, 1, 1} || shape == Shape{1, channels, 1, 1};
  if (!fits) return std::nullopt;
  const float* data = value.constant->data<float>();
  return std::vector<float>(data, data + channels);
}

// `node` as a per-channel affine function of its input `from`, a rank-4 value with `channels`
// channels: BatchNormalization in inference mode with constant parameters, or Add/Sub/Mul/Div
// by a per-channel constant. nullopt otherwise.
std::optional<ChannelAffine> node_as_channel_affine(const Graph& graph, const Node& node, ValueId from,
                                                    int64_t opset, int64_t channels) {
  if (!node.domain.empty() || node.outputs.empty() || node.inputs.empty() || channels <= 0) return std::nullopt;
  for (size_t o = 1; o < node.outputs.size(); ++o)
    if (node.outputs[o] != kNoValue) return std::nullopt;  // training-mode statistics
  const std::string& op = node.op_type;
  ChannelAffine affine;
  if (op == "BatchNormalization") {
    if (opset < 7 || node.inputs.size() != 5 || node.inputs[0] != from) return std::nullopt;
    if (node.attr_int("spatial", 1) != 1 || node.attr_int("training_mode", 0) != 0) return std::nullopt;
    const auto gamma = channel_constant(graph, node.inputs[1], channels, true);
    const auto beta = channel_constant(graph, node.inputs[2], channels, true);
    const auto mean = channel_constant(graph, node.inputs[3], channels, true);
    const auto var = channel_constant(graph, node.inputs[4], channels, true);
    if (!gamma || !beta || !mean || !var) return std::nullopt;
    const double epsilon = node.attr_float("epsilon", 1e-5f);
    // y = (x - mean) / sqrt(var + epsilon) * gamma + beta, computed in double once.
    for (int64_t c = 0; c < channels; ++c) {
      const double s = (*gamma)[c] / std::sqrt(static_cast<double>((*var)[c]) + epsilon);
      affine.scale.push_back(static_cast<float>(s));
      affine.shift.push_back(static_cast<float>((*beta)[c] - (*mean)[c] * s));
    }
    return affine;
  }
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && node.inputs.size() == 2 && opset >= 7) {
    const bool first = node.inputs[0] == from;
    if (first == (node.inputs[1] == from)) return std::nullopt;
    const auto c = channel_constant(graph, node.inputs[first ? 1 : 0], channels, false);
    if (!c) return std::nullopt;
    for (float v : *c) {
      if (!std::isfinite(v) || (op == "Div" && v == 0.0f)) return std::nullopt;
      if (op == "Add") affine.scale.push_back(1.0f), affine.shift.push_back(v);
      if (op == "Mul") affine.scale.push_back(v), affine.shift.push_back(0.0f);
      if (op == "Sub" && first) affine.scale.push_back(1.0f), affine.shift.push_back(-v);
      if (op == "Sub" && !first) affine.scale.push_back(-1.0f), affine.shift.push_back(v);
      if (op == "Div" && !first) return std::nullopt;
      if (op == "Div") affine.scale.push_back(1.0f / v), affine.shift.push_back(0.0f);  // one rounding apart
    }
    return affine;
  }
  return std::nullopt;
}

// Folds s x + t after the head's current affine (scale, shift): s (scale x + shift) + t.
void fold_channel_affine(FusedChain& chain, const ChannelAffine& affine) {
  const size_t channels = affine.scale.size();
  if (chain.scale.size() == 1) {
    chain.scale.assign(channels, chain.scale[0]);
    chain.shift.assign(channels, chain.shift[0]);
  }
  for (size_t c = 0; c < channels; ++c) {
    chain.scale[c] *= affine.scale[c];
    chain.shift[c] = affine.scale[c] * chain.shift[c] + affine.shift[c];
  }
}

}  // namespace

std::vector<FusedChain> fusion_find_chains_impl(const Graph& graph, int64_t opset,
                                                const std::vector<int64_t>& head_channels) {
  std::vector<FusedChain> chains;
  std::vector<bool> claimed(graph.nodes.size(), false);
  for (size_t h = 0; h < graph.nodes.size(); ++h) {
    if (head_channels[h] <= 0 || claimed[h] || graph.nodes[h].outputs.size() != 1) continue;
    FusedChain chain;
    chain.head = static_cast<NodeId>(h);
    chain.nodes = {chain.head};
    ValueId current = graph.nodes[h].outputs[0];
    for (;;) {
      const std::vector<NodeId> next = hideable_consumers(graph, current);
      bool grown = false;
      if (next.size() == 1 && !claimed[next[0]] && uses(graph.nodes[next[0]], current) == 1) {
        const Node& node = graph.nodes[next[0]];
        std::optional<ChannelAffine> affine;
        if (chain.post_ops.empty())
          affine = node_as_channel_affine(graph, node, current, opset, head_channels[h]);
        if (auto ops = dnnl_node_as_eltwise(graph, node, current, opset)) {
          grown = append_eltwise(chain, *ops);
        } else if (affine) {
          fold_channel_affine(chain, *affine);
          grown = true;
        } else if (is(node, "Add") && node.inputs.size() == 2 && opset >= 7 && chain.sum_operand == kNoValue) {
          const ValueId other = node.inputs[0] == current ? node.inputs[1] : node.inputs[0];
          const Value& other_value = graph.values.at(static_cast<size_t>(other));
          if (!other_value.constant && (other_value.dtype == DType::Undefined || other_value.dtype == DType::Float32)) {
            chain.post_ops.push_back(PostOp{true, {}});
            chain.sum_operand = other;
            grown = true;
          }
        }
        if (grown) {
          chain.nodes.push_back(next[0]);
          claimed[next[0]] = true;
          current = node.outputs[0];
        }
      } else if (next.size() == 2 && !claimed[next[0]] && !claimed[next[1]]) {
        if (auto nodes = match_hardswish(graph, current, next[0], next[1])) {
          bool free = true;
          for (NodeId n : *nodes) free = free && !claimed[n];
          if (free && append_eltwise(chain, {{EltwiseOp::Kind::HardSwish}})) {
            for (NodeId n : *nodes) chain.nodes.push_back(n), claimed[n] = true;
            current = graph.nodes[nodes->back()].outputs[0];
            grown = true;
          }
        }
      }
      if (!grown) break;
    }
    claimed[h] = true;
    // Graph order of the nodes: the chain runs where its last node was.
    std::sort(chain.nodes.begin(), chain.nodes.end());
    chain.output = current;
    chains.push_back(std::move(chain));
  }
  return chains;
}

EltwiseTail fusion_eltwise_tail(const Graph& graph, int64_t opset, ValueId value, const std::vector<bool>& claimed) {
  EltwiseTail tail;
  tail.output = value;
  for (;;) {
    const std::vector<NodeId> next = hideable_consumers(graph, tail.output);
    if (next.size() == 1 && !claimed[next[0]] && uses(graph.nodes[next[0]], tail.output) == 1) {
      const std::optional<std::vector<EltwiseOp>> ops = dnnl_node_as_eltwise(graph, graph.nodes[next[0]], tail.output, opset);
      if (!ops) break;
      tail.ops.insert(tail.ops.end(), ops->begin(), ops->end());
      tail.nodes.push_back(next[0]);
      tail.output = graph.nodes[next[0]].outputs[0];
      continue;
    }
    if (next.size() != 2 || claimed[next[0]] || claimed[next[1]]) break;
    const std::optional<std::vector<NodeId>> hardswish = match_hardswish(graph, tail.output, next[0], next[1]);
    if (!hardswish || std::any_of(hardswish->begin(), hardswish->end(), [&](NodeId n) { return claimed[n]; })) break;
    tail.ops.push_back({EltwiseOp::Kind::HardSwish});
    tail.nodes.insert(tail.nodes.end(), hardswish->begin(), hardswish->end());
    tail.output = graph.nodes[hardswish->back()].outputs[0];
  }
  std::sort(tail.nodes.begin(), tail.nodes.end());
  return tail;
}

}  // namespace ocs
