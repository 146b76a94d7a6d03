#include "engine/int8_layers.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ocs {

namespace {

bool is(const Node& node, const char* op) { return node.domain.empty() && node.op_type == op; }

const Tensor* constant_of(const Graph& graph, ValueId id) {
  if (id == kNoValue) return nullptr;
  const Value& value = graph.values.at(static_cast<size_t>(id));
  return value.constant ? &*value.constant : nullptr;
}

// The single float of a per-tensor scale, or nullopt.
std::optional<float> scalar_scale(const Graph& graph, ValueId id) {
  const Tensor* t = constant_of(graph, id);
  if (!t || t->dtype() != DType::Float32 || t->numel() != 1 || t->rank() > 1) return std::nullopt;
  return t->data<float>()[0];
}

// Zero point of a Q/DQ: (type, value); absent means uint8 0.
std::optional<std::pair<DType, int32_t>> scalar_zero_point(const Graph& graph, const Node& node) {
  if (node.inputs.size() < 3 || node.inputs[2] == kNoValue) return std::make_pair(DType::UInt8, 0);
  const Tensor* t = constant_of(graph, node.inputs[2]);
  if (!t || t->numel() != 1 || t->rank() > 1) return std::nullopt;
  if (t->dtype() == DType::UInt8) return std::make_pair(DType::UInt8, static_cast<int32_t>(t->data<uint8_t>()[0]));
  if (t->dtype() == DType::Int8) return std::make_pair(DType::Int8, static_cast<int32_t>(t->data<int8_t>()[0]));
  return std::nullopt;
}

// Constant channel indices of a Gather along axis 1 of a rank-4 tensor, or nullopt.
std::optional<std::vector<int64_t>> channel_gather(const Graph& graph, const Node& gather) {
  if (!is(gather, "Gather") || gather.inputs.size() != 2) return std::nullopt;
  const int64_t axis = gather.attr_int("axis", 0);
  if (axis != 1 && axis != -3) return std::nullopt;
  const Tensor* indices = constant_of(graph, gather.inputs[1]);
  if (!indices || indices->rank() != 1 ||
      (indices->dtype() != DType::Int64 && indices->dtype() != DType::Int32))
    return std::nullopt;
  return indices->to_int64_vector();  // negative or out-of-range ones are refused at run time
}

// insert_qdq's channel duplication on codes, Concat(x, Slice(x, c_1), ..., Slice(x, c_k)) along
// axis 1 with one-channel Slices of x read by nothing else: the channel indices of the equal
// Gather, [0, ..., C-1, c_1, ..., c_k], and the Slices' node ids; nullopt for anything else
// (C must be known from x's shape).
std::optional<std::vector<int64_t>> concat_of_slices(const Graph& graph, const Node& concat, std::vector<NodeId>& slices) {
  if (!is(concat, "Concat") || concat.inputs.size() < 2) return std::nullopt;
  const int64_t axis = concat.attr_int("axis", 0);
  const ValueId x = concat.inputs[0];
  const auto& shape = graph.values[x].shape;
  if ((axis != 1 && axis != -3) || !shape || shape->size() != 4 || (*shape)[1] <= 0) return std::nullopt;
  std::vector<int64_t> indices;
  for (int64_t c = 0; c < (*shape)[1]; ++c) indices.push_back(c);
  slices.clear();
  for (size_t i = 1; i < concat.inputs.size(); ++i) {
    const std::optional<NodeId> p = graph.producer(concat.inputs[i]);
    if (!p || graph.consumers(concat.inputs[i]).size() != 1) return std::nullopt;
    const Node& slice = graph.nodes[*p];
    if (!is(slice, "Slice") || slice.inputs.size() != 4 || slice.inputs[0] != x) return std::nullopt;
    const Tensor* start = constant_of(graph, slice.inputs[1]);
    const Tensor* end = constant_of(graph, slice.inputs[2]);
    const Tensor* axes = constant_of(graph, slice.inputs[3]);
    if (!start || !end || !axes || start->numel() != 1 || end->numel() != 1 || axes->numel() != 1) return std::nullopt;
    const int64_t c = start->to_int64_vector()[0];
    const int64_t a = axes->to_int64_vector()[0];
    if ((a != 1 && a != -3) || end->to_int64_vector()[0] != c + 1 || c < 0 || c >= (*shape)[1]) return std::nullopt;
    indices.push_back(c);
    slices.push_back(*p);
  }
  return indices;
}

// Constant Clip bounds (either may be absent), or nullopt when the Clip is not of that form.
std::optional<std::pair<std::optional<float>, std::optional<float>>> clip_bounds(const Graph& graph, const Node& clip,
                                                                               int64_t opset) {
  if (!is(clip, "Clip") || clip.inputs.empty()) return std::nullopt;
  std::pair<std::optional<float>, std::optional<float>> bounds;
  if (opset < 11) {
    if (clip.attributes.count("min")) bounds.first = clip.attr_float("min", 0.0f);
    if (clip.attributes.count("max")) bounds.second = clip.attr_float("max", 0.0f);
    return bounds;
  }
  for (size_t i = 1; i < 3; ++i) {
    if (clip.inputs.size() <= i || clip.inputs[i] == kNoValue) continue;
    const Tensor* t = constant_of(graph, clip.inputs[i]);
    if (!t || t->dtype() != DType::Float32 || t->numel() != 1) return std::nullopt;
    (i == 1 ? bounds.first : bounds.second) = t->data<float>()[0];
  }
  return bounds;
}

// The int8 weights behind the Conv's weight input in the graph as given: DequantizeLinear of an
// int8 constant [M, C/group, kh, kw], zero point 0, scale per tensor or per output channel.
bool match_weights(const Graph& original, const Node& conv, Int8ConvSpec& spec) {
  const std::optional<NodeId> producer = original.producer(conv.inputs[1]);
  if (!producer) return false;
  const Node& dq = original.nodes[*producer];
  if (!is(dq, "DequantizeLinear") || dq.inputs.size() < 2) return false;
  const Tensor* w = constant_of(original, dq.inputs[0]);
  const Tensor* scale = constant_of(original, dq.inputs[1]);
  if (!w || !scale || w->dtype() != DType::Int8 || w->rank() != 4 || scale->dtype() != DType::Float32) return false;
  const int64_t m = w->dim(0);
  if (scale->numel() == 1 && scale->rank() <= 1) {
    spec.weight_scales = {scale->data<float>()[0]};
  } else {
    int64_t axis = dq.attr_int("axis", 1);
    if (axis < 0) axis += 4;
    if (axis != 0 || scale->rank() != 1 || scale->numel() != m) return false;
    spec.weight_scales.assign(scale->data<float>(), scale->data<float>() + m);
  }
  if (dq.inputs.size() > 2 && dq.inputs[2] != kNoValue) {
    const Tensor* zp = constant_of(original, dq.inputs[2]);
    if (!zp || zp->dtype() != DType::Int8 || zp->numel() != scale->numel()) return false;
    for (int64_t k = 0; k < zp->numel(); ++k)
      if (zp->data<int8_t>()[k] != 0) return false;
  }
  spec.weights = *w;
  return true;
}

}  // namespace

