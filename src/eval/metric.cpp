#include "eval/metric.h"

#include "core/error.h"
#include "core/option_names.h"
#include "eval/topk_fidelity.h"
#include "eval/perplexity.h"
#include "eval/text_metrics.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <map>

namespace ocs {
namespace {

class TopKMetric : public Metric {
 public:
  void add(const MetricInput& in) override {
    const auto* labels = in.source.batch_labels();
    if (!labels)
      user_error("metric top1 needs class labels, but the data has none (use {} and the fidelity metric)",
                 option_name("--reference"));
    accuracy_.add(in.outputs.at(0), *labels);
  }
  nlohmann::json result() const override {
    return {{"top1", accuracy_.top1()}, {"top5", accuracy_.top5()}, {"samples", accuracy_.count()}};
  }
  std::string summary() const override {
    return fmt::format("top-1 {:.2f}%  top-5 {:.2f}%  ({} samples)", 100 * accuracy_.top1(),
                       100 * accuracy_.top5(), accuracy_.count());
  }
  double headline() const override { return accuracy_.top1(); }

 private:
  TopKAccuracy accuracy_;
};

class FidelityMetric : public Metric {
 public:
  void add(const MetricInput& in) override {
    if (in.reference.empty()) user_error("metric fidelity needs a float reference model ({} FLOAT.onnx)", option_name("--reference"));
    fidelity_.add(in.reference.at(0), in.outputs.at(0));
  }
  nlohmann::json result() const override {
    nlohmann::json out = {{"sqnr_db", fidelity_.sqnr_db()}, {"cosine", fidelity_.cosine()},
                          {"max_abs_diff", fidelity_.max_abs_diff()}};
    // Absent for outputs of one value per row (no argmax to agree on): the values are numbers.
    if (fidelity_.top1_defined()) out["top1_agreement"] = fidelity_.top1_agreement();
    return out;
  }
  std::string summary() const override {
    const std::string top1 = fidelity_.top1_defined()
                                 ? fmt::format("top-1 agreement {:.2f}%", 100 * fidelity_.top1_agreement())
                                 : "top-1 agreement n/a (one value per row)";
    return fmt::format("fidelity: SQNR {:.2f} dB  cosine {:.6f}  max |diff| {:.4g}  {}", fidelity_.sqnr_db(),
                       fidelity_.cosine(), fidelity_.max_abs_diff(), top1);
  }
  double headline() const override { return fidelity_.sqnr_db(); }

 private:
  Fidelity fidelity_;
};

using Factory = std::function<std::unique_ptr<Metric>(const MetricOptions&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"top1", [](const MetricOptions&) { return std::make_unique<TopKMetric>(); }},
      {"fidelity", [](const MetricOptions&) { return std::make_unique<FidelityMetric>(); }},
      {"perplexity", [](const MetricOptions&) { return make_perplexity_metric(); }},
      {"cer", make_cer_metric},
  };
  return table;
}

}  // namespace

std::vector<std::string> metrics_for_labels(const SampleSource& source) {
  std::vector<std::string> names;
  if (source.batch_labels()) names.push_back("top1");
  if (source.batch_texts()) names.push_back("cer");
  if (source.batch_targets()) names.push_back("perplexity");
  return names;
}

std::vector<std::string> metric_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

std::unique_ptr<Metric> make_metric(const std::string& name, const MetricOptions& options) {
  auto it = factories().find(name);
  if (it == factories().end())
    user_error("unknown metric '{}'; known: {}", name, fmt::join(metric_names(), ", "));
  return it->second(options);
}

}  // namespace ocs
