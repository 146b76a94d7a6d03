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
#include <future>
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
                                     const std::vector<SweepConfig>& configs, QuantizeCache* cache) {
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
  QuantizeResult split = quantize_model(float_graph, options, nullptr, cache);
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
  const Graph folded = quantize_model(float_graph, options, nullptr, cache).graph;
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

// The float model's outputs on `source`, per batch (for fidelity metrics).
std::vector<std::vector<Tensor>> float_outputs(const Graph& float_graph, SampleSource& source, int threads) {
  std::vector<std::vector<Tensor>> outs;
  Session session(std::make_shared<const Graph>(float_graph), {false, threads});
  source.rewind();
  while (auto feed = source.next()) outs.push_back(session.run(*feed));
  return outs;
}

// What the jobs of one sweep share: the model, the data, the float outputs, the cache.
struct SweepState {
  SweepState(const SweepSetup& s, const std::vector<SweepConfig>& c)
      : setup(s), configs(c), float_graph(import_onnx_file(s.model_path)) {}
  const SweepSetup& setup;
  const std::vector<SweepConfig>& configs;
  const Graph float_graph;
  std::unique_ptr<SampleSource> eval_source;          // replayed from memory with reuse
  std::shared_future<std::shared_ptr<SampleSource>> calib_source;  // read in the background
  std::vector<std::vector<Tensor>> reference;         // float outputs, when reused and needed
  bool fidelity = false;
  QuantizeCache cache;
  std::string headline_metric;
  bool higher_is_better = true;  // written by the float row's job only

  std::unique_ptr<SampleSource> open_eval() const { return make_sample_source(setup.data, float_graph, setup.limit); }
  std::unique_ptr<SampleSource> open_calib() const {
    if (setup.base.calib.empty()) return nullptr;
    return make_sample_source(setup.base.calib, float_graph, setup.base.calib_samples);
  }
};

// Reads the data: the evaluation data now (its labels decide the metrics), the calibration data
// in the background, overlapping the float model's evaluation. With reuse, both are read once
// and replayed from memory.
void open_data(SweepState& s, SweepSetup& setup) {
  auto t = Clock::now();
  const bool reuse = setup.reuse;
  s.calib_source = std::async(std::launch::async, [&s, reuse]() -> std::shared_ptr<SampleSource> {
                     std::unique_ptr<SampleSource> calib = s.open_calib();
                     if (calib && reuse) return std::make_shared<ReplaySource>(*calib);
                     return calib;
                   }).share();
  s.eval_source = s.open_eval();
  if (setup.metrics.empty()) setup.metrics = implied_metrics(*s.eval_source);
  for (const auto& name : setup.metrics) make_metric(name, setup.metric_options);  // validate names early
  if (!reuse) return;
  s.eval_source = std::make_unique<ReplaySource>(*s.eval_source);
  std::cerr << fmt::format("sweep: data read once ({} evaluation samples, {:.1f} MB, {:.1f} s)\n",
                           s.eval_source->size(), static_cast<ReplaySource&>(*s.eval_source).bytes() / 1e6,
                           seconds_since(t));
}

SweepRow float_row(SweepState& s, SampleSource& eval, int threads) {
  SweepRow row;
  row.is_float = true;
  row.config.weight_bits = 32;
  row.config.activation_bits = 32;
  row.config.weight_clip = "-";
  row.config.split = "-";
  row.config.index = -1;
  auto t = Clock::now();
  auto own_reference = s.fidelity && !s.setup.reuse ? float_outputs(s.float_graph, eval, threads)
                                                     : std::vector<std::vector<Tensor>>{};
  std::string headline;  // setup.metrics.front(), known before the jobs start
  measure(s.float_graph, eval, threads, s.setup.reuse ? s.reference : own_reference, row, s.setup, headline,
          s.higher_is_better);
  row.eval_seconds = seconds_since(t);
  return row;
}

// Quantizes and measures configuration `k`; with reuse, concurrently with the other workers
// (the cache serializes what reads the calibration data).
SweepRow config_row(SweepState& s, size_t k, SampleSource& eval, int threads) {
  const SweepConfig& config = s.configs[k];
  SweepRow row;
  row.config = config;
  auto t = Clock::now();
  std::unique_ptr<SampleSource> fresh_calib;
  SampleSource* calib = nullptr;
  if (s.setup.reuse) {
    calib = s.calib_source.get().get();
  } else {
    fresh_calib = s.open_calib();
    calib = fresh_calib.get();
  }
  const QuantizeResult quantized =
      quantize_model(s.float_graph, config.apply(s.setup.base), calib, s.setup.reuse ? &s.cache : nullptr);
  row.quantize_seconds = seconds_since(t);
  fill_from_plan(quantized.plan, row);
  t = Clock::now();
  std::string headline;
  bool higher = true;
  std::vector<std::vector<Tensor>> own_reference;
  if (!s.setup.reuse && s.fidelity) own_reference = float_outputs(s.float_graph, eval, threads);
  measure(quantized.graph, eval, threads, s.setup.reuse ? s.reference : own_reference, row, s.setup, headline, higher);
  row.eval_seconds = seconds_since(t);
  return row;
}

}  // namespace

