// ocs_split_activations: the runtime split layer of activation OCS.
//
// The layer computes y = sum_c W[:, c] * x_c (for a Conv, W[:, c] is the kernel slice of input
// channel c and * a correlation; the argument is the same since the layer is linear in each
// input channel). Splitting channel c:
//   x_c  ->  x_c' = m x_c + a   and   x_c'' = m x_c + a'   with m = 1/2, a + a' = 0,
//   W[:, c] stays, and W[:, c''] = W[:, c] is appended for the new input channel, so
//   W[:, c] x_c' + W[:, c] x_c'' = W[:, c] (2 m x_c + a + a') = W[:, c] x_c:  y is unchanged.
// Convolution padding is zero in both halves, where the unsplit input is zero too, so the
// identity holds at every kernel tap. The bias is untouched.
//   Naive: a = a' = 0.
//   QA:    a = -D/4, a' = +D/4 with D the quantizer's step after splitting. In grid units
//          y = x / D the halves are y/2 - 1/4 and y/2 + 1/4, whose rounded values add up to
//          round(y) (docs/METHOD.md), so the quantized halves sum to the quantized unsplit value.
// Re-splitting (the greedy choice may pick a half again) applies the same map to a half: a
// channel with coefficients (m, a) becomes (m/2, a/2 - D/4) and (m/2, a/2 + D/4), whose sum is
// again (m, a); so every output channel is m_j x_src(j) + a_j, with m_j a power of two.
//
// At run time: Gather(x, indices, channel axis) -> Mul(m) [-> Add(a)] -> layer, with indices
// the source channel of each output channel (0..C-1, then the appended halves), m and a
// constant per-channel vectors shaped to broadcast along the channel axis. Multiplying by a
// power of two is exact in float, so the naive split changes the layer's output only through
// the order of its sum; the QA offsets also round once in each half (x/2 - D/4 in float).
//
// Channel choice (greedy, as for weights in docs/METHOD.md): k = ceil(r_a * C) times, split the
// channel whose current max|x| is largest (ties: the lowest position); its max halves and the
// appended half has the same max. The threshold after splitting is the largest current max;
// D = t / (2^(b-1) - 1) (unsigned: t / (2^b - 1)) is computed from it (or from the caller's
// threshold) after all splits, as the reference computes the scale from a naive split first.
// (The QA halves can exceed t by D/4; clipped at t they still round to the top grid value.
// With an unsigned quantizer the lower half of a small x is negative, at least -D/4 in grid
// terms; clipping it to 0 rounds it to 0, as rounding it unclipped would: the sum is kept.)
#include "passes/ocs_split_activations.h"

