#include "quant/quantizer.h"

#include "analysis/subgraph_layers.h"
#include "calib/calibrator.h"
#include "calib/clip_method.h"
#include "calib/tensor_stats.h"
#include "core/progress.h"
#include "engine/session.h"
#include "passes/fold_batchnorm.h"
#include "passes/insert_qdq.h"
#include "passes/ocs_split_activations.h"
#include "passes/ocs_split_weights.h"
#include "passes/specialize_inputs.h"
#include "passes/unroll_lstm.h"
#include "quant/fake_quant.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace ocs {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool is_layer(const Node& node) {
  return node.domain.empty() && (node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul");
}

const Value* constant_weight(const Graph& graph, const Node& node) {
  if (node.inputs.size() < 2 || node.inputs[1] == kNoValue) return nullptr;
  const Value& w = graph.values[node.inputs[1]];
  if (!w.constant || w.constant->dtype() != DType::Float32) return nullptr;
  if (node.op_type == "MatMul" && w.constant->rank() != 2) return nullptr;
  return &w;
}

// The input channel axis of a layer's data input: NCHW conv -> 1; Gemm A -> 1 (0 with transA);
// MatMul X -> its last axis.
int64_t activation_channel_axis(const Graph& graph, const Node& node) {
  if (node.op_type == "Conv") return 1;
  if (node.op_type == "Gemm") return node.attr_int("transA", 0) ? 0 : 1;
  const auto& shape = graph.values[node.inputs[0]].shape;
  return shape && !shape->empty() ? static_cast<int64_t>(shape->size()) - 1 : -1;
}

// True when another layer reads this layer's weight constant (the unrolled LSTM's R^T).
bool shared_weight(const Graph& graph, const Node& node) {
  return std::count_if(graph.nodes.begin(), graph.nodes.end(), [&](const Node& other) {
           return is_layer(other) && other.inputs.size() > 1 && other.inputs[1] == node.inputs[1];
         }) > 1;
}

struct LayerChoice {
  std::vector<std::string> quantized;              // node names, graph order
  std::map<std::string, std::string> left_float;   // node -> reason
};

LayerChoice choose_layers(const Graph& graph, const QuantizeOptions& options) {
  LayerChoice choice;
  std::set<std::string> exclude(options.exclude.begin(), options.exclude.end());
  std::vector<const Node*> layers;
  for (const Node& node : graph.nodes)
    if (is_layer(node) && constant_weight(graph, node)) layers.push_back(&node);
  for (const auto& name : exclude) {
    bool found = false;
    for (const Node& node : graph.nodes) found = found || node.name == name;
    if (!found) user_error("--exclude '{}': the model has no node of that name", name);
  }
  const Node* first_conv = nullptr;
  const Node* last_fc = nullptr;
  for (const Node* node : layers) {
    if (!first_conv && node->op_type == "Conv") first_conv = node;
    // The last FC is the model's last layer: a Conv after it (Silero VAD's 1x1 decoder after its
    // LSTMs) means there is none. A weight read by several layers (an unrolled LSTM's recurrent
    // weight) is no final FC either.
    if (node->op_type == "Conv") last_fc = nullptr;
    else last_fc = shared_weight(graph, *node) ? nullptr : node;
  }
  for (const Node* node : layers) {
    if (exclude.count(node->name)) choice.left_float[node->name] = "--exclude";
    else if (options.keep_first_last_float && node == first_conv) choice.left_float[node->name] = "first conv (reference policy)";
    else if (options.keep_first_last_float && node == last_fc) choice.left_float[node->name] = "last fully connected (reference policy)";
    else choice.quantized.push_back(node->name);
  }
  return choice;
}

const Node* find_node(const Graph& graph, const std::string& name) {
  for (const Node& node : graph.nodes)
    if (node.name == name) return &node;
  return nullptr;
}

