#include "commands.h"
#include "core/progress.h"
#include "engine/session.h"
#include "eval/layer_fidelity.h"
#include "eval/metric.h"
#include "eval/sample_source_spec.h"
#include "eval/wav_source.h"
#include "io/atomic_file.h"
#include "onnx/onnx_io.h"

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

namespace ocs::cli {
namespace {

// The metrics a dataset implies when the user names none: its kind of labels, plus fidelity
// when a reference model is given.
std::vector<std::string> default_metrics(const SampleSource& source, bool has_reference) {
  std::vector<std::string> names = metrics_for_labels(source);
  if (has_reference) names.push_back("fidelity");
  if (names.empty())
    user_error("the data has no labels; give --reference FLOAT.onnx to measure fidelity instead");
  return names;
}

}  // namespace

Action add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Measure a model's accuracy on labelled data, or its "
                                         "fidelity to a float reference model");
  struct Options {
    std::string model;
    std::vector<std::string> data;
    std::vector<std::string> metrics;
    std::string keys;
    std::string reference;
    int64_t limit = 10000;
    int threads = 0;
    std::string json;
    bool per_layer = false;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("model", opt->model, "ONNX model (float or quantized)")->required();
  cmd->add_option("--data", opt->data, "fashion-mnist:test|train, FILE.npz[,axis=NAME:K|none], NAME=FILE.npy[,axis=K|none] (samples on axis 0 by default), images:DIR[,resize=S,crop=C,mean=a/b/c,std=a/b/c,bgr,gray,classes=FILE], text-lines:DIR[,width=W], kjv:train|valid|test[,vocab=FILE] or wav:FILE[,chunk=512,state=IN:OUT,fix=NAME:VALUE]")->required();
  cmd->add_option("--metric", opt->metrics,
                  fmt::format("what to measure (repeatable): {} (default: what the data's labels allow, "
                              "and fidelity with --reference)", fmt::join(metric_names(), ", ")));
  cmd->add_option("--keys", opt->keys, "character list of a CTC text recognizer, one per line (metric cer)");
  cmd->add_option("--reference", opt->reference, "float model to measure fidelity against (SQNR, cosine, top-1 agreement)");
  cmd->add_option("--limit", opt->limit, "at most this many samples")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", opt->threads, "threads (default: all cores)");
  cmd->add_option("--json", opt->json, "also write the results as JSON");
  cmd->add_flag("--per-layer", opt->per_layer, "with --reference: SQNR of every Conv/Gemm/MatMul output against the float "
                                               "model's same-named value (where accuracy is lost; slower)");
  return [opt]() {
    auto graph = std::make_shared<const Graph>(import_onnx_file(opt->model));
    auto source = make_sample_source(opt->data, *graph, opt->limit);
    Session session(graph, {false, opt->threads});
    std::unique_ptr<Session> reference;
    if (!opt->reference.empty())
      reference = std::make_unique<Session>(std::make_shared<const Graph>(import_onnx_file(opt->reference)),
                                            SessionOptions{false, opt->threads});
    std::unique_ptr<LayerFidelity> layer_fidelity;
    if (opt->per_layer) {
      if (!reference) user_error("--per-layer compares with the float model: give --reference FLOAT.onnx");
      layer_fidelity = std::make_unique<LayerFidelity>(reference->graph(), session.graph());
      if (layer_fidelity->watched() == 0)
        user_error("--per-layer: no Conv/Gemm/MatMul output of '{}' has a same-named value in '{}'", opt->model,
                   opt->reference);
    }
    MetricOptions metric_options{opt->keys};
    std::vector<std::unique_ptr<Metric>> metrics;
    for (const auto& name : opt->metrics) metrics.push_back(make_metric(name, metric_options));
    // The data is made for the evaluated model; the reference may still take inputs that a
    // --fix-input turned into constants there (wav: fix=sr:16000), or no longer take them.
    const auto fixed = wav_fixed_inputs(opt->data);
    auto start = std::chrono::steady_clock::now();
    int64_t done = 0;
    Progress progress("eval", source->size());
    while (auto feed = source->next()) {
      if (metrics.empty())
        for (const auto& name : default_metrics(*source, reference != nullptr))
          metrics.push_back(make_metric(name, metric_options));
      std::vector<Tensor> ref_out;
      if (reference)
        ref_out = reference->run(feed_for_model(reference->graph(), *feed, fixed),
                                 layer_fidelity ? layer_fidelity->reference_observer() : Observer());
      auto out = session.run(*feed, layer_fidelity ? layer_fidelity->quantized_observer() : Observer());
      for (auto& metric : metrics) metric->add({out, ref_out, *source});
      done += source->samples_in(*feed);
      progress.update(done);
    }
    progress.finish();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json result = {{"model", opt->model}, {"samples", done}, {"seconds", seconds}};
    for (const auto& metric : metrics) {
      result.update(metric->result());
      std::cout << metric->summary() << "\n";
    }
    if (layer_fidelity) {
      result["layers"] = layer_fidelity->result();
      std::cout << layer_fidelity->table();
    }
    if (!opt->json.empty()) {
      write_file_atomically(opt->json, [&](std::ofstream& out) { out << result.dump(2) << "\n"; });
    }
    return 0;
  };
}

}  // namespace ocs::cli
