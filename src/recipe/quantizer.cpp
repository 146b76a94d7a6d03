#include "recipe/quantizer.h"

#include "analysis/int8_tensors.h"
#include "analysis/subgraph_layers.h"
#include "calib/clip_method.h"
#include "core/axis_split.h"
#include "core/error.h"
#include "core/option_names.h"
#include "passes/absorb_channel_gathers.h"
#include "passes/channels_last_upsampling.h"
#include "passes/fold_batchnorm.h"
#include "passes/convtranspose_chains.h"
#include "passes/fold_input_affine.h"
#include "passes/fuse_hardswish.h"
#include "passes/insert_qdq.h"
#include "passes/ocs_split_activations.h"
#include "passes/ocs_split_weights.h"
#include "passes/pool_before_relu.h"
#include "passes/specialize_inputs.h"
#include "passes/unroll_recurrent.h"
#include "passes/weighted_layer.h"
#include "quant/fake_quant.h"
#include "quant/ocs_budget.h"
#include "recipe/calibrate_layers.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>

namespace ocs {

namespace {

using Clock = std::chrono::steady_clock;

// The recipe's state between its steps: the graph being rewritten and the plan being filled.
struct Recipe {
  Recipe(const Graph& float_graph, const QuantizeOptions& o, SampleSource* source, QuantizeCache* c)
      : options(o), calib(source), cache(c), graph(float_graph),
        quantize_activations(o.activation_bits > 0 && o.writes_qdq()),
        deploy(o.output_format() == OutputFormat::Qdq),
        act_ocs(o.act_ocs_ratio > 0),
        act_bits(o.activation_bits > 0 ? o.activation_bits : 8) {}

  const QuantizeOptions& options;
  SampleSource* calib;
  QuantizeCache* cache;
  Graph graph;
  QuantizePlan plan;
  const bool quantize_activations;
  const bool deploy;  // the deployable layout (insert_qdq.h, QdqLayout::Deploy)
  const bool act_ocs;
  const int act_bits;  // the activation grid's bits (8 when activations stay float but are split)
  std::unique_ptr<ClipMethod> weight_clip, activation_clip;
  std::map<std::string, TensorStats> act_stats;  // step 3, per quantized layer
  // Deployable layout: the tensors it quantizes, chosen on the float graph (values by name), the
  // input each layer had there, and the statistics of the tensors that take their own grid.
  std::vector<TensorPlan> int8;
  std::vector<std::string> int8_names;
  std::map<std::string, std::string> float_input_of;
  std::map<std::string, TensorStats> tensor_stats;
  int64_t layer_weights_before = 0;              // weights of the quantized layers before OCS
  Clock::time_point start = Clock::now();        // of the step being timed