// Streams `source` through `graph`, watching the data input of each named layer.
std::map<std::string, TensorStats> calibrate(const Graph& graph, const std::vector<std::string>& layers,
                                             SampleSource& source, int threads, const std::string& label) {
  auto shared = std::make_shared<const Graph>(graph);
  Session session(shared, {false, threads});
  std::vector<WatchedValue> watched;
  std::map<std::string, ValueId> input_of;
  std::set<ValueId> seen;
  for (const auto& name : layers) {
    const Node* node = find_node(*shared, name);
    ValueId x = node->inputs[0];
    input_of[name] = x;
    if (shared->values[x].constant || !seen.insert(x).second) continue;
    watched.push_back({x, activation_channel_axis(*shared, *node)});
  }
  Calibrator calibrator(*shared, watched);
  source.rewind();
  Progress progress(label, source.size());
  int64_t done = 0;
  // The data is made for the float model; an input that --fix-input turned into a constant (and
  // folding may then have removed) is no input of `graph` any more, so its data is not fed.
  std::set<std::string> inputs;
  for (ValueId id : shared->inputs) inputs.insert(shared->values[id].name);
  while (auto feed = source.next()) {
    for (auto it = feed->begin(); it != feed->end();) it = inputs.count(it->first) ? std::next(it) : feed->erase(it);
    session.run(*feed, calibrator.observer());
    // Samples in this batch: axis 0 of the model's first input (not of the first name in the
    // feed: Silero's state c [2, 1, 64] sorts first and would count each chunk twice).
    const auto first = shared->inputs.empty() ? feed->end() : feed->find(shared->values[shared->inputs[0]].name);
    done += first != feed->end() && first->second.rank() > 0 ? first->second.dim(0) : 1;
    progress.update(done);
  }
  progress.finish();
  std::map<std::string, TensorStats> stats;
  for (const auto& [name, x] : input_of)
    if (!shared->values[x].constant) stats.emplace(name, calibrator.stats(x));
  return stats;
}

bool non_negative_producer(const Graph& graph, ValueId value) {
  auto producer = graph.producer(value);
  if (!producer) return false;
  const Node& node = graph.nodes[*producer];
  if (node.op_type == "Relu" || node.op_type == "Sigmoid" || node.op_type == "Softmax") return true;
  if (node.op_type == "Clip" && node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
    const auto& min = graph.values[node.inputs[1]].constant;
    return min && min->numel() == 1 && min->to_double_vector()[0] >= 0.0;
  }
  return false;
}

int64_t weight_count(const Graph& graph) {
  int64_t total = 0;
  for (const Value& v : graph.values)
    if (v.constant) total += v.constant->numel();
  return total;
}

// The values of each slice w[..., c, ...] along `axis`, as 1-D tensors.
std::vector<Tensor> channel_slices(const Tensor& w, int64_t axis) {
  const int64_t channels = w.dim(axis);
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= w.dim(a);
  for (int64_t a = axis + 1; a < w.rank(); ++a) inner *= w.dim(a);
  std::vector<Tensor> slices;
  const float* p = w.data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    Tensor slice(DType::Float32, {outer * inner});
    float* out = slice.data<float>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t r = 0; r < inner; ++r) out[o * inner + r] = p[(o * channels + c) * inner + r];
    slices.push_back(std::move(slice));
  }
  return slices;
}

// The weight SQNR of a layer quantized per tensor with the clip threshold t (no OCS).
double weight_sqnr(const Tensor& w, double t, int bits) {
  return sqnr_db(w, fake_quantize(w, {t}, -1, bits));
}

}  // namespace

