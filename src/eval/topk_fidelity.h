// Top-1/top-5 accuracy and fidelity against the float model (the accumulators behind the "top1" and
// "fidelity" metrics of eval/metric.h), accumulated batch by batch.
#pragma once

#include "core/tensor.h"

#include <cstdint>
#include <vector>

namespace ocs {

// Top-1 / top-5 accuracy of logits [N, C] against labels. Ties go to the lower class index
// (as argmax does in NumPy and PyTorch).
class TopKAccuracy {
 public:
  void add(const Tensor& logits, const std::vector<int64_t>& labels);
  double top1() const { return count_ ? static_cast<double>(top1_) / count_ : 0.0; }
  double top5() const { return count_ ? static_cast<double>(top5_) / count_ : 0.0; }
  int64_t count() const { return count_; }
  // Predicted class of each sample seen so far (for comparing two engines sample by sample).
  const std::vector<int64_t>& predictions() const { return predictions_; }

 private:
  int64_t count_ = 0, top1_ = 0, top5_ = 0;
  std::vector<int64_t> predictions_;
};

// Fidelity of an output against the float model's output for the same input, for models
// without labels: SQNR (dB) = 10 log10(sum ref^2 / sum (ref - out)^2), cosine similarity, the
// largest |ref - out|, and top-1 agreement of the argmax over the last axis (each row of [N, C],
// each step of [N, T, C]). An output with one value per row (a score, a probability: last axis
// of 1, or rank < 2) has no argmax to agree on: top-1 agreement is then not defined
// (top1_defined() is false) and SQNR and the largest difference are what measure fidelity.
class Fidelity {
 public:
  void add(const Tensor& reference, const Tensor& output);
  double sqnr_db() const;
  double cosine() const;
  double max_abs_diff() const { return max_abs_diff_; }
  bool top1_defined() const { return rows_ > 0; }
  double top1_agreement() const { return rows_ ? static_cast<double>(agree_) / rows_ : 0.0; }

 private:
  double signal_ = 0, noise_ = 0, dot_ = 0, ref_sq_ = 0, out_sq_ = 0, max_abs_diff_ = 0;
  int64_t rows_ = 0, agree_ = 0;
};

}  // namespace ocs