  void record(const std::string& step, nlohmann::json extra = nlohmann::json::object()) {
    plan.steps.push_back({step, std::chrono::duration<double>(Clock::now() - start).count(), std::move(extra)});
    start = Clock::now();
  }
  std::vector<std::string> quantized_names() const {
    std::vector<std::string> names;
    for (const LayerPlan& l : plan.layers)
      if (l.quantized()) names.push_back(l.node);
    return names;
  }
  const Node& node(const std::string& name) const {
    for (const Node& n : graph.nodes)
      if (n.name == name) return n;
    OCS_CHECK(false, "the plan's layer '{}' is not in the graph", name);
    return graph.nodes.front();
  }
  const Value& weight(const std::string& name) const { return graph.values[node(name).inputs[1]]; }
  // The weight clip method's threshold of a weight tensor (or one channel of it).
  double weight_threshold(const Tensor& w) const {
    const int bits = options.weight_bits;
    return cache ? cache->threshold(*weight_clip, w, bits) : weight_clip->threshold_of_tensor(w, bits);
  }
};

bool is_weighted_layer(const Graph& graph, NodeId id) { return match_weighted_layer(graph, id).has_value(); }

// True when another layer reads this layer's weight constant (the unrolled LSTM's R^T).
bool shared_weight(const Graph& graph, const Node& node) {
  int64_t readers = 0;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id)
    if (graph.nodes[id].inputs.size() > 1 && graph.nodes[id].inputs[1] == node.inputs[1] && is_weighted_layer(graph, id)) ++readers;
  return readers > 1;
}

int64_t weight_count(const Graph& graph) {
  int64_t total = 0;
  for (const Value& v : graph.values)
    if (v.constant) total += v.constant->numel();
  return total;
}

// Weights of the quantized layers; a weight shared by several layers counts once.
int64_t layer_weight_count(const Recipe& r) {
  int64_t total = 0;
  std::set<ValueId> counted;
  for (const auto& name : r.quantized_names()) {
    const ValueId w = r.node(name).inputs[1];
    if (counted.insert(w).second) total += r.graph.values[w].constant->numel();
  }
  return total;
}

// The values of each slice w[..., c, ...] along `axis`, as 1-D tensors.
std::vector<Tensor> channel_slices(const Tensor& w, int64_t axis) {
  const AxisSplit s = split_at_axis(w.shape(), axis);
  std::vector<Tensor> slices;
  const float* p = w.data<float>();
  for (int64_t c = 0; c < s.channels; ++c) {
    Tensor slice(DType::Float32, {s.outer * s.inner});
    float* out = slice.data<float>();
    for (int64_t o = 0; o < s.outer; ++o)
      for (int64_t i = 0; i < s.inner; ++i) out[o * s.inner + i] = p[s.index(o, c, i)];
    slices.push_back(std::move(slice));
  }
  return slices;
}

// ---- the steps, in order -------------------------------------------------------------------

// Step 0: --fix-input / --fix-shape.
void specialize(Recipe& r) {
  if (r.options.fix_input.empty() && r.options.fix_shape.empty()) return;
  const SpecializeOptions fixed{parse_fixed_values(r.options.fix_input, "--fix-input"),
                                parse_fixed_shapes(r.options.fix_shape, "--fix-shape")};
  const SpecializeStats s = specialize_inputs(r.graph, fixed);
  r.record("specialize_inputs", {{"inputs_fixed", s.inputs_fixed}, {"shapes_fixed", s.shapes_fixed},
                                 {"shapes_folded", s.shapes_folded}, {"nodes_folded", s.nodes_folded},
                                 {"ifs_inlined", s.ifs_inlined}, {"rounds", s.rounds}});
}

// Steps 1 and 1b.
void fold_and_unroll(Recipe& r) {
  // Counted after specialization: the branches not taken are gone from the model written.
  r.plan.weights_before = weight_count(r.graph);
  // Until neither folds more: a BatchNormalization behind a bias Add (Paddle's ConvTranspose
  // exports its bias as one) follows the layer only once the Add is folded.
  r.plan.batchnorms_folded = 0;
  int64_t affine_folded = 0;
  for (bool more = r.options.fold_batchnorm; more;) {
    const int64_t bn = fold_batchnorm(r.graph), affine = fold_affine_constants(r.graph);
    r.plan.batchnorms_folded += bn;
    affine_folded += affine;
    more = bn + affine > 0;
  }
  r.record("fold_batchnorm", {{"folded", r.plan.batchnorms_folded}, {"affine_ops_folded", affine_folded}});
  if (!r.options.unroll_recurrent) return;
  std::vector<std::string> kept;  // recurrent nodes left whole (float), with the reason
  const int64_t unrolled = unroll_recurrent(r.graph, &kept);
  // The report keeps the step's first name, "unroll_lstm" (docs/RECURRENT.md).
  if (unrolled > 0 || !kept.empty()) r.record("unroll_lstm", {{"unrolled", unrolled}, {"left_in_place", kept}});
}

// Steps 0 to 1b, made once per cache: they depend on the float graph and the options in the key
// only. Taken from the cache, their steps are listed with the time the copy took (none).
void prepare(Recipe& r) {
  if (!r.cache) {
    specialize(r);
    fold_and_unroll(r);
    return;
  }
  const QuantizeOptions& o = r.options;
  const std::string key = fmt::format("{}\n--\n{}\n--\n{} {}", fmt::join(o.fix_input, "\n"),
                                      fmt::join(o.fix_shape, "\n"), o.fold_batchnorm, o.unroll_recurrent);
  const size_t first_step = r.plan.steps.size();
  bool made_here = false;
  const auto prepared = r.cache->prepared(key, [&r, first_step, &made_here] {
    made_here = true;
    specialize(r);
    fold_and_unroll(r);
    const auto steps = r.plan.steps.begin() + static_cast<std::ptrdiff_t>(first_step);
    return QuantizeCache::Prepared{r.graph, r.plan.weights_before, r.plan.batchnorms_folded,
                                   {steps, r.plan.steps.end()}};
  });
  if (made_here) return;
  r.graph = prepared->graph;
  r.plan.weights_before = prepared->weights_before;
  r.plan.batchnorms_folded = prepared->batchnorms_folded;
  for (const StepRecord& step : prepared->steps) r.plan.steps.push_back({step.step, 0.0, step.extra});
  r.start = Clock::now();
}

// Step 1c (deployable layout with quantized activations): fewer float ops between the 8-bit
// tensors, for runtimes that run each as one pass over the data: Paddle's expanded HardSwish as
// one HardSwish node (passes/fuse_hardswish.h), and scalar affine ops in front of Convs folded
// into them (passes/fold_input_affine.h), and chains of stride-equals-kernel ConvTransposes as
// 1x1 Convs and one DepthToSpace (passes/convtranspose_chains.h), which then are quantized layers.
// Before calibration: what is calibrated and evaluated is what is written.
void fuse_for_deploy(Recipe& r) {
  if (!r.deploy || !r.quantize_activations) return;
  const int64_t opset = r.graph.opset();
  const int64_t fused = fuse_hardswish(r.graph);
  r.record("fuse_hardswish", {{"fused", fused}, {"opset_before", opset}, {"opset_after", r.graph.opset()}});
  r.record("fold_input_affine", {{"nodes_folded", fold_input_affine(r.graph)}});
  r.record("convtranspose_chains", {{"convtransposes_as_convs", convtranspose_chains_as_convs(r.graph)}});
}

// The model's first convolutions: every Conv layer whose input no weighted layer computes (the
// graph input, or what plain ops make of it). Two parallel convolutions reading the input are
// both first; the reference's policy keeps them float.
std::set<NodeId> first_convs(const Graph& graph) {
  std::vector<bool> after_layer(graph.values.size(), false);
  std::set<NodeId> first;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    const Node& node = graph.nodes[id];
    const auto layer = match_weighted_layer(graph, id);
    if (layer && node.op_type == "Conv" && !after_layer[node.inputs[layer->data_input]]) first.insert(id);
    bool computed = layer.has_value();
    for (ValueId in : node.inputs) computed = computed || (in != kNoValue && after_layer[in]);
    for (ValueId out : node.outputs)
      if (out != kNoValue) after_layer[out] = computed;
  }
  return first;
}