QuantizeResult quantize_model(const Graph& float_graph, const QuantizeOptions& options, SampleSource* calib,
                              CalibrationCache* cache) {
  options.validate();
  const bool quantize_activations = options.activation_bits > 0 && options.format == "qdq";
  const bool act_ocs = options.act_ocs_ratio > 0;
  if ((quantize_activations || act_ocs) && !calib)
    user_error("quantizing activations (--abits {}) or activation OCS needs calibration data: pass "
               "--calib", options.activation_bits);
  nlohmann::json steps = nlohmann::json::array();
  auto record = [&](const std::string& step, Clock::time_point start, nlohmann::json extra = {}) {
    extra["step"] = step;
    extra["seconds"] = seconds_since(start);
    steps.push_back(extra);
  };

  Graph graph = float_graph;
  auto start = Clock::now();
  if (!options.fix_input.empty() || !options.fix_shape.empty()) {
    const SpecializeOptions fixed{parse_fixed_values(options.fix_input, "--fix-input"),
                                  parse_fixed_shapes(options.fix_shape, "--fix-shape")};
    const SpecializeStats s = specialize_inputs(graph, fixed);
    record("specialize_inputs", start, {{"inputs_fixed", s.inputs_fixed}, {"shapes_fixed", s.shapes_fixed},
                                        {"shapes_folded", s.shapes_folded}, {"nodes_folded", s.nodes_folded},
                                        {"ifs_inlined", s.ifs_inlined}, {"rounds", s.rounds}});
    start = Clock::now();
  }
  // Counted after specialization: the branches not taken are gone from the model written.
  const int64_t weights_before = weight_count(graph);
  int64_t folded = options.fold_batchnorm ? fold_batchnorm(graph) : 0;
  record("fold_batchnorm", start, {{"folded", folded}});
  if (options.unroll_recurrent) {
    start = Clock::now();
    std::vector<std::string> kept;  // LSTMs left whole (float), with the reason
    const int64_t unrolled = unroll_lstm(graph, &kept);
    if (unrolled > 0 || !kept.empty()) record("unroll_lstm", start, {{"unrolled", unrolled}, {"left_in_place", kept}});
  }

  const LayerChoice choice = choose_layers(graph, options);
  if (choice.quantized.empty()) user_error("no layer is left to quantize (check --exclude and --quantize-first-last; layers inside If branches need --fix-input)");
  // Weights of the quantized layers before and after the OCS passes: the size overhead.
  auto layer_weights = [&](const Graph& g) {
    int64_t total = 0;
    std::set<const Value*> counted;  // a weight shared by several layers counts once
    for (const auto& name : choice.quantized) {
      const Value* w = constant_weight(g, *find_node(g, name));
      if (counted.insert(w).second) total += w->constant->numel();
    }
    return total;
  };
  const int64_t layer_weights_before = layer_weights(graph);
  const auto wclip = make_clip_method(options.weight_clip);
  const auto aclip = make_clip_method(options.activation_clip);
  const int abits = options.activation_bits > 0 ? options.activation_bits : 8;

  // Per-layer report rows, filled step by step.
  std::map<std::string, nlohmann::json> rows;
  for (const auto& name : choice.quantized) {
    const Node* node = find_node(graph, name);
    const Tensor& w = *constant_weight(graph, *node)->constant;
    double t = wclip->threshold(stats_of_tensor(w, kNoChannelAxis), options.weight_bits);
    rows[name] = {{"node", name}, {"op_type", node->op_type}, {"quantized", true},
                  {"weight", constant_weight(graph, *node)->name}, {"weight_shape", w.shape()}, {"weight_clip", wclip->name()},
                  {"weight_threshold_no_ocs", t},
                  {"weight_sqnr_db_no_ocs", weight_sqnr(w, t, options.weight_bits)},
                  {"channels_split", nlohmann::json::array()}, {"weights_added_percent", 0.0}};
  }
  for (const auto& [name, reason] : choice.left_float)
    rows[name] = {{"node", name}, {"op_type", find_node(graph, name)->op_type}, {"quantized", false},
                  {"left_float", reason}};

  // Activation statistics of the float model: activation OCS chooses its channels from them,
  // and they give the thresholds of the activations it does not split.
  std::map<std::string, TensorStats> act_stats;
  if (act_ocs || quantize_activations) {
    start = Clock::now();
    std::string key = fmt::format("{}", fmt::join(choice.quantized, "\n"));
    if (cache && cache->float_stats.count(key)) {
      act_stats = cache->float_stats.at(key);
      ++cache->hits;
      record("calibrate (reused)", start, {{"samples", calib->size()}});
    } else {
      act_stats = calibrate(graph, choice.quantized, *calib, options.threads, "calibrate");
      if (cache) {
        cache->float_stats[key] = act_stats;
        ++cache->misses;
      }
      record("calibrate", start, {{"samples", calib->size()}});
    }
  }

  // Activation OCS, then the activation thresholds on the values the quantizers will see.
  std::map<std::string, double> act_threshold;
  std::map<std::string, bool> act_unsigned;
  if (quantize_activations || act_ocs) {
    for (const auto& name : choice.quantized)
      act_unsigned[name] = options.unsigned_activations && non_negative_producer(graph, find_node(graph, name)->inputs[0]);
    std::vector<ActivationSplitRequest> requests;
    if (act_ocs) {
      for (const auto& name : choice.quantized) {
        const Node* node = find_node(graph, name);
        if (node->op_type == "Conv" && node->attr_int("group", 1) != 1) {
          rows[name]["act_ocs_skipped"] = "grouped convolution";
          continue;
        }
        if (shared_weight(graph, *node)) {  // each reader would need its own widened copy
          rows[name]["act_ocs_skipped"] = "weight shared with other layers (unrolled recurrent weight)";
          continue;
        }
        ActivationSplitRequest request;
        request.node = name;
        const auto& channel_max = act_stats.at(name).channel_max_abs();
        request.channel_max.assign(channel_max.begin(), channel_max.end());
        request.expand_ratio = options.act_ocs_ratio;
        request.bits = abits;
        request.is_unsigned = act_unsigned[name];
        request.mode = ActivationSplitMode::Naive;
        requests.push_back(request);
      }
      // Calibrate the split values on a scratch copy split naively: the clip method must see
      // the distribution the quantizer will get.
      Graph scratch = graph;
      ocs_split_activations(scratch, requests);
      start = Clock::now();
      auto split_stats = calibrate(scratch, choice.quantized, *calib, options.threads, "calibrate split activations");
      record("calibrate_split_activations", start, {{"samples", calib->size()}});
      for (auto& request : requests) {
        request.mode = options.split == "naive" ? ActivationSplitMode::Naive : ActivationSplitMode::QuantAware;
        request.threshold = static_cast<float>(
            aclip->threshold(split_stats.at(request.node), request.is_unsigned ? std::min(abits + 1, 16) : abits));
        act_threshold[request.node] = *request.threshold;
      }
      start = Clock::now();
      auto results = ocs_split_activations(graph, requests);
      for (const auto& r : results) {
        rows[r.node]["act_channels_split"] = r.split_channels;
        rows[r.node]["act_max_before"] = r.threshold_before;
        rows[r.node]["act_max_after"] = r.threshold_after;
      }
      record("ocs_split_activations", start);
    }
  }

  // Weight OCS, with the weight clip method deciding the threshold of each split tensor.
  std::map<std::string, double> split_threshold;
  if (options.ocs_ratio > 0) {
    start = Clock::now();
    OcsSplitWeightsOptions split;
    split.ratio = options.ocs_ratio;
    split.mode = options.split == "naive" ? OcsSplitMode::Naive : OcsSplitMode::QuantAware;
    split.bits = options.weight_bits;
    const ClipMethod* method = wclip.get();
    const int bits = options.weight_bits;
    split.threshold = [method, bits](const Tensor& w) { return method->threshold(stats_of_tensor(w, kNoChannelAxis), bits); };
    for (const auto& [name, reason] : choice.left_float) split.exclude.insert(name);
    OcsSplitWeightsReport report = ocs_split_weights(graph, split);
    for (const auto& layer : report.layers) {
      if (!rows.count(layer.node) || !rows[layer.node]["quantized"].get<bool>()) continue;
      auto& row = rows[layer.node];
      if (!layer.skipped.empty()) {
        row["ocs_skipped"] = layer.skipped;
        continue;
      }
      row["channels_split"] = layer.channels_split;
      row["weights_added_percent"] = layer.weights_added_percent;
      row["weight_threshold"] = layer.threshold_after;
      row["weight_sqnr_db_ocs"] = layer.sqnr_after_db;
      split_threshold[layer.node] = layer.threshold_after;
    }
    record("ocs_split_weights", start, {{"weights_added", report.weights_added}});
  }

  if (quantize_activations || act_ocs) {
    bool missing = false;
    for (const auto& name : choice.quantized) missing = missing || !act_threshold.count(name);
    if (missing && quantize_activations) {
      // An unsigned b-bit grid on non-negative data is the positive half of the signed
      // (b+1)-bit grid, so its threshold is the signed method's at b + 1 bits.
      for (const auto& [name, s] : act_stats)
        if (!act_threshold.count(name)) act_threshold[name] = aclip->threshold(s, act_unsigned[name] ? std::min(abits + 1, 16) : abits);
    }
  }

  const int64_t layer_weights_after_ocs = layer_weights(graph);
  if (options.format == "qdq") {
    start = Clock::now();
    QdqPlan plan;
    for (const auto& name : choice.quantized) {
      const Node* node = find_node(graph, name);
      QdqLayer layer;
      layer.node = name;
      QdqWeight weight;
      weight.bits = options.weight_bits;
      weight.per_channel = options.per_channel;
      const Tensor& w = *constant_weight(graph, *node)->constant;
      if (options.per_channel) {
        // One threshold per output channel, by the weight clip method on that channel's values.
        const int64_t out_axis = node->op_type == "Conv" ? 0 : (node->op_type == "Gemm" && node->attr_int("transB", 0) ? 0 : 1);
        for (const Tensor& part : channel_slices(w, out_axis))
          weight.thresholds.push_back(static_cast<float>(wclip->threshold(stats_of_tensor(part, kNoChannelAxis), options.weight_bits)));
        // The SQNR of the grid actually used, when the weight is the model's own (a split
        // weight's per-tensor figures stay: its halves' errors add up in the layer's output).
        if (rows[name]["channels_split"].empty()) {
          const std::vector<double> thresholds(weight.thresholds.begin(), weight.thresholds.end());
          rows[name]["weight_sqnr_db_per_channel"] = sqnr_db(w, fake_quantize(w, thresholds, out_axis, options.weight_bits));
        }
      } else {
        double t = split_threshold.count(name) ? split_threshold[name]
                                               : wclip->threshold(stats_of_tensor(w, kNoChannelAxis), options.weight_bits);
        weight.thresholds = {static_cast<float>(t)};
        rows[name]["weight_threshold"] = t;
      }
      layer.weight = weight;
      if (quantize_activations) {
        QdqActivation act;
        act.bits = options.activation_bits;
        act.threshold = static_cast<float>(act_threshold.at(name));
        act.is_unsigned = act_unsigned[name];
        layer.activation = act;
        rows[name]["act_clip"] = aclip->name();
        rows[name]["act_threshold"] = act.threshold;
        rows[name]["act_unsigned"] = act.is_unsigned;
      }
      plan.layers.push_back(layer);
    }
    QdqReport qdq = insert_qdq(graph, plan);
    record("insert_qdq", start, {{"weights_quantized", qdq.weights_quantized},
                                 {"activation_chains", qdq.activation_chains}});
  }
  graph.verify();

  nlohmann::json layers = nlohmann::json::array();
  for (const Node& node : graph.nodes)  // not float_graph: unrolling adds the layers of an LSTM
    if (rows.count(node.name)) layers.push_back(rows[node.name]);
  const int64_t weights_after_split = weights_before + layer_weights_after_ocs - layer_weights_before;
  nlohmann::json model = {
      {"weights_before", weights_before},
      {"weights_after_ocs", weights_after_split},
      {"size_overhead_percent", 100.0 * static_cast<double>(weights_after_split - weights_before) / static_cast<double>(weights_before)},
      {"layers_quantized", choice.quantized.size()},
      {"layers_left_float", choice.left_float.size()},
      {"batchnorms_folded", folded}};
  QuantizeResult result{std::move(graph), {}};
  result.report = {{"options", options.to_json()}, {"model", model}, {"layers", layers}, {"steps", steps}};
  report_subgraph_layers_left_float(result.graph, result.report);
  return result;
}