#include "core/axis_split.h"
#include "passes/graph_edit.h"
#include "passes/weighted_layer.h"
#include "quant/fake_quant.h"
#include "quant/ocs_split.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace ocs {
namespace {


// ---- matching ------------------------------------------------------------------------------

struct SplitSite {
  NodeId node = -1;
  int64_t channels = 0;      // C, input channels of the layer
  int64_t data_axis = 1;     // channel axis of the data input (may be negative: from the back)
  int64_t data_rank = -1;    // rank of the data input when known
  int64_t weight_axis = 1;   // input-channel axis of the weight
};

SplitSite match_site(const Graph& graph, const ActivationSplitRequest& request) {
  SplitSite site;
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    if (graph.nodes[n].name == request.node) site.node = static_cast<NodeId>(n);
  if (site.node < 0) user_error("activation split: the model has no node named '{}'", request.node);
  const Node& node = graph.nodes[site.node];
  const bool default_domain = node.domain.empty() || node.domain == "ai.onnx";
  if (!default_domain || (node.op_type != "Conv" && node.op_type != "Gemm" && node.op_type != "MatMul"))
    user_error("activation split: {} is not a Conv, Gemm or MatMul", node.describe());
  if (node.inputs.size() < 2 || node.inputs[1] == kNoValue || node.inputs[0] == kNoValue)
    user_error("activation split: {} lacks its data or weight input", node.describe());
  const Value& weight = graph.values[node.inputs[1]];
  if (!weight.constant || weight.dtype != DType::Float32)
    user_error("activation split: {}: weight '{}' is not a float constant (split activations "
               "before inserting QuantizeLinear/DequantizeLinear)", node.describe(), weight.name);
  const Tensor& w = *weight.constant;
  const Value& data = graph.values[node.inputs[0]];
  if (data.dtype != DType::Float32 && data.dtype != DType::Undefined)
    user_error("activation split: {}: input '{}' is {}, not float", node.describe(), data.name,
               dtype_name(data.dtype));
  if (data.shape) site.data_rank = static_cast<int64_t>(data.shape->size());

  if (node.op_type == "Conv") {
    if (node.attr_int("group", 1) != 1)
      user_error("activation split: {} is a grouped convolution (group {}); only group 1 can "
                 "take duplicated input channels", node.describe(), node.attr_int("group", 1));
    if (w.rank() < 3) user_error("activation split: {}: weight rank {} < 3", node.describe(), w.rank());
    site.data_rank = w.rank();
  } else if (node.op_type == "Gemm") {
    if (w.rank() != 2) user_error("activation split: {}: weight is not 2-D", node.describe());
    site.data_rank = 2;
  } else {
    if (w.rank() < 1) user_error("activation split: {}: scalar weight", node.describe());
    // An unknown rank gives axis -1: Gather takes a negative axis from opset 11.
    if (site.data_rank < 1 && graph.opset() < 11) {
      user_error("activation split: {}: the rank of input '{}' is unknown and opset {} < 11 has "
                 "no negative Gather axis", node.describe(), data.name, graph.opset());
    }
  }
  site.data_axis = data_channel_axis(node, graph);
  site.weight_axis = weight_input_channel_axis(node, graph, 1);
  site.channels = w.dim(site.weight_axis);
  return site;
}

// ---- the split -----------------------------------------------------------------------------

// One output channel of the split layer: m * x[source] + alpha * D.
struct SplitChannel {
  int64_t source;
  double multiplier;
  double offset_in_steps;  // alpha: the offset in units of the step D
  float max_abs;           // calibration max|x| of this channel after the splits so far
};

// Copies `w` with its `axis` indices taken from `indices` (an offline Gather).
Tensor gather_axis(const Tensor& w, int64_t axis, const std::vector<int64_t>& indices) {
  Shape shape = w.shape();
  const int64_t old_dim = shape[axis];
  shape[axis] = static_cast<int64_t>(indices.size());
  Tensor out(DType::Float32, shape);
  const AxisSplit s = split_at_axis(w.shape(), axis);
  const int64_t outer = s.outer, inner = s.inner;
  const float* in = w.data<float>();
  float* dst = out.data<float>();
  const int64_t new_dim = shape[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < new_dim; ++j)
      std::copy(in + (o * old_dim + indices[j]) * inner, in + (o * old_dim + indices[j] + 1) * inner,
                dst + (o * new_dim + j) * inner);
  return out;
}

void check_request(const Node& node, const ActivationSplitRequest& r, int64_t channels) {
  if (static_cast<int64_t>(r.channel_max.size()) != channels)
    user_error("activation split for {}: {} channel maxima given, the layer has {} input channels",
               node.describe(), r.channel_max.size(), channels);
  for (float m : r.channel_max)
    if (!std::isfinite(m) || m < 0.0f)
      user_error("activation split for {}: channel max {} must be finite and >= 0", node.describe(), m);
  if (!std::isfinite(r.expand_ratio) || r.expand_ratio < 0.0)
    user_error("activation split for {}: expand ratio {} must be finite and >= 0", node.describe(),
               r.expand_ratio);
  if (r.bits < 2 || r.bits > 16)
    user_error("activation split for {}: bits {} outside 2..16", node.describe(), r.bits);
  if (r.threshold && (!std::isfinite(*r.threshold) || *r.threshold < 0.0f))
    user_error("activation split for {}: threshold {} must be finite and >= 0", node.describe(),
               *r.threshold);
}

// The greedy split of the header: k = ocs_split_count(r_a, C) times, the channel with the largest
// max|x| (the first on ties) is halved and its copy appended. Fills the result's channel counts,
// split order and thresholds.
std::vector<SplitChannel> greedy_split(const ActivationSplitRequest& r, int64_t count, ActivationSplitResult& result) {
  std::vector<SplitChannel> channels;
  for (int64_t c = 0; c < count; ++c) channels.push_back({c, 1.0, 0.0, r.channel_max[c]});
  result.channels_before = count;
  for (float m : r.channel_max) result.threshold_before = std::max(result.threshold_before, m);
  const int64_t splits = ocs_split_count(r.expand_ratio, count);
  for (int64_t s = 0; s < splits; ++s) {
    size_t pick = 0;
    for (size_t j = 1; j < channels.size(); ++j)
      if (channels[j].max_abs > channels[pick].max_abs) pick = j;
    SplitChannel& first = channels[pick];
    first.multiplier /= 2;
    first.max_abs /= 2;
    SplitChannel second = first;
    // (m, a) -> (m/2, a/2 - D/4) and (m/2, a/2 + D/4), alpha in units of D.
    const double half_offset = first.offset_in_steps / 2;
    first.offset_in_steps = half_offset - 0.25;
    second.offset_in_steps = half_offset + 0.25;
    result.split_channels.push_back(first.source);
    channels.push_back(second);
  }
  result.channels_after = static_cast<int64_t>(channels.size());
  for (const SplitChannel& c : channels) result.threshold_after = std::max(result.threshold_after, c.max_abs);
  return channels;
}

// The runtime split layer, Gather -> Mul [-> Add (quant-aware)], queued in `pending` to go right
// before the layer, which then reads the split activation.
void insert_split_layer(Graph& graph, NameTable& names, const SplitSite& site, const std::vector<SplitChannel>& channels,
                        float step, bool quant_aware, std::vector<Node>& pending) {
  const int64_t count = static_cast<int64_t>(channels.size());
  std::vector<int64_t> indices;
  std::vector<float> multipliers, offsets;
  for (const SplitChannel& c : channels) {
    indices.push_back(c.source);
    multipliers.push_back(static_cast<float>(c.multiplier));  // a power of two: exact
    offsets.push_back(static_cast<float>(c.offset_in_steps * step));
  }
  // Per-channel vectors broadcast along the channel axis: [count, 1, ..., 1] with one 1 per
  // axis after it (a negative axis counts from the back, so none follow -1).
  Shape vector_shape{count};
  const int64_t trailing = site.data_axis >= 0 ? site.data_rank - 1 - site.data_axis : -1 - site.data_axis;
  for (int64_t d = 0; d < trailing; ++d) vector_shape.push_back(1);

  const ValueId x = graph.nodes[site.node].inputs[0];
  const Value x_value = graph.values[x];  // copy: add_value may reallocate
  std::optional<Shape> split_shape;
  if (x_value.shape && site.data_axis >= 0 && site.data_axis < static_cast<int64_t>(x_value.shape->size())) {
    split_shape = *x_value.shape;
    (*split_shape)[site.data_axis] = count;
  }
  const std::string base = x_value.name + "_ocs";
  const ValueId index_value = add_constant(graph, names, base + "_indices",
                                           Tensor::from_vector<int64_t>({count}, indices));
  const ValueId gathered = add_activation(graph, names, base + "_gathered", DType::Float32, split_shape);
  Node gather = make_node(names, "Gather", base + "_Gather", {x, index_value}, {gathered});
  gather.attributes["axis"] = int_attribute(site.data_axis);
  pending.push_back(std::move(gather));

  const ValueId m_value = add_constant(graph, names, base + "_scale",
                                       Tensor::from_vector<float>(vector_shape, multipliers));
  const ValueId halved = add_activation(graph, names, base + "_halved", DType::Float32, split_shape);
  pending.push_back(make_node(names, "Mul", base + "_Mul", {gathered, m_value}, {halved}));
  ValueId split = halved;
  if (quant_aware) {
    const ValueId a_value = add_constant(graph, names, base + "_offset",
                                         Tensor::from_vector<float>(vector_shape, offsets));
    split = add_activation(graph, names, base + "_split", DType::Float32, split_shape);
    pending.push_back(make_node(names, "Add", base + "_Add", {halved, a_value}, {split}));
  }
  graph.nodes[site.node].inputs[0] = split;
}

// The layer's weight with its duplicated input channels copied (not halved).
void widen_weight(Graph& graph, NameTable& names, const SplitSite& site, const std::vector<SplitChannel>& channels) {
  std::vector<int64_t> indices;
  for (const SplitChannel& c : channels) indices.push_back(c.source);
  const Value& w_value = graph.values[graph.nodes[site.node].inputs[1]];
  const std::string base = w_value.name + "_ocs";
  Tensor widened_weight = gather_axis(*w_value.constant, site.weight_axis, indices);
  const ValueId widened = add_constant(graph, names, base, std::move(widened_weight));  // may reallocate values
  graph.nodes[site.node].inputs[1] = widened;
}

}  // namespace