// Step 2: every weighted layer gets a plan; those left float say why.
void choose_layers(Recipe& r) {
  const Graph& graph = r.graph;
  const std::set<std::string> exclude(r.options.exclude.begin(), r.options.exclude.end());
  for (const auto& name : exclude)
    if (std::none_of(graph.nodes.begin(), graph.nodes.end(), [&](const Node& n) { return n.name == name; }))
      user_error("{} '{}': the model has no node of that name", option_name("--exclude"), name);
  std::vector<NodeId> layers;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id)
    if (is_weighted_layer(graph, id)) layers.push_back(id);
  const std::set<NodeId> first_conv = first_convs(graph);
  NodeId last_fc = -1;
  for (NodeId id : layers) {
    const Node& node = graph.nodes[id];
    // The last FC is the model's last layer: a Conv after it (Silero VAD's 1x1 decoder after its
    // LSTMs) means there is none. A weight read by several layers (an unrolled LSTM's recurrent
    // weight) is no final FC either.
    if (node.op_type == "Conv") last_fc = -1;
    else last_fc = shared_weight(graph, node) ? -1 : id;
  }
  const bool policy = r.options.keep_first_last_float;
  for (NodeId id : layers) {
    LayerPlan layer;
    layer.node = graph.nodes[id].name;
    layer.op_type = graph.nodes[id].op_type;
    if (exclude.count(layer.node)) layer.left_float = "--exclude";
    else if (policy && first_conv.count(id)) layer.left_float = "first conv (reference policy)";
    else if (policy && id == last_fc) layer.left_float = "last fully connected (reference policy)";
    r.plan.layers.push_back(std::move(layer));
  }
  if (r.plan.layers_quantized() == 0)
    user_error("no layer is left to quantize (check {} and {}; layers inside If branches need {})", option_name("--exclude"),
               option_name("--quantize-first-last"), option_name("--fix-input"));
}