std::string quantize_report_table(const nlohmann::json& report) {
  std::string out = fmt::format("{:<28} {:<6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10}  {}\n", "layer", "op",
                                "split", "added %", "w thresh", "SQNR noOCS", "SQNR OCS", "a thresh", "notes");
  const auto& rows = report["layers"];
  for (size_t k = 0; k < rows.size(); ++k) {
    const auto& row = rows[k];
    // Consecutive layers reading one weight (an unrolled LSTM's time steps) print as one line.
    size_t readers = 1;
    while (row.contains("weight") && k + readers < rows.size() && rows[k + readers].value("weight", "") == row["weight"]) ++readers;
    k += readers - 1;
    const std::string shared = readers > 1 ? fmt::format("{} layers share this weight (first shown)", readers) : "";
    std::string name = row["node"].get<std::string>();
    if (name.size() > 28) name = "..." + name.substr(name.size() - 25);
    if (!row["quantized"].get<bool>()) {
      out += fmt::format("{:<28} {:<6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10}  float: {}\n", name,
                         row["op_type"].get<std::string>(), "-", "-", "-", "-", "-", "-",
                         row["left_float"].get<std::string>());
      continue;
    }
    auto num = [&](const char* key, const char* format) {
      return row.contains(key) ? fmt::format(fmt::runtime(format), row[key].get<double>()) : std::string("-");
    };
    std::string notes;
    if (row.contains("ocs_skipped")) notes += "OCS skipped: " + row["ocs_skipped"].get<std::string>();
    if (row.contains("act_channels_split")) notes += fmt::format("act split {}", row["act_channels_split"].size());
    if (!shared.empty()) notes += (notes.empty() ? "" : "; ") + shared;
    out += fmt::format("{:<28} {:<6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10}  {}\n", name,
                       row["op_type"].get<std::string>(), row["channels_split"].size(),
                       num("weights_added_percent", "{:.2f}"), num("weight_threshold", "{:.4g}"),
                       num("weight_sqnr_db_no_ocs", "{:.2f}"), num("weight_sqnr_db_ocs", "{:.2f}"),
                       num("act_threshold", "{:.4g}"), notes);
  }
  const auto& model = report["model"];
  out += fmt::format("{} layers quantized, {} left in float; weights {} -> {} ({:+.2f}% size); {} BatchNorm folded\n",
                     model["layers_quantized"].get<int64_t>(), model["layers_left_float"].get<int64_t>(),
                     model["weights_before"].get<int64_t>(), model["weights_after_ocs"].get<int64_t>(),
                     model["size_overhead_percent"].get<double>(), model["batchnorms_folded"].get<int64_t>());
  for (const auto& step : report["steps"])
    out += fmt::format("  {:<30} {:8.3f} s\n", step["step"].get<std::string>(), step["seconds"].get<double>());
  return out;
}

}  // namespace ocs