std::optional<Int8ConvInput> int8_match_conv_input(const Graph& planned, const Graph& original, NodeId conv_id,
                                                   const std::vector<bool>& claimed) {
  const Node& conv = planned.nodes[conv_id];
  if (!is(conv, "Conv") || conv.inputs.size() < 2 || conv.outputs.size() != 1) return std::nullopt;
  if (planned.values.size() != original.values.size()) return std::nullopt;
  const int64_t opset = planned.opset("");
  Int8ConvInput match;
  std::vector<NodeId> path;  // from the Conv backwards
  bool gathered = false;
  // Steps back from `value` to its producer when it is a plain, unclaimed node; nullptr otherwise.
  auto producer_of = [&](ValueId value) -> const Node* {
    const std::optional<NodeId> p = planned.producer(value);
    if (!p || claimed[*p]) return nullptr;
    return &planned.nodes[*p];
  };
  auto take_gather = [&](ValueId& value) {
    const Node* node = producer_of(value);
    if (gathered || !node) return;
    std::vector<NodeId> slices;
    if (auto indices = channel_gather(planned, *node)) {
      match.spec.gather = std::move(*indices);
      gathered = true;
      path.push_back(*planned.producer(value));
      value = node->inputs[0];
    } else if (auto duplicated = concat_of_slices(planned, *node, slices)) {
      if (std::any_of(slices.begin(), slices.end(), [&](NodeId s) { return claimed[s]; })) return;
      match.spec.gather = std::move(*duplicated);
      gathered = true;
      path.push_back(*planned.producer(value));  // the Concat before its Slices (readers first)
      path.insert(path.end(), slices.begin(), slices.end());
      value = node->inputs[0];
    }
  };

  ValueId v = conv.inputs[0];
  take_gather(v);
  const Node* dq = producer_of(v);
  if (!dq || !is(*dq, "DequantizeLinear") || dq->inputs.size() < 2) return std::nullopt;
  const std::optional<float> scale = scalar_scale(planned, dq->inputs[1]);
  const auto zero_point = scalar_zero_point(planned, *dq);
  if (!scale || !zero_point) return std::nullopt;
  path.push_back(*planned.producer(v));
  v = dq->inputs[0];
  take_gather(v);
  const Node* q = producer_of(v);
  if (!q || !is(*q, "QuantizeLinear") || q->inputs.size() < 2) return std::nullopt;
  const std::optional<float> q_scale = scalar_scale(planned, q->inputs[1]);
  const auto q_zero_point = scalar_zero_point(planned, *q);
  if (!q_scale || !q_zero_point || std::memcmp(&*q_scale, &*scale, sizeof(float)) != 0 || *q_zero_point != *zero_point)
    return std::nullopt;
  match.quantize = *planned.producer(v);
  path.push_back(match.quantize);
  v = q->inputs[0];
  if (const Node* clip = producer_of(v)) {
    if (auto bounds = clip_bounds(planned, *clip, opset)) {
      match.spec.clip_low = bounds->first;
      match.spec.clip_high = bounds->second;
      match.clip = *planned.producer(v);
      path.push_back(match.clip);
      v = clip->inputs[0];
    }
  }
  const bool gathered_after = gathered;
  take_gather(v);
  match.gathered_before_quantize = gathered && !gathered_after;
  match.x = v;
  match.spec.scale = *scale;
  match.spec.type = zero_point->first;
  match.spec.zero_point = zero_point->second;
  if (!match_weights(original, conv, match.spec)) return std::nullopt;

  // Hide a node when everything reading its output is hidden or the Conv (walking from the Conv
  // backwards, each node's readers are decided before it).
  std::vector<NodeId> inside{conv_id};
  for (NodeId n : path) {
    const ValueId out = planned.nodes[n].outputs.at(0);
    if (planned.is_graph_output(out)) continue;
    bool only_inside = true;
    for (NodeId reader : planned.consumers(out))
      only_inside = only_inside && std::find(inside.begin(), inside.end(), reader) != inside.end();
    if (only_inside) inside.push_back(n);
  }
  match.hidden.assign(inside.begin() + 1, inside.end());
  std::sort(match.hidden.begin(), match.hidden.end());
  return match;
}