// The weights as the model has them (no OCS): threshold and SQNR of the per-tensor grid.
void weight_baseline(Recipe& r) {
  r.layer_weights_before = layer_weight_count(r);
  for (LayerPlan& l : r.plan.layers) {
    if (!l.quantized()) continue;
    const Value& w = r.weight(l.node);
    const Tensor& t = *w.constant;
    l.weight = w.name;
    l.weight_shape = t.shape();
    l.weight_threshold_no_ocs = r.weight_threshold(t);
    l.weight_sqnr_db_no_ocs = sqnr_db(t, fake_quantize(t, {l.weight_threshold_no_ocs}, -1, r.options.weight_bits));
  }
}

// Step 2b (deployable layout): the tensors quantized besides the layers' inputs
// (analysis/int8_tensors.h), chosen on the float graph. An activation-split layer's input is
// split before it is quantized, so it is no such tensor.
void choose_int8_tensors(Recipe& r) {
  if (!r.deploy || !r.quantize_activations) return;
  std::set<NodeId> layers;
  std::set<ValueId> skip;
  for (const std::string& name : r.quantized_names()) {
    const Node& node = r.node(name);
    layers.insert(static_cast<NodeId>(&node - r.graph.nodes.data()));
    r.float_input_of[name] = r.graph.values[node.inputs[0]].name;
    if (r.act_ocs) skip.insert(node.inputs[0]);
  }
  for (const Int8Tensor& t : int8_tensors(r.graph, layers, skip)) {
    TensorPlan plan;
    plan.value = r.graph.values[t.value].name;
    plan.role = int8_role_name(t.role);
    plan.layer_input = t.role == Int8Role::LayerInput;
    if (t.same_grid_as != kNoValue) plan.same_grid_as = r.graph.values[t.same_grid_as].name;
    plan.is_unsigned = r.options.unsigned_grid() && t.non_negative;
    if (!plan.layer_input && plan.same_grid_as.empty()) r.int8_names.push_back(plan.value);
    r.int8.push_back(std::move(plan));
  }
}

// Step 3: statistics of the float model's activations (reused from the cache when it has them).
void calibrate_float(Recipe& r) {
  if (!r.act_ocs && !r.quantize_activations) return;
  const std::vector<std::string> names = r.quantized_names();
  const std::string key = fmt::format("{}\n--\n{}", fmt::join(names, "\n"), fmt::join(r.int8_names, "\n"));
  std::unique_lock<std::mutex> reading;  // the calibration source is one stream
  if (r.cache) reading = std::unique_lock<std::mutex>(r.cache->calibration_mutex);
  if (r.cache && r.cache->float_stats.count(key)) {
    r.act_stats = r.cache->float_stats.at(key);
    r.tensor_stats = r.cache->tensor_stats.at(key);
    ++r.cache->hits;
    r.record("calibrate (reused)", {{"samples", r.calib->size()}});
    return;
  }
  // One quantization gathers only what its clip method reads (ClipMethod::needs); a sweep's
  // cache serves configurations with other methods, so it gathers everything.
  const StatsNeeds needs = r.cache ? StatsNeeds{} : r.activation_clip->needs();
  r.act_stats = calibrate_layers(r.graph, names, *r.calib, r.options.threads, "calibrate", r.int8_names, &r.tensor_stats,
                                 needs);
  if (r.cache) {
    r.cache->float_stats[key] = r.act_stats;
    r.cache->tensor_stats[key] = r.tensor_stats;
    ++r.cache->misses;
  }
  r.record("calibrate", {{"samples", r.calib->size()}});
}

