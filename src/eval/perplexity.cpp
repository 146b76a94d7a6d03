#include "eval/perplexity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ocs {

void Perplexity::add(const Tensor& logits, const Tensor& targets) {
  if (logits.dtype() != DType::Float32)
    user_error("perplexity needs float32 logits, got {}", dtype_name(logits.dtype()));
  if (targets.dtype() != DType::Int64)
    user_error("perplexity needs int64 target tokens, got {}", dtype_name(targets.dtype()));
  // logits = targets' shape + [V].
  const Shape& shape = logits.shape();
  if (logits.rank() != targets.rank() + 1 ||
      !std::equal(targets.shape().begin(), targets.shape().end(), shape.begin()))
    user_error("perplexity: logits {} do not match targets {} (expected the targets' shape plus "
               "a vocabulary axis)", shape_str(shape), shape_str(targets.shape()));
  const int64_t vocab = shape.back();
  if (vocab <= 0) user_error("perplexity: logits {} have an empty vocabulary axis", shape_str(shape));
  const float* rows = logits.data<float>();
  const int64_t* target = targets.data<int64_t>();
  for (int64_t r = 0; r < targets.numel(); ++r) {
    const float* row = rows + r * vocab;
    const int64_t t = target[r];
    if (t < 0 || t >= vocab)
      user_error("perplexity: target token {} is outside the model's vocabulary of {}", t, vocab);
    // -log softmax(row)[t] = log(sum_j exp(row_j - max)) + max - row_t; the terms exp(.) lie in
    // (0, 1], so the sum is in [1, V] and never overflows.
    const double max = *std::max_element(row, row + vocab);
    double sum = 0;
    for (int64_t j = 0; j < vocab; ++j) sum += std::exp(static_cast<double>(row[j]) - max);
    nll_sum_ += std::log(sum) + max - static_cast<double>(row[t]);
  }
  tokens_ += targets.numel();
}

double Perplexity::perplexity() const { return std::exp(nll()); }

namespace {

class PerplexityMetric : public Metric {
 public:
  void add(const MetricInput& in) override {
    const Tensor* targets = in.source.batch_targets();
    if (!targets) user_error("metric perplexity needs target tokens, but the data has none (use e.g. kjv:test)");
    perplexity_.add(in.outputs.at(0), *targets);
  }
  nlohmann::json result() const override {
    return {{"perplexity", perplexity_.perplexity()}, {"nll", perplexity_.nll()}, {"tokens", perplexity_.tokens()}};
  }
  std::string summary() const override {
    return fmt::format("perplexity {:.4f}  (NLL {:.6f} nats/token, {} tokens)", perplexity_.perplexity(),
                       perplexity_.nll(), perplexity_.tokens());
  }
  double headline() const override { return perplexity_.perplexity(); }
  bool higher_is_better() const override { return false; }

 private:
  Perplexity perplexity_;
};

}  // namespace

std::unique_ptr<Metric> make_perplexity_metric() { return std::make_unique<PerplexityMetric>(); }

}  // namespace ocs
