// The functions of the installed API (include/ocs/ocs.h): what tools/ocs does for `inspect`,
// `quantize` and `eval`, with results returned instead of printed.
#include "analysis/integer_layers.h"
#include "analysis/weight_stats.h"
#include "api/calibration.h"
#include "api/tensor_info.h"
#include "core/option_names.h"
#include "core/progress.h"
#include "engine/session.h"
#include "eval/metric.h"
#include "eval/sample_source_spec.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>

namespace ocs {
namespace fs = std::filesystem;

namespace api {
namespace {

std::vector<TensorInfo> describe(const Graph& graph, const std::vector<ValueId>& ids) {
  std::vector<TensorInfo> out;
  for (ValueId id : ids) {
    const Value& v = graph.values[id];
    TensorInfo info;
    info.name = v.name;
    if (v.dtype != DType::Undefined) info.dtype = std::string(dtype_name(v.dtype));
    info.has_shape = v.shape.has_value();
    if (v.shape) info.shape = *v.shape;
    out.push_back(std::move(info));
  }
  return out;
}

// Progress reported to `progress`, or nowhere: the library prints no progress line itself.
ScopedProgressSink progress_sink(const ProgressCallback& progress) {
  if (!progress) return ScopedProgressSink(nullptr);
  return ScopedProgressSink([progress](const std::string& label, int64_t done, int64_t total) { progress(label, done, total); });
}

}  // namespace

std::vector<TensorInfo> graph_inputs(const Graph& graph) { return describe(graph, graph.inputs); }
std::vector<TensorInfo> graph_outputs(const Graph& graph) { return describe(graph, graph.outputs); }

}  // namespace api

std::string version() { return OCS_VERSION; }

ModelInfo inspect(const std::string& model_path) {
  const ScopedOptionSpelling spelling(OptionSpelling::Api);  // messages name the API's options
  Graph graph = import_onnx_file(model_path);
  ModelInfo info;
  info.inputs = api::graph_inputs(graph);
  info.outputs = api::graph_outputs(graph);
  info.nodes = static_cast<int64_t>(graph.nodes.size());
  nlohmann::json json = weight_stats_json(collect_weight_stats(graph));
  const auto integer_layers = find_integer_layers(graph);
  json["integer_layers"] = integer_layers_json(integer_layers);
  json["already_quantized"] = !integer_layers.empty();
  info.weight_stats_json = json.dump();
  return info;
}

std::string quantize(const std::string& input_path, const std::string& output_path, const QuantizeSettings& s,
                     const Calibration& calibration, const ProgressCallback& progress, bool overwrite) {
  const ScopedOptionSpelling spelling(OptionSpelling::Api);  // messages name the API's options
  QuantizeOptions options;
  options.weight_bits = s.weight_bits;
  options.activation_bits = s.activation_bits;
  options.ocs_ratio = s.ocs_ratio;
  options.act_ocs_ratio = s.act_ocs_ratio;
  options.max_overhead = s.max_overhead;
  options.split = s.split;
  options.weight_clip = s.weight_clip;
  options.activation_clip = s.activation_clip;
  options.per_channel = s.per_channel;
  options.unsigned_activations = s.unsigned_activations;
  options.signed_activations = s.signed_activations;
  options.ocs_clip_on = s.ocs_clip_on;
  options.fold_batchnorm = s.fold_batchnorm;
  options.keep_first_last_float = !s.quantize_first_last;
  options.exclude = s.exclude;
  options.fix_input = s.fix_input;
  options.fix_shape = s.fix_shape;
  options.unroll_recurrent = s.unroll_recurrent;
  options.format = s.format;
  options.calib_samples = s.calib_samples;
  options.threads = s.threads;
  options.force = overwrite;
  options.validate();

  std::error_code ec;
  if (fs::exists(output_path, ec) && fs::exists(input_path, ec) && fs::equivalent(input_path, output_path, ec))
    user_error("the output '{}' is the input model; ocs never modifies its input, choose another name", output_path);
  if (fs::exists(output_path, ec) && !overwrite)
    user_error("'{}' already exists; allow overwriting it or choose another output", output_path);

  const auto sink = api::progress_sink(progress);
  Graph graph = import_onnx_file(input_path);
  refuse_quantized_model(graph, input_path);
  std::unique_ptr<SampleSource> calib = api::calibration_source(calibration, graph, options.calib_samples);
  QuantizeResult result = quantize_model(graph, options, calib.get());
  result.report["input"] = input_path;
  result.report["output"] = output_path;
  export_onnx_file(result.graph, output_path, overwrite);
  return result.report.dump();
}

std::string evaluate(const std::string& model_path, const EvaluateSettings& s, const ProgressCallback& progress) {
  const ScopedOptionSpelling spelling(OptionSpelling::Api);  // messages name the API's options
  if (s.data.empty()) user_error("give the evaluation data (as `ocs eval` takes it: fashion-mnist:test, FILE.npz, ...)");
  if (s.limit <= 0) user_error("the sample limit must be positive, not {}", s.limit);
  const auto sink = api::progress_sink(progress);
  auto graph = std::make_shared<const Graph>(import_onnx_file(model_path));
  auto source = make_sample_source(s.data, *graph, s.limit);
  ocs::Session session(graph, {false, s.threads});
  std::unique_ptr<ocs::Session> reference;
  if (!s.reference.empty())
    reference = std::make_unique<ocs::Session>(std::make_shared<const Graph>(import_onnx_file(s.reference)),
                                               SessionOptions{false, s.threads});
  MetricOptions metric_options{s.keys};
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const auto& name : s.metrics) metrics.push_back(make_metric(name, metric_options));
  const auto start = std::chrono::steady_clock::now();
  int64_t done = 0;
  Progress bar("eval", source->size());
  while (auto feed = source->next()) {
    if (metrics.empty()) {
      std::vector<std::string> names = metrics_for_labels(*source);
      if (reference) names.push_back("fidelity");
      if (names.empty()) user_error("the data has no labels; give a reference model to measure fidelity instead");
      for (const auto& name : names) metrics.push_back(make_metric(name, metric_options));
    }
    std::vector<Tensor> ref_out;
    if (reference) ref_out = reference->run(feed_for_model(reference->graph(), *feed, {}));
    auto out = session.run(*feed);
    for (auto& metric : metrics) metric->add({out, ref_out, *source});
    done += source->samples_in(*feed);
    bar.update(done);
  }
  bar.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json result = {{"model", model_path}, {"samples", done}, {"seconds", seconds}};
  for (const auto& metric : metrics) result.update(metric->result());
  return result.dump();
}

}  // namespace ocs