// Which activations get the unsigned grid (decided on the float graph, before any split).
void choose_activation_grids(Recipe& r) {
  if (!r.quantize_activations && !r.act_ocs) return;
  for (LayerPlan& l : r.plan.layers)
    if (l.quantized())
      l.act_unsigned = r.options.unsigned_grid() && non_negative_value(r.graph, r.node(l.node).inputs[0]);
}

std::vector<ActivationSplitRequest> activation_split_requests(Recipe& r) {
  std::vector<ActivationSplitRequest> requests;
  for (LayerPlan& l : r.plan.layers) {
    if (!l.quantized()) continue;
    const Node& node = r.node(l.node);
    if (node.op_type == "Conv" && conv_group(node) != 1) {
      l.act_ocs_skipped = "grouped convolution";
      continue;
    }
    if (shared_weight(r.graph, node)) {  // each reader would need its own widened copy
      l.act_ocs_skipped = "weight shared with other layers (unrolled recurrent weight)";
      continue;
    }
    ActivationSplitRequest request;
    request.node = l.node;
    const auto& channel_max = r.act_stats.at(l.node).channel_max_abs();
    request.channel_max.assign(channel_max.begin(), channel_max.end());
    request.expand_ratio = r.options.act_ocs_ratio;
    request.bits = r.act_bits;
    request.is_unsigned = l.act_unsigned;
    request.mode = OcsSplitMode::Naive;
    requests.push_back(request);
  }
  return requests;
}

// Step 4: activation OCS, its thresholds from the split values.
void split_activations(Recipe& r) {
  if (!r.act_ocs) return;
  std::vector<ActivationSplitRequest> requests = activation_split_requests(r);
  // Calibrate the split values on a scratch copy split naively: the clip method must see the
  // distribution the quantizer will get.
  Graph scratch = r.graph;
  ocs_split_activations(scratch, requests);
  std::unique_lock<std::mutex> reading;  // the calibration source is one stream
  if (r.cache) reading = std::unique_lock<std::mutex>(r.cache->calibration_mutex);
  r.start = Clock::now();
  auto split_stats = calibrate_layers(scratch, r.quantized_names(), *r.calib, r.options.threads,
                                      "calibrate split activations");
  r.record("calibrate_split_activations", {{"samples", r.calib->size()}});
  if (reading) reading.unlock();
  for (auto& request : requests) {
    request.mode = r.options.split_mode();
    request.threshold = static_cast<float>(r.activation_clip->threshold(
        split_stats.at(request.node), threshold_bits(r.act_bits, request.is_unsigned)));
    r.plan.find(request.node)->act_threshold = *request.threshold;
  }
  for (const auto& result : ocs_split_activations(r.graph, requests)) {
    LayerPlan& l = *r.plan.find(result.node);
    l.act_channels_split = result.split_channels;
    l.act_max_before = result.threshold_before;
    l.act_max_after = result.threshold_after;
  }
  r.record("ocs_split_activations");
}

// --max-overhead: the splits of each quantized layer within the model's cap (quant/ocs_budget.h);
// a weight read by several layers (an unrolled recurrent weight) is split once, for its first.
std::map<std::string, int64_t> splits_within_cap(Recipe& r) {
  const int64_t added_so_far = layer_weight_count(r) - r.layer_weights_before;  // activation OCS
  const double cap = r.options.max_overhead / 100.0 * static_cast<double>(r.plan.weights_before);
  r.plan.max_overhead_percent = r.options.max_overhead;
  r.plan.overhead_budget = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cap)) - added_so_far);
  std::vector<ValueId> weights;  // one entry per distinct weight
  std::vector<OcsBudgetLayer> layers;
  for (const std::string& name : r.quantized_names()) {
    const Node& node = r.node(name);
    const auto layer = match_weighted_layer(r.graph, static_cast<NodeId>(&node - r.graph.nodes.data()));
    const bool splittable = layer && !(node.op_type == "Conv" && conv_group(node) != 1);
    if (!splittable || std::count(weights.begin(), weights.end(), node.inputs[1])) continue;
    const Tensor& w = *r.graph.values[node.inputs[1]].constant;
    weights.push_back(node.inputs[1]);
    layers.push_back({&w, layer->weight_axis, ocs_split_count(r.options.ocs_ratio, w.dim(layer->weight_axis))});
  }
  const std::vector<int64_t> k = ocs_budget_splits(layers, r.plan.overhead_budget);
  std::map<std::string, int64_t> splits;
  for (const std::string& name : r.quantized_names()) {
    const auto it = std::find(weights.begin(), weights.end(), r.node(name).inputs[1]);
    if (it != weights.end()) splits[name] = k[static_cast<size_t>(it - weights.begin())];
  }
  return splits;
}

