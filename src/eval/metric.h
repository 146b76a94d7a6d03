// One interface for everything `ocs eval` and `ocs sweep` measure on a model's outputs, batch
// by batch: accuracy against labels (top-k, CER, perplexity) and fidelity against the float
// model's outputs for the same batch.
//
// Usage
//   auto metric = make_metric("top1", {});
//   while (auto feed = source->next()) metric->add({session.run(*feed), {}, *source});
//   std::cout << metric->summary();  json["metrics"].update(metric->result());
#pragma once

#include "core/tensor.h"
#include "data/sample_source.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace ocs {

struct MetricInput {
  const std::vector<Tensor>& outputs;    // the model's outputs for the batch
  const std::vector<Tensor>& reference;  // the float model's outputs (empty without --reference)
  const SampleSource& source;            // labels of the batch: batch_labels/texts/targets
};

class Metric {
 public:
  virtual ~Metric() = default;
  virtual void add(const MetricInput& in) = 0;
  // Flat JSON object of named numbers, e.g. {"top1": 0.92, "top5": 0.99}. Fractions, not percent.
  virtual nlohmann::json result() const = 0;
  // One line for the terminal.
  virtual std::string summary() const = 0;
  // The number that `ocs sweep` reports for this metric, and whether higher is better.
  virtual double headline() const = 0;
  virtual bool higher_is_better() const { return true; }
};

struct MetricOptions {
  std::string keys_file;  // CTC character list, one per line (text recognition)
};

// Names: "top1" (top-1 and top-5 accuracy), "fidelity" (SQNR, cosine, top-1 agreement vs the
// reference outputs), "perplexity" (language models: exp mean NLL of the data's target
// tokens, lower is better). UserError listing the known names otherwise.
std::unique_ptr<Metric> make_metric(const std::string& name, const MetricOptions& options);
// The metrics the labels of the batch `source` last returned imply: top1 for classes, cer for
// texts, perplexity for target tokens (empty for unlabelled data).
std::vector<std::string> metrics_for_labels(const SampleSource& source);

// The names make_metric knows, for help texts and errors.
std::vector<std::string> metric_names();

}  // namespace ocs
