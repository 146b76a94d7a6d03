#include "passes/ocs_split_weights.h"

#include "core/axis_split.h"
#include "passes/graph_edit.h"
#include "quant/fake_quant.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace ocs {

namespace {

struct Candidate {
  WeightedLayer layer;
  std::string skipped;
};

// Matching only: which layers to split, and why the others are left alone.
std::vector<Candidate> find_candidates(const Graph& graph, const OcsSplitWeightsOptions& options) {
  std::vector<Candidate> found;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    std::optional<WeightedLayer> layer = match_weighted_layer(graph, id);
    if (!layer) continue;
    const Node& node = graph.nodes[id];
    // A MatMul of a 1-D input (a vector times the weight) is not split.
    const auto& data_shape = graph.values[node.inputs[0]].shape;
    if (node.op_type == "MatMul" && data_shape && data_shape->size() == 1) continue;
    Candidate c{*layer, ""};
    if (node.op_type == "Conv" && conv_group(node) != 1) {
      const int64_t in_channels = graph.values[node.inputs[1]].constant->dim(1);
      c.skipped = in_channels == 1
                      ? fmt::format("depthwise convolution (group {}); splitting inside a group "
                                    "is not implemented", conv_group(node))
                      : fmt::format("grouped convolution (group {}); splitting inside a group is "
                                    "not implemented", conv_group(node));
    } else if (options.exclude.count(node.name)) {
      c.skipped = "excluded by option";
    }
    found.push_back(c);
  }
  if (options.skip_first_last) {
    auto first_conv = std::find_if(found.begin(), found.end(), [&](const Candidate& c) {
      return graph.nodes[c.layer.node].op_type == "Conv";
    });
    if (first_conv != found.end() && first_conv->skipped.empty())
      first_conv->skipped = "first convolution kept in float (skip_first_last)";
    auto last_fc = std::find_if(found.rbegin(), found.rend(), [&](const Candidate& c) {
      return graph.nodes[c.layer.node].op_type != "Conv";
    });
    if (last_fc != found.rend() && last_fc->skipped.empty())
      last_fc->skipped = "last fully connected layer kept in float (skip_first_last)";
  }
  return found;
}

// The split weight of a shared constant, and who has been given it (see ocs_split_weights).
struct SharedSplit {
  ValueId weight = kNoValue;  // the split constant, once created
};

// Rewriting one layer: the split weight in place of W, a Gather duplicating the input channels.
// Layers reading one weight constant (an unrolled recurrent weight) share one split constant.
void rewrite_layer(Graph& graph, const WeightedLayer& layer, const OcsSplitResult& split,
                   SharedSplit& shared) {
  const Node& node = graph.nodes[layer.node];
  const std::string node_name = node.name.empty() ? node.op_type : node.name;
  const ValueId input = node.inputs[layer.data_input];
  const std::string weight_name = graph.values[node.inputs[layer.weight_input]].name;
  const int64_t channels = split.weight.dim(layer.weight_axis) - static_cast<int64_t>(split.duplicated.size());

  if (shared.weight != kNoValue) {
    graph.nodes[layer.node].inputs[layer.weight_input] = shared.weight;
  } else {
    set_constant_input(graph, layer.node, layer.weight_input, split.weight, weight_name + "_ocs");
    shared.weight = graph.nodes[layer.node].inputs[layer.weight_input];
  }

  // indices = [0, 1, ..., C_in - 1, dup[0], ..., dup[k-1]]
  std::vector<int64_t> indices;
  for (int64_t c = 0; c < channels; ++c) indices.push_back(c);
  indices.insert(indices.end(), split.duplicated.begin(), split.duplicated.end());
  const int64_t widened = static_cast<int64_t>(indices.size());
  const ValueId index_value = add_constant(graph, node_name + "_ocs_indices",
                                           Tensor::from_vector<int64_t>({widened}, indices));

  Value gathered;
  gathered.name = unique_value_name(graph, graph.values[input].name + "_ocs_" + node_name);
  gathered.dtype = graph.values[input].dtype;
  gathered.shape = graph.values[input].shape;
  if (gathered.shape) {
    const int64_t rank = static_cast<int64_t>(gathered.shape->size());
    const int64_t axis = layer.data_axis < 0 ? layer.data_axis + rank : layer.data_axis;
    if (axis >= 0 && axis < rank) (*gathered.shape)[axis] = widened;
  }
  const ValueId gathered_id = graph.add_value(std::move(gathered));

  Node gather;
  gather.name = unique_node_name(graph, node_name + "_ocs_gather");
  gather.op_type = "Gather";
  gather.inputs = {input, index_value};
  gather.outputs = {gathered_id};
  Attribute axis;
  axis.kind = Attribute::Kind::Int;
  axis.i = layer.data_axis;
  gather.attributes["axis"] = axis;
  graph.nodes[layer.node].inputs[layer.data_input] = gathered_id;
  insert_node(graph, layer.node, std::move(gather));
}