// Step 5: weight OCS, the weight clip method deciding the threshold of each split tensor.
void split_weights(Recipe& r) {
  if (r.options.ocs_ratio > 0) {
    OcsSplitWeightsOptions split;
    if (r.options.max_overhead >= 0) split.splits = splits_within_cap(r);
    split.ratio = r.options.ocs_ratio;
    split.channel_multiple = r.options.ocs_channel_multiple > 0 ? r.options.ocs_channel_multiple
                             : r.deploy && r.quantize_activations ? 8
                                                                  : 1;
    split.mode = r.options.split_mode();
    split.bits = r.options.weight_bits;
    split.threshold = [&r](const Tensor& w) { return r.weight_threshold(w); };
    if (r.cache)
      split.naive_split = [cache = r.cache](const Tensor& w, int64_t axis, int64_t k) {
        return cache->naive_split(w, axis, k);
      };
    // --ocs-clip-on original: the clip method's threshold of the unsplit weight (weight_baseline).
    const bool on_original = r.options.ocs_clip_on == "original" && r.options.weight_clip != "max";
    for (const LayerPlan& l : r.plan.layers) {
      if (!l.quantized()) split.exclude.insert(l.node);
      else if (on_original) split.thresholds[l.node] = l.weight_threshold_no_ocs;
    }
    const OcsSplitWeightsReport report = ocs_split_weights(r.graph, split);
    for (const auto& layer : report.layers) {
      LayerPlan* l = r.plan.find(layer.node);
      if (!l || !l->quantized()) continue;
      if (!layer.skipped.empty()) {
        l->ocs_skipped = layer.skipped;
        continue;
      }
      l->channels_split = layer.channels_split;
      l->weights_added_percent = layer.weights_added_percent;
      l->weight_threshold = layer.threshold_after;
      l->weight_sqnr_db_ocs = layer.sqnr_after_db;
    }
    r.record("ocs_split_weights", {{"weights_added", report.weights_added}});
  }
  r.plan.weights_after_ocs = r.plan.weights_before + layer_weight_count(r) - r.layer_weights_before;
}

// Step 5b (deployable layout): weight OCS's channel duplication moved into the producer layer
// where it can be (passes/absorb_channel_gathers.h); the Gathers left move onto the uint8 codes
// in step 7. Each split layer says how its channels were duplicated.
void absorb_gathers(Recipe& r) {
  std::vector<std::string> gathers;
  std::map<std::string, LayerPlan*> layer_of;
  for (LayerPlan& l : r.plan.layers) {
    if (!l.quantized() || l.channels_split.empty()) continue;
    const auto p = r.graph.producer(r.node(l.node).inputs[0]);
    if (!p || r.graph.nodes[*p].op_type != "Gather") continue;
    l.channel_duplication = "Gather in front of the layer";
    if (!r.deploy) continue;
    gathers.push_back(r.graph.nodes[*p].name);
    layer_of[gathers.back()] = &l;
  }
  if (gathers.empty()) return;
  int absorbed = 0;
  for (const ChannelGatherReport& g : absorb_channel_gathers(r.graph, gathers)) {
    LayerPlan& l = *layer_of.at(g.gather);
    if (!g.producer.empty()) {
      l.channel_duplication = fmt::format("output channels of '{}' duplicated", g.producer);
      ++absorbed;
    } else {
      l.channel_duplication = fmt::format("copied on the 8-bit codes (a one-hot 1x1 Conv, or Concat of Slices; {})", g.kept_because);
    }
  }
  r.record("absorb_channel_gathers", {{"absorbed", absorbed}, {"kept", static_cast<int>(gathers.size()) - absorbed}});
}