std::vector<ActivationSplitResult> ocs_split_activations(
    Graph& graph, const std::vector<ActivationSplitRequest>& requests) {
  // Validate every request before changing anything.
  std::vector<SplitSite> sites;
  std::set<std::string> seen;
  for (const ActivationSplitRequest& r : requests) {
    if (!seen.insert(r.node).second) user_error("activation split names node '{}' twice", r.node);
    sites.push_back(match_site(graph, r));
    check_request(graph.nodes[sites.back().node], r, sites.back().channels);
  }

  NameTable names(graph);
  std::vector<ActivationSplitResult> results;
  std::vector<std::vector<Node>> insert_before(graph.nodes.size());
  std::set<ValueId> old_weights;
  for (size_t k = 0; k < requests.size(); ++k) {
    const ActivationSplitRequest& r = requests[k];
    const SplitSite& site = sites[k];
    ActivationSplitResult result;
    result.node = r.node;

    std::vector<SplitChannel> channels = greedy_split(r, site.channels, result);
    if (!result.split_channels.empty()) {
      if (r.mode == OcsSplitMode::QuantAware) {
        // D, the step of the grid the split activation is quantized on.
        const double t = r.threshold ? *r.threshold : result.threshold_after;
        result.step = static_cast<float>(t / static_cast<double>(grid_max_code(r.bits, r.is_unsigned)));
      }
      insert_split_layer(graph, names, site, channels, result.step, r.mode == OcsSplitMode::QuantAware,
                         insert_before[site.node]);
      old_weights.insert(graph.nodes[site.node].inputs[1]);
      widen_weight(graph, names, site, channels);
    }
    results.push_back(std::move(result));
  }

  std::vector<Node> nodes;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (Node& extra : insert_before[n]) nodes.push_back(std::move(extra));
    nodes.push_back(std::move(graph.nodes[n]));
  }
  graph.nodes = std::move(nodes);
  if (!old_weights.empty()) drop_unused_constants(graph, old_weights);
  graph.verify();
  return results;
}

}  // namespace ocs
