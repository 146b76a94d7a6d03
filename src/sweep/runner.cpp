#include "sweep/runner.h"

#include "core/error.h"
#include "engine/session.h"
#include "eval/replay_source.h"
#include "eval/sample_source_spec.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <chrono>
#include <cmath>
#include <iostream>

namespace ocs {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<std::string> implied_metrics(SampleSource& source) {
  source.rewind();
  if (!source.next()) user_error("the evaluation data is empty");
  std::vector<std::string> names = metrics_for_labels(source);
  source.rewind();
  if (names.empty())
    user_error("the evaluation data has no labels; name a metric with --metric (fidelity compares "
               "each configuration with the float model)");
  return names;
}

// Runs `graph` over `source` and fills the metrics. `reference` holds the float model's outputs
// per batch when a metric needs them (empty vectors otherwise).
void measure(const Graph& graph, SampleSource& source, int threads,
             const std::vector<std::vector<Tensor>>& reference, SweepRow& row,
             const SweepSetup& setup, std::string& headline_name, bool& higher_is_better) {
  Session session(std::make_shared<const Graph>(graph), {false, threads});
  std::vector<std::unique_ptr<Metric>> metrics;
  for (const auto& name : setup.metrics) metrics.push_back(make_metric(name, setup.metric_options));
  source.rewind();
  static const std::vector<Tensor> none;
  size_t batch = 0;
  while (auto feed = source.next()) {
    auto out = session.run(*feed);
    const auto& ref = batch < reference.size() ? reference[batch] : none;
    for (auto& metric : metrics) metric->add({out, ref, source});
    ++batch;
  }
  row.metrics = nlohmann::json::object();
  for (const auto& metric : metrics) row.metrics.update(metric->result());
  row.headline = metrics.front()->headline();
  headline_name = setup.metrics.front();
  higher_is_better = metrics.front()->higher_is_better();
}

bool needs_reference(const std::vector<std::string>& metrics) {
  return std::find(metrics.begin(), metrics.end(), "fidelity") != metrics.end();
}

// Histogram of the weights of the layer that suffers most from quantization, before and after
// the largest OCS ratio of the sweep, at its smallest bit width.
nlohmann::json worst_layer_histogram(const Graph& float_graph, const SweepSetup& setup,
                                     const std::vector<SweepConfig>& configs) {
  int bits = 16;
  double ratio = 0;
  for (const auto& c : configs) {
    bits = std::min(bits, c.weight_bits);
    ratio = std::max(ratio, c.ocs_ratio);
  }
  if (ratio == 0) ratio = 0.05;
  QuantizeOptions options = setup.base;
  options.weight_bits = bits;
  options.activation_bits = 0;
  options.act_ocs_ratio = 0;
  options.ocs_ratio = ratio;
  options.weight_clip = "max";
  options.format = "split-float";
  QuantizeResult split = quantize_model(float_graph, options, nullptr);
  std::string worst;
  double worst_sqnr = INFINITY;
  for (const LayerPlan& layer : split.plan.layers)
    if (layer.quantized() && layer.weight_sqnr_db_no_ocs < worst_sqnr) {
      worst_sqnr = layer.weight_sqnr_db_no_ocs;
      worst = layer.node;
    }
  if (worst.empty()) return nullptr;
  // The same pipeline without OCS gives the weights before splitting (BatchNorm folded,
  // recurrent layers unrolled, as the quantizer sees them).
  options.ocs_ratio = 0;
  const Graph folded = quantize_model(float_graph, options, nullptr).graph;
  auto weight_of = [&](const Graph& g) -> std::vector<double> {
    for (const Node& node : g.nodes)
      if (node.name == worst && node.inputs.size() > 1 && g.values[node.inputs[1]].constant)
        return g.values[node.inputs[1]].constant->to_double_vector();
    return {};
  };
  auto before = weight_of(folded), after = weight_of(split.graph);
  if (before.empty() || after.empty()) return nullptr;
  double range = 0;
  for (double w : before) range = std::max(range, std::abs(w));
  if (range == 0) return nullptr;
  const int bins = 81;
  auto counts = [&](const std::vector<double>& w) {
    std::vector<int64_t> c(bins, 0);
    for (double v : w) {
      int b = static_cast<int>(std::floor((v + range) / (2 * range) * bins));
      c[std::clamp(b, 0, bins - 1)]++;
    }
    return c;
  };
  double max_after = 0;
  for (double w : after) max_after = std::max(max_after, std::abs(w));
  nlohmann::json result = {{"layer", worst}, {"bits", bits}, {"ocs_ratio", ratio}, {"range", range},
                           {"bins", bins}, {"before", counts(before)}, {"after", counts(after)},
                           {"max_abs_before", range}, {"max_abs_after", max_after},
                           {"weights_before", before.size()}, {"weights_after", after.size()}};
  for (const LayerPlan& layer : split.plan.layers)
    if (layer.node == worst) {
      result["sqnr_db_before"] = layer.weight_sqnr_db_no_ocs;
      result["sqnr_db_after"] = layer.weight_sqnr_db_ocs.value_or(0.0);
    }
  return result;
}

void fill_from_plan(const QuantizePlan& plan, SweepRow& row) {
  row.size_overhead_percent = plan.size_overhead_percent();
  double sum = 0;
  int n = 0;
  for (const LayerPlan& layer : plan.layers) {
    if (!layer.quantized()) continue;
    row.channels_split += static_cast<int64_t>(layer.channels_split.size());
    // The SQNR of the grid used: per channel, else after OCS, else the model's own weight.
    const double sqnr = layer.weight_sqnr_db_per_channel ? *layer.weight_sqnr_db_per_channel
                        : layer.weight_sqnr_db_ocs       ? *layer.weight_sqnr_db_ocs
                                                         : layer.weight_sqnr_db_no_ocs;
    if (std::isfinite(sqnr)) {
      sum += sqnr;
      ++n;
    }
  }
  row.mean_weight_sqnr_db = n ? sum / n : 0.0;
}

// Runs `work` on `workers` threads (this one included); `work` takes items from `next` until it
// reaches `end`. The first exception stops the others after their current item and is rethrown.
void run_on_workers(int workers, const std::function<void()>& work, std::atomic<size_t>& next, size_t end) {
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto guarded = [&] {
    try {
      work();
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = end;
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(guarded);
  guarded();
  for (std::thread& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

SweepResult run_sweep(const SweepSetup& input_setup, const std::vector<SweepConfig>& configs) {
  auto sweep_start = Clock::now();
  SweepSetup setup = input_setup;
  SweepResult result;
  result.model = setup.model_path;
  const Graph float_graph = import_onnx_file(setup.model_path);
  const int threads = setup.base.threads;

  // Data sources: with reuse, read once and replayed from memory.
  auto open_eval = [&] { return make_sample_source(setup.data, float_graph, setup.limit); };
  auto open_calib = [&]() -> std::unique_ptr<SampleSource> {
    if (setup.base.calib.empty()) return nullptr;
    return make_sample_source(setup.base.calib, float_graph, setup.base.calib_samples);
  };
  std::unique_ptr<SampleSource> eval_source = open_eval();
  if (setup.metrics.empty()) setup.metrics = implied_metrics(*eval_source);
  for (const auto& name : setup.metrics) make_metric(name, setup.metric_options);  // validate names early
  std::unique_ptr<SampleSource> calib_source = open_calib();
  if (setup.reuse) {
    auto t = Clock::now();
    eval_source = std::make_unique<ReplaySource>(*eval_source);
    if (calib_source) calib_source = std::make_unique<ReplaySource>(*calib_source);
    std::cerr << fmt::format("sweep: data read once ({} evaluation samples, {:.1f} MB, {:.1f} s)\n",
                             eval_source->size(),
                             static_cast<ReplaySource&>(*eval_source).bytes() / 1e6, seconds_since(t));
  }

  // The float model: its row, and its outputs when a fidelity metric compares against them.
  std::vector<std::vector<Tensor>> reference;
  auto float_outputs = [&](SampleSource& source) {
    std::vector<std::vector<Tensor>> outs;
    Session session(std::make_shared<const Graph>(float_graph), {false, threads});
    source.rewind();
    while (auto feed = source.next()) outs.push_back(session.run(*feed));
    return outs;
  };
  const bool fidelity = needs_reference(setup.metrics);
  if (fidelity && setup.reuse) reference = float_outputs(*eval_source);
  {
    SweepRow row;
    row.is_float = true;
    row.config.weight_bits = 32;
    row.config.activation_bits = 32;
    row.config.weight_clip = "-";
    row.config.split = "-";
    row.config.index = -1;
    auto t = Clock::now();
    auto own_reference = fidelity && !setup.reuse ? float_outputs(*eval_source) : std::vector<std::vector<Tensor>>{};
    measure(float_graph, *eval_source, threads, setup.reuse ? reference : own_reference, row, setup,
            result.headline_metric, result.higher_is_better);
    row.eval_seconds = seconds_since(t);
    std::cerr << fmt::format("sweep: float: {} {:.4f} ({:.1f} s)\n", result.headline_metric, row.headline, row.eval_seconds);
    result.rows.push_back(row);
  }

  // Configurations run on `workers` threads, each evaluating on one core with its own replay of
  // the data; quantize_model (which shares the calibration cache and source) runs one at a time,
  // overlapping with the others' evaluation. Rows keep the grid's order.
  CalibrationCache cache;
  const int cores = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = setup.reuse ? std::min<int>(cores, static_cast<int>(configs.size())) : 1;
  const int eval_threads = workers > 1 ? 1 : threads;
  std::vector<SweepRow> rows(configs.size());
  std::mutex quantize_mutex, report_mutex;
  std::atomic<size_t> next{0};
  int done = 0;
  auto work = [&] {
    std::unique_ptr<ReplaySource> own_eval;
    if (workers > 1) own_eval = std::make_unique<ReplaySource>(static_cast<const ReplaySource&>(*eval_source));
    for (size_t k; (k = next++) < configs.size();) {
      const SweepConfig& config = configs[k];
      SweepRow& row = rows[k];
      row.config = config;
      QuantizeOptions options = config.apply(setup.base);
      auto t = Clock::now();
      std::unique_ptr<SampleSource> fresh_calib, fresh_eval;
      SampleSource* calib = calib_source.get();
      SampleSource* eval = own_eval ? own_eval.get() : eval_source.get();
      if (!setup.reuse) {
        fresh_calib = open_calib();
        fresh_eval = open_eval();
        calib = fresh_calib.get();
        eval = fresh_eval.get();
      }
      std::optional<QuantizeResult> quantized;
      {
        std::lock_guard<std::mutex> lock(quantize_mutex);
        quantized = quantize_model(float_graph, options, calib, setup.reuse ? &cache : nullptr);
      }
      row.quantize_seconds = seconds_since(t);
      fill_from_plan(quantized->plan, row);
      t = Clock::now();
      std::string headline;
      bool higher = true;
      std::vector<std::vector<Tensor>> own_reference;
      if (!setup.reuse && fidelity) own_reference = float_outputs(*eval);
      measure(quantized->graph, *eval, eval_threads, setup.reuse ? reference : own_reference, row, setup, headline,
              higher);
      row.eval_seconds = seconds_since(t);
      std::lock_guard<std::mutex> lock(report_mutex);
      ++done;
      std::cerr << fmt::format("sweep: {}/{} {}: {} {:.4f}  (+{:.2f}% weights; {:.1f} s + {:.1f} s)\n", done,
                               configs.size(), config.label(), headline, row.headline,
                               row.size_overhead_percent, row.quantize_seconds, row.eval_seconds);
    }
  };
  run_on_workers(workers, work, next, configs.size());
  for (SweepRow& row : rows) result.rows.push_back(std::move(row));
  result.calibrations = cache.misses;
  if (!setup.reuse)
    for (const auto& c : configs) result.calibrations += c.activation_bits > 0 ? 1 : 0;
  if (!configs.empty()) result.histogram = worst_layer_histogram(float_graph, setup, configs);
  result.seconds = seconds_since(sweep_start);
  return result;
}

}  // namespace ocs