// Step 6: thresholds of the activations activation OCS did not split, from step 3's statistics.
void activation_thresholds(Recipe& r) {
  if (!r.quantize_activations) return;
  for (LayerPlan& l : r.plan.layers) {
    auto stats = r.act_stats.find(l.node);
    if (!l.quantized() || l.act_threshold || stats == r.act_stats.end()) continue;
    l.act_threshold = r.activation_clip->threshold(stats->second, threshold_bits(r.act_bits, l.act_unsigned));
  }
}

// The weight grid of one layer for insert_qdq (and the plan's per-channel figures).
QdqWeight weight_grid(Recipe& r, LayerPlan& l) {
  const int bits = r.options.weight_bits;
  QdqWeight weight;
  weight.bits = bits;
  weight.per_channel = r.options.per_channel;
  const Node& node = r.node(l.node);
  const Tensor& w = *r.graph.values[node.inputs[1]].constant;
  if (!r.options.per_channel) {
    // Per tensor: the split's threshold after weight OCS, else the clip method's on w.
    if (!l.weight_threshold) l.weight_threshold = r.weight_threshold(w);
    weight.thresholds = {static_cast<float>(*l.weight_threshold)};
    return weight;
  }
  // One threshold per output channel, by the weight clip method on that channel's values.
  const int64_t out_axis = weight_output_channel_axis(node, w.rank());
  for (const Tensor& part : channel_slices(w, out_axis))
    weight.thresholds.push_back(static_cast<float>(r.weight_threshold(part)));
  // The SQNR of the grid actually used, when the weight is the model's own (a split weight's
  // per-tensor figures stay: its halves' errors add up in the layer's output).
  if (l.channels_split.empty()) {
    const std::vector<double> thresholds(weight.thresholds.begin(), weight.thresholds.end());
    l.weight_sqnr_db_per_channel = sqnr_db(w, fake_quantize(w, thresholds, out_axis, bits));
  }
  return weight;
}

// Step 7: the QDQ nodes.
// The deployable layout's grids, in graph order: a value-moving op's output copies its input's
// grid, a layer's input has the layer's (step 6; the moved copy wins, and the layer's plan says
// so), every other tensor its own threshold by the activation clip method.
std::vector<QdqTensor> deploy_grids(Recipe& r) {
  std::map<std::string, QdqActivation> grid;
  std::map<std::string, LayerPlan*> reader;  // a layer reading the tensor as its (unsplit) input
  for (LayerPlan& l : r.plan.layers)
    if (r.float_input_of.count(l.node) && l.act_threshold) reader.emplace(r.float_input_of.at(l.node), &l);
  std::vector<QdqTensor> tensors;
  for (TensorPlan& t : r.int8) {
    QdqActivation a;
    a.bits = r.act_bits;
    if (!t.same_grid_as.empty() && grid.count(t.same_grid_as)) {
      a = grid.at(t.same_grid_as);
    } else if (t.layer_input && reader.count(t.value)) {
      a.threshold = static_cast<float>(*reader.at(t.value)->act_threshold);
      a.is_unsigned = reader.at(t.value)->act_unsigned;
    } else {
      t.same_grid_as.clear();
      a.is_unsigned = t.is_unsigned;
      a.threshold = static_cast<float>(r.activation_clip->threshold(r.tensor_stats.at(t.value),
                                                                    threshold_bits(r.act_bits, a.is_unsigned)));
    }
    grid[t.value] = a;
    t.threshold = a.threshold;
    t.is_unsigned = a.is_unsigned;
    if (!t.layer_input) tensors.push_back({t.value, a});
  }
  for (LayerPlan& l : r.plan.layers) {  // the layers whose input copies another tensor's grid
    const auto in = r.float_input_of.find(l.node);
    if (in == r.float_input_of.end() || !grid.count(in->second)) continue;
    l.act_threshold = grid.at(in->second).threshold;
    l.act_unsigned = grid.at(in->second).is_unsigned;
  }
  r.plan.int8_tensors = r.int8;
  return tensors;
}

