#include "commands.h"
#include "core/progress.h"
#include "engine/session.h"
#include "eval/metrics.h"
#include "eval/sample_source.h"
#include "onnx/onnx_io.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

namespace ocs::cli {

Action add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Measure a model's accuracy on labelled data, or its "
                                         "fidelity to a float reference model");
  struct Options {
    std::string model;
    std::vector<std::string> data;
    std::string reference;
    int64_t limit = 10000;
    int threads = 0;
    std::string json;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("model", opt->model, "ONNX model (float or quantized)")->required();
  cmd->add_option("--data", opt->data, "fashion-mnist:test, FILE.npz or NAME=FILE.npy")->required();
  cmd->add_option("--reference", opt->reference, "float model to measure fidelity against (SQNR, cosine, top-1 agreement)");
  cmd->add_option("--limit", opt->limit, "at most this many samples")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", opt->threads, "threads (default: all cores)");
  cmd->add_option("--json", opt->json, "also write the results as JSON");
  return [opt]() {
    auto graph = std::make_shared<const Graph>(import_onnx_file(opt->model));
    auto source = make_sample_source(opt->data, *graph, opt->limit);
    Session session(graph, {false, opt->threads});
    std::unique_ptr<Session> reference;
    if (!opt->reference.empty())
      reference = std::make_unique<Session>(std::make_shared<const Graph>(import_onnx_file(opt->reference)),
                                            SessionOptions{false, opt->threads});
    TopKAccuracy accuracy;
    Fidelity fidelity;
    auto start = std::chrono::steady_clock::now();
    int64_t done = 0;
    Progress progress("eval", source->size());
    while (auto feed = source->next()) {
      auto out = session.run(*feed);
      if (const auto* labels = source->batch_labels()) accuracy.add(out.at(0), *labels);
      if (reference) fidelity.add(reference->run(*feed).at(0), out.at(0));
      done += feed->begin()->second.dim(0);
      progress.update(done);
    }
    progress.finish();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json result = {{"model", opt->model}, {"samples", done}, {"seconds", seconds}};
    if (accuracy.count()) {
      result["top1"] = accuracy.top1();
      result["top5"] = accuracy.top5();
      std::cout << fmt::format("top-1 {:.2f}%  top-5 {:.2f}%  ({} samples)\n", 100 * accuracy.top1(),
                               100 * accuracy.top5(), accuracy.count());
    }
    if (reference) {
      result["sqnr_db"] = fidelity.sqnr_db();
      result["cosine"] = fidelity.cosine();
      result["top1_agreement"] = fidelity.top1_agreement();
      std::cout << fmt::format("fidelity vs {}: SQNR {:.2f} dB  cosine {:.6f}  top-1 agreement {:.2f}%\n",
                               opt->reference, fidelity.sqnr_db(), fidelity.cosine(),
                               100 * fidelity.top1_agreement());
    }
    if (!accuracy.count() && !reference)
      user_error("the data has no labels; give --reference FLOAT.onnx to measure fidelity instead");
    if (!opt->json.empty()) {
      std::ofstream out(opt->json);
      if (!out) user_error("cannot write '{}'", opt->json);
      out << result.dump(2) << "\n";
    }
    return 0;
  };
}

}  // namespace ocs::cli
