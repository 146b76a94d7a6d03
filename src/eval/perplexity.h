// Perplexity of a language model: exp of the mean negative log-likelihood of the target tokens
// under the model's logits, accumulated batch by batch.
#pragma once

#include "core/tensor.h"
#include "eval/metric.h"

#include <cstdint>
#include <memory>

namespace ocs {

class Perplexity {
 public:
  // logits float32 [..., V] (e.g. [N, T, V]) and int64 targets of the leading shape ([N, T]),
  // each in [0, V). The log-softmax is taken in double with the maximum subtracted first.
  void add(const Tensor& logits, const Tensor& targets);
  // Mean NLL (nats per token) and exp of it; 0 and 1 before any token.
  double nll() const { return tokens_ ? nll_sum_ / static_cast<double>(tokens_) : 0.0; }
  double perplexity() const;
  int64_t tokens() const { return tokens_; }

 private:
  double nll_sum_ = 0;
  int64_t tokens_ = 0;
};

// The "perplexity" metric: needs batch_targets() from the data (e.g. kjv:test). Result
// {"perplexity", "nll", "tokens"}; headline = perplexity, lower is better.
std::unique_ptr<Metric> make_perplexity_metric();

}  // namespace ocs