namespace {

// A per-tensor QuantizeLinear or DequantizeLinear with constant scale and zero point and no
// attribute but `axis` (opset 21's output_dtype and block_size mean something else).
std::optional<FakeQuantPair> per_tensor_quantizer(const Graph& graph, const Node& node, const char* op) {
  if (!is(node, op) || node.inputs.size() < 2 || node.outputs.size() != 1) return std::nullopt;
  for (const auto& [name, attr] : node.attributes)
    if (name != "axis") return std::nullopt;
  const std::optional<float> scale = scalar_scale(graph, node.inputs[1]);
  const auto zero_point = scalar_zero_point(graph, node);
  if (!scale || !zero_point) return std::nullopt;
  FakeQuantPair pair;
  pair.scale = *scale;
  pair.type = zero_point->first;
  pair.zero_point = zero_point->second;
  return pair;
}

}  // namespace

std::vector<FakeQuantPair> int8_match_fake_quant_pairs(const Graph& planned, const std::vector<bool>& claimed,
                                                       const std::vector<bool>& int8_hidden) {
  std::vector<FakeQuantPair> pairs;
  for (size_t i = 0; i < planned.nodes.size(); ++i) {
    if (claimed[i]) continue;
    std::optional<FakeQuantPair> q = per_tensor_quantizer(planned, planned.nodes[i], "QuantizeLinear");
    const ValueId codes = planned.nodes[i].outputs[0];
    if (!q || planned.is_graph_output(codes)) continue;
    std::vector<NodeId> open_readers;
    for (NodeId reader : planned.consumers(codes))
      if (!int8_hidden[reader]) open_readers.push_back(reader);
    if (open_readers.empty()) {  // only int8 steps read the codes, and they compute them from x
      q->quantize = static_cast<NodeId>(i);
      pairs.push_back(*q);
      continue;
    }
    if (open_readers.size() != 1 || claimed[open_readers[0]]) continue;
    const Node& dq_node = planned.nodes[open_readers[0]];
    std::optional<FakeQuantPair> dq = per_tensor_quantizer(planned, dq_node, "DequantizeLinear");
    if (!dq || dq_node.inputs[0] != codes || std::memcmp(&dq->scale, &q->scale, sizeof(float)) != 0 ||
        dq->zero_point != q->zero_point || dq->type != q->type)
      continue;
    q->quantize = static_cast<NodeId>(i);
    q->dequantize = open_readers[0];
    pairs.push_back(*q);
  }
  return pairs;
}

}  // namespace ocs