// Appends zero-weight channels to `split` until its channel count along `axis` is a multiple of
// `multiple` (OcsSplitWeightsOptions::channel_multiple); returns how many.
int64_t pad_with_zero_channels(OcsSplitResult& split, int64_t axis, int64_t multiple) {
  const int64_t total = split.weight.dim(axis);
  const int64_t padding = multiple > 1 ? (multiple - total % multiple) % multiple : 0;
  if (padding == 0) return 0;
  const int64_t channels = total - static_cast<int64_t>(split.duplicated.size());
  std::vector<int64_t> indices;
  for (int64_t c = 0; c < total + padding; ++c) indices.push_back(c < total ? c : 0);
  Tensor padded = gather_along_axis(split.weight, axis, indices);
  const AxisSplit s = split_at_axis(padded.shape(), axis);
  float* w = padded.data<float>();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = total; c < total + padding; ++c)
      for (int64_t r = 0; r < s.inner; ++r) w[s.index(o, c, r)] = 0.0f;
  split.weight = std::move(padded);
  for (int64_t i = 0; i < padding; ++i) split.duplicated.push_back(i % channels);
  return padding;
}

}  // namespace

OcsSplitWeightsReport ocs_split_weights(Graph& graph, const OcsSplitWeightsOptions& options) {
  OcsSplitWeightsReport report;
  const std::vector<Candidate> candidates = find_candidates(graph, options);
  OcsSplitOptions split_options;
  split_options.ratio = options.ratio;
  split_options.mode = options.mode;
  split_options.bits = options.bits;
  split_options.threshold = options.threshold;
  ocs_split_count(options.ratio, 1);  // rejects a bad ratio before anything changes

  // Plan every layer first (graph order, ids stable), then rewrite from the last layer back so
  // that inserting a Gather never shifts a node id still to be used.
  std::vector<std::optional<OcsSplitResult>> splits;
  // A weight constant read by several layers along the same input-channel axis (the unrolled
  // LSTM's R^T, one MatMul per time step) is split once: every reader gets the same split
  // constant and its own Gather. Keyed by (weight value, axis): the plan index of the first
  // reader that was split; group[i] is that index for every reader split with it.
  std::map<std::pair<ValueId, int64_t>, size_t> first_split;
  std::vector<size_t> group(candidates.size());
  for (const Candidate& c : candidates) {
    const size_t index = splits.size();
    group[index] = index;
    const Node& node = graph.nodes[c.layer.node];
    const auto key = std::make_pair(node.inputs[c.layer.weight_input], c.layer.weight_axis);
    auto earlier = first_split.find(key);
    if (c.skipped.empty() && earlier != first_split.end()) {
      // Same weight, same split: the first reader's numbers.
      OcsWeightLayerReport r = report.layers[earlier->second];
      r.node = node.name;
      r.op_type = node.op_type;
      r.shared_with = report.layers[earlier->second].node;
      group[index] = earlier->second;
      report.layers.push_back(std::move(r));
      splits.push_back(splits[earlier->second]);
      continue;
    }
    const Value& weight_value = graph.values[node.inputs[c.layer.weight_input]];
    const Tensor& weight = *weight_value.constant;
    OcsWeightLayerReport r;
    r.node = node.name;
    r.op_type = node.op_type;
    r.weight = weight_value.name;
    r.skipped = c.skipped;
    r.in_channels = weight.dim(c.layer.weight_axis);
    r.weights_before = weight.numel();
    r.threshold_before = max_abs(weight);
    r.sqnr_before_db = sqnr_db(weight, fake_quantize(weight, {r.threshold_before}, -1, options.bits));
    r.threshold_after = r.threshold_before;
    r.sqnr_after_db = r.sqnr_before_db;
    std::optional<OcsSplitResult> split;
    if (r.skipped.empty()) {
      OcsSplitOptions layer_options = split_options;
      const auto explicit_k = options.splits.find(node.name);
      if (explicit_k != options.splits.end()) layer_options.splits = explicit_k->second;
      const auto explicit_t = options.thresholds.find(node.name);
      if (explicit_t != options.thresholds.end())
        layer_options.threshold = [t = explicit_t->second](const Tensor&) { return t; };
      const int64_t axis = c.layer.weight_axis;
      const int64_t k =
          layer_options.splits ? *layer_options.splits : ocs_split_count(layer_options.ratio, weight.dim(axis));
      const OcsNaiveSplit naive =
          options.naive_split ? options.naive_split(weight, axis, k) : ocs_split_naive(weight, axis, k);
      split = ocs_split_finish(weight, axis, naive, layer_options);
      r.splits = static_cast<int64_t>(split->duplicated.size());
      if (r.splits == 0) {
        r.skipped = explicit_k != options.splits.end() ? "no split within the model's overhead cap"
                                                       : "expand ratio gives no split";
        split.reset();
      }
    }
    if (split) {
      first_split.emplace(key, index);
      r.channels_split = split->duplicated;
      r.threshold_after = split->threshold;
      const Tensor effective = ocs_fold_split(
          fake_quantize(split->weight, {split->threshold}, -1, options.bits), c.layer.weight_axis,
          split->duplicated);
      r.sqnr_after_db = sqnr_db(weight, effective);
      r.channels_padded = pad_with_zero_channels(*split, c.layer.weight_axis, options.channel_multiple);
      r.weights_added = split->weight.numel() - weight.numel();
      r.weights_added_percent = 100.0 * static_cast<double>(r.weights_added) /
                                static_cast<double>(std::max<int64_t>(1, r.weights_before));
      report.weights_before += r.weights_before;
      report.weights_added += r.weights_added;
    }
    report.layers.push_back(std::move(r));
    splits.push_back(std::move(split));
  }
  // The first reader that is split creates the split constant; readers left alone (excluded,
  // skipped) keep the original, which is dropped when nothing reads it any more.
  std::map<size_t, SharedSplit> shared;
  std::set<ValueId> replaced;
  for (size_t i = candidates.size(); i-- > 0;) {
    if (!splits[i]) continue;
    replaced.insert(graph.nodes[candidates[i].layer.node].inputs[candidates[i].layer.weight_input]);
    rewrite_layer(graph, candidates[i].layer, *splits[i], shared[group[i]]);
  }
  drop_unused_constants(graph, replaced);
  graph.verify();
  return report;
}

nlohmann::json ocs_split_weights_json(const OcsSplitWeightsReport& report) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& r : report.layers)
    layers.push_back({{"node", r.node}, {"op_type", r.op_type}, {"weight", r.weight}, {"shared_with", r.shared_with},
                      {"skipped", r.skipped}, {"in_channels", r.in_channels}, {"splits", r.splits},
                      {"channels_padded", r.channels_padded},
                      {"channels_split", r.channels_split}, {"weights_before", r.weights_before},
                      {"weights_added", r.weights_added},
                      {"weights_added_percent", r.weights_added_percent},
                      {"sqnr_before_db", r.sqnr_before_db}, {"sqnr_after_db", r.sqnr_after_db},
                      {"threshold_before", r.threshold_before},
                      {"threshold_after", r.threshold_after}});
  return {{"layers", layers},
          {"weights_before", report.weights_before},
          {"weights_added", report.weights_added}};
}

}  // namespace ocs
