#include "passes/convtranspose_chains.h"

#include "passes/graph_edit.h"

#include <optional>
#include <set>
#include <vector>

namespace ocs {
namespace {

// The largest stacked block: a chain's block-diagonal 1x1 weight is kMaxBlock^2 times the
// ConvTranspose's, and its zero blocks cost multiply-adds.
constexpr int64_t kMaxBlock = 4;

// A ConvTranspose with strides == kernel, as its parts (the tensors share the constants' buffers,
// and stay valid while the pass adds values).
struct Upsampling {
  int64_t in_channels = 0, out_channels = 0, k = 0;
  Tensor weight;               // [in, out, k, k]
  std::optional<Tensor> bias;  // [out]
};

bool all_equal(const std::vector<int64_t>& values, int64_t v) {
  for (int64_t x : values)
    if (x != v) return false;
  return true;
}

const Tensor* float_constant(const Graph& graph, ValueId v) {
  if (v == kNoValue || !graph.values[v].constant || graph.values[v].constant->dtype() != DType::Float32) return nullptr;
  return &*graph.values[v].constant;
}

// `node` as an Upsampling: 2-D, one group, square kernel k = strides, no pads, output padding or
// output shape, dilation 1, constant float weight and bias.
std::optional<Upsampling> as_upsampling(const Graph& graph, const Node& node) {
  if (!is_op(node, "ConvTranspose") || node.inputs.size() < 2 || node.outputs.size() != 1) return std::nullopt;
  const Tensor* w = float_constant(graph, node.inputs[1]);
  if (!w || w->rank() != 4 || w->dim(2) != w->dim(3)) return std::nullopt;
  const int64_t k = w->dim(2);
  const std::string pad = node.attr_string("auto_pad", "NOTSET");
  if (node.attr_int("group", 1) != 1 || (pad != "NOTSET" && pad != "VALID") || node.has_attr("output_shape") ||
      node.attr_ints("strides", {1, 1}) != std::vector<int64_t>{k, k} ||
      node.attr_ints("kernel_shape", {k, k}) != std::vector<int64_t>{k, k} ||
      !all_equal(node.attr_ints("pads", {}), 0) || !all_equal(node.attr_ints("output_padding", {}), 0) ||
      !all_equal(node.attr_ints("dilations", {}), 1))
    return std::nullopt;
  Upsampling u{w->dim(0), w->dim(1), k, *w, std::nullopt};
  if (node.inputs.size() > 2 && node.inputs[2] != kNoValue) {
    const Tensor* b = float_constant(graph, node.inputs[2]);
    if (!b || b->numel() != u.out_channels) return std::nullopt;
    u.bias = *b;
  }
  return u;
}

// A function of each element of `from` alone, which therefore commutes with moving pixels.
bool is_pointwise(const Graph& graph, const Node& node, ValueId from) {
  static const std::set<std::string> unary = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish",
                                              "HardSigmoid", "Elu", "Softplus"};
  if (!is_default_domain(node.domain) || node.outputs.size() != 1 || node.inputs.empty() || node.inputs[0] != from)
    return false;
  if (unary.count(node.op_type)) return node.inputs.size() == 1;
  if (node.op_type != "Clip") return false;
  for (size_t i = 1; i < node.inputs.size(); ++i)  // bounds: absent or constant scalars
    if (node.inputs[i] != kNoValue && !float_scalar_constant(graph, node.inputs[i])) return false;
  return true;
}

// The chain starting at ConvTranspose `first` (header): its nodes in order, ConvTransposes and
// element-wise ops, ending at the last element-wise op after the last ConvTranspose.
std::vector<NodeId> chain_from(const Graph& graph, NodeId first) {
  const auto head = as_upsampling(graph, graph.nodes[first]);
  if (!head) return {};
  std::vector<NodeId> chain = {first}, pending;
  int64_t block = head->k, channels = head->out_channels;
  for (ValueId cur = graph.nodes[first].outputs[0]; has_single_consumer(graph, cur);) {
    const NodeId next = graph.consumers(cur)[0];
    const Node& node = graph.nodes[next];
    if (is_pointwise(graph, node, cur)) {
      pending.push_back(next);
    } else if (const auto up = as_upsampling(graph, node);
               up && node.inputs[0] == cur && up->in_channels == channels && block * up->k <= kMaxBlock) {
      chain.insert(chain.end(), pending.begin(), pending.end());
      pending.clear();
      chain.push_back(next);
      block *= up->k;
      channels = up->out_channels;
    } else {
      break;
    }
    cur = node.outputs[0];
  }
  chain.insert(chain.end(), pending.begin(), pending.end());
  return chain;
}

int64_t upsampling_count(const Graph& graph, const std::vector<NodeId>& chain) {
  int64_t n = 0;
  for (NodeId id : chain) n += as_upsampling(graph, graph.nodes[id]) ? 1 : 0;
  return n;
}

// The 1x1 weight [(K k)^2 M, K^2 C, 1, 1] that takes the stacked input (block K, C channels) to the
// stacked output (block K k, M channels): sub-image (a, b) of the input feeds sub-images
// (a k + p, b k + q) of the output through W[:, :, p, q]; all other blocks are zero.
Tensor stacked_weight(const Upsampling& u, int64_t in_block) {
  const int64_t k = u.k, c_in = u.in_channels, m_out = u.out_channels, out_block = in_block * k;
  Tensor w(DType::Float32, {out_block * out_block * m_out, in_block * in_block * c_in, 1, 1});
  float* dst = w.data<float>();
  const float* src = u.weight.data<float>();
  const int64_t row = in_block * in_block * c_in;
  for (int64_t a = 0; a < in_block; ++a)
    for (int64_t b = 0; b < in_block; ++b)
      for (int64_t p = 0; p < k; ++p)
        for (int64_t q = 0; q < k; ++q)
          for (int64_t m = 0; m < m_out; ++m)
            for (int64_t c = 0; c < c_in; ++c) {
              const int64_t out = ((a * k + p) * out_block + (b * k + q)) * m_out + m;
              const int64_t in = (a * in_block + b) * c_in + c;
              dst[out * row + in] = src[((c * m_out + m) * k + p) * k + q];
            }
  return w;
}

// The bias of every stacked output channel: the ConvTranspose's bias of its channel m.
Tensor stacked_bias(const Upsampling& u, int64_t out_block) {
  Tensor b(DType::Float32, {out_block * out_block * u.out_channels});
  float* dst = b.data<float>();
  for (int64_t s = 0; s < out_block * out_block; ++s)
    for (int64_t m = 0; m < u.out_channels; ++m)
      dst[s * u.out_channels + m] = u.bias ? u.bias->data<float>()[m] : 0.0f;
  return b;
}

// [N, block^2 channels, H, W] from the chain input's [N, C, H, W], when its rank is known.
std::optional<Shape> stacked_shape(const std::optional<Shape>& input, int64_t block, int64_t channels) {
  if (!input || input->size() != 4) return std::nullopt;
  Shape s = *input;
  s[1] = block * block * channels;
  return s;
}

// Rewrites one chain (header); returns the constants it no longer reads.
std::set<ValueId> rewrite(Graph& graph, NameTable& names, const std::vector<NodeId>& chain) {
  std::set<ValueId> unread;
  const std::optional<Shape> input_shape = graph.values[graph.nodes[chain[0]].inputs[0]].shape;
  const ValueId result = graph.nodes[chain.back()].outputs[0];
  const DType dtype = graph.values[result].dtype;
  int64_t block = 1, channels = 0;
  ValueId stacked = graph.nodes[chain[0]].inputs[0];
  for (NodeId id : chain) {
    if (const auto up = as_upsampling(graph, graph.nodes[id])) {
      const Node& old = graph.nodes[id];
      for (size_t i = 1; i < old.inputs.size(); ++i)
        if (old.inputs[i] != kNoValue) unread.insert(old.inputs[i]);
      const ValueId w = add_constant(graph, names, old.name + "_1x1_weight", stacked_weight(*up, block));
      block *= up->k;
      channels = up->out_channels;
      const ValueId b = add_constant(graph, names, old.name + "_1x1_bias", stacked_bias(*up, block));
      Node& conv = graph.nodes[id];
      conv.name = names.fresh(conv.name + "_1x1");
      conv.op_type = "Conv";
      conv.domain = "";
      conv.inputs = {stacked, w, b};
      conv.attributes.clear();
      conv.attributes["kernel_shape"] = ints_attribute({1, 1});
    } else {
      graph.nodes[id].inputs[0] = stacked;
    }
    // Values inside the chain are read by the next node only: they keep their ids and take the
    // stacked shape; the chain's result is written by the DepthToSpace.
    ValueId& out = graph.nodes[id].outputs[0];
    if (id == chain.back()) out = add_activation(graph, names, graph.values[result].name + "_stacked", dtype, std::nullopt);
    graph.values[out].shape = stacked_shape(input_shape, block, channels);
    stacked = out;
  }
  Node d2s = make_node(names, "DepthToSpace", graph.values[result].name + "_DepthToSpace", {stacked}, {result});
  d2s.attributes["blocksize"] = int_attribute(block);
  if (graph.opset() >= 11) d2s.attributes["mode"] = string_attribute("DCR");  // mode exists from opset 11
  insert_node(graph, chain.back() + 1, std::move(d2s));
  return unread;
}

}  // namespace

int64_t convtranspose_chains_as_convs(Graph& graph) {
  NameTable names(graph);
  std::set<ValueId> unread;
  int64_t replaced = 0;
  // Node ids after a chain shift by its DepthToSpace; a chain's nodes are rewritten in place, so
  // the scan goes on from the node after the inserted one.
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    const std::vector<NodeId> chain = chain_from(graph, id);
    const int64_t upsamplings = chain.empty() ? 0 : upsampling_count(graph, chain);
    if (upsamplings < 2) continue;
    const std::set<ValueId> freed = rewrite(graph, names, chain);
    unread.insert(freed.begin(), freed.end());
    replaced += upsamplings;
  }
  drop_unused_constants(graph, unread);
  return replaced;
}

}  // namespace ocs