void quantize_grids(Recipe& r) {
  if (!r.options.writes_qdq()) return;
  QdqPlan qdq;
  qdq.layout = r.deploy ? QdqLayout::Deploy : QdqLayout::Inputs;
  if (r.deploy && r.quantize_activations) qdq.tensors = deploy_grids(r);
  for (LayerPlan& l : r.plan.layers) {
    if (!l.quantized()) continue;
    QdqLayer layer;
    layer.node = l.node;
    layer.weight = weight_grid(r, l);
    if (r.quantize_activations) {
      QdqActivation act;
      act.bits = r.options.activation_bits;
      act.threshold = static_cast<float>(l.act_threshold.value());
      act.is_unsigned = l.act_unsigned;
      layer.activation = act;
      l.act_quantized = true;
    }
    qdq.layers.push_back(layer);
  }
  const QdqReport report = insert_qdq(r.graph, qdq);
  nlohmann::json counts = {{"weights_quantized", report.weights_quantized},
                           {"activation_chains", report.activation_chains}};
  if (r.deploy) {
    counts["layout"] = "deployable";
    counts["gathers_on_codes"] = report.gathers_on_codes;
    counts["biases_int32"] = report.biases_int32;
  }
  r.record("insert_qdq", std::move(counts));
  // On the codes' final form: the Resizes that read a DequantizeLinear (passes/channels_last_upsampling.h).
  if (r.deploy && r.quantize_activations) {
    r.record("channels_last_upsampling", {{"resizes", write_upsamplings_channels_last(r.graph)}});
    r.record("pool_before_relu", {{"swapped", pool_before_relu(r.graph)}});  // passes/pool_before_relu.h
  }
}

// The plan's rows in the order of the quantized graph (unrolling adds the layers of an LSTM).
void order_as_graph(Recipe& r) {
  std::vector<LayerPlan> ordered;
  for (const Node& node : r.graph.nodes)
    if (LayerPlan* l = r.plan.find(node.name)) ordered.push_back(*l);
  r.plan.layers = std::move(ordered);
}

}  // namespace

QuantizeResult quantize_model(const Graph& float_graph, const QuantizeOptions& options, SampleSource* calib,
                              QuantizeCache* cache) {
  options.validate();
  Recipe r(float_graph, options, calib, cache);
  if ((r.quantize_activations || r.act_ocs) && !calib)
    user_error("quantizing activations ({} {}) or activation OCS needs calibration data: pass {}",
               option_name("--abits"), options.activation_bits, option_name("--calib", "calibration"));
  prepare(r);
  fuse_for_deploy(r);
  choose_layers(r);
  choose_int8_tensors(r);
  r.weight_clip = make_clip_method(options.weight_clip);
  r.activation_clip = make_clip_method(options.activation_clip);
  r.plan.weight_clip = r.weight_clip->name();
  r.plan.activation_clip = r.activation_clip->name();
  weight_baseline(r);
  calibrate_float(r);
  choose_activation_grids(r);
  split_activations(r);
  split_weights(r);
  absorb_gathers(r);
  activation_thresholds(r);
  quantize_grids(r);
  r.graph.verify();
  order_as_graph(r);
  QuantizeResult result{std::move(r.graph), std::move(r.plan), {}};
  result.report = quantize_report_json(result.plan, options);
  report_subgraph_layers_left_float(result.graph, result.report);
  if (r.deploy && r.quantize_activations) {
    nlohmann::json float_ops = nlohmann::json::array();
    for (const FloatOpCount& c : float_ops_on_8bit_data(result.graph))
      float_ops.push_back({{"op_type", c.op_type}, {"count", c.count}, {"why", c.reason}});
    result.report["float_ops_on_8bit_data"] = float_ops;
  }
  return result;
}

}  // namespace ocs