SweepResult run_sweep(const SweepSetup& input_setup, const std::vector<SweepConfig>& configs) {
  auto sweep_start = Clock::now();
  SweepSetup setup = input_setup;
  SweepState s(setup, configs);
  SweepResult result;
  result.model = setup.model_path;
  const int threads = setup.base.threads;
  open_data(s, setup);
  s.headline_metric = setup.metrics.front();
  s.fidelity = needs_reference(setup.metrics);
  if (s.fidelity && setup.reuse) s.reference = float_outputs(s.float_graph, *s.eval_source, threads);

  // Jobs: the float row (job 0), then one per configuration, on `workers` threads. Each worker
  // evaluates on one core with its own replay of the data; quantization runs concurrently too
  // (QuantizeCache). Without reuse every job starts from the files, one at a time. Rows keep the
  // grid's order.
  const int cores = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = setup.reuse ? std::min<int>(cores, static_cast<int>(configs.size()) + 1) : 1;
  const int eval_threads = workers > 1 ? 1 : threads;
  std::vector<SweepRow> rows(configs.size() + 1);
  std::mutex report_mutex;
  std::atomic<size_t> next{0};
  size_t done = 0;
  auto work = [&] {
    std::unique_ptr<ReplaySource> own_eval;
    if (workers > 1) own_eval = std::make_unique<ReplaySource>(static_cast<const ReplaySource&>(*s.eval_source));
    std::unique_ptr<SampleSource> fresh_eval;
    for (size_t job; (job = next++) < rows.size();) {
      if (!setup.reuse) fresh_eval = s.open_eval();
      SampleSource& eval = own_eval ? *own_eval : fresh_eval ? *fresh_eval : *s.eval_source;
      SweepRow& row = rows[job] =
          job == 0 ? float_row(s, eval, eval_threads) : config_row(s, job - 1, eval, eval_threads);
      std::lock_guard<std::mutex> lock(report_mutex);
      if (job == 0) {
        std::cerr << fmt::format("sweep: float: {} {:.4f} ({:.1f} s)\n", s.headline_metric, row.headline,
                                 row.eval_seconds);
        continue;
      }
      std::cerr << fmt::format("sweep: {}/{} {}: {} {:.4f}  (+{:.2f}% weights; {:.1f} s + {:.1f} s)\n", ++done,
                               configs.size(), row.config.label(), s.headline_metric, row.headline,
                               row.size_overhead_percent, row.quantize_seconds, row.eval_seconds);
    }
  };
  run_on_workers(workers, work, next, rows.size());
  result.headline_metric = s.headline_metric;
  result.higher_is_better = s.higher_is_better;
  result.rows = std::move(rows);
  result.calibrations = s.cache.misses;
  if (!setup.reuse)
    for (const auto& c : configs) result.calibrations += c.activation_bits > 0 ? 1 : 0;
  if (!configs.empty())
    result.histogram = worst_layer_histogram(s.float_graph, setup, configs, setup.reuse ? &s.cache : nullptr);
  result.seconds = seconds_since(sweep_start);
  return result;
}

}  // namespace ocs
