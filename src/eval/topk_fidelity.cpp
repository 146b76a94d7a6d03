#include "eval/topk_fidelity.h"

#include <cmath>
#include <limits>

namespace ocs {

void TopKAccuracy::add(const Tensor& logits, const std::vector<int64_t>& labels) {
  if (logits.rank() != 2 || logits.dim(0) != static_cast<int64_t>(labels.size()))
    user_error("top-k accuracy needs logits of shape [N, classes] for N = {} labels; the model "
               "gives {}", labels.size(), shape_str(logits.shape()));
  const int64_t classes = logits.dim(1);
  const auto values = logits.to_double_vector();
  for (int64_t n = 0; n < logits.dim(0); ++n) {
    const double* row = values.data() + n * classes;
    const int64_t label = labels[n];
    if (label < 0 || label >= classes)
      user_error("label {} of sample {} is outside the model's {} classes", label, n, classes);
    // Rank of the true class: the number of classes scoring higher, or equal with a lower index.
    int64_t rank = 0, best = 0;
    for (int64_t c = 0; c < classes; ++c) {
      if (row[c] > row[label] || (row[c] == row[label] && c < label)) ++rank;
      if (row[c] > row[best]) best = c;
    }
    top1_ += rank == 0;
    top5_ += rank < 5;
    predictions_.push_back(best);
    ++count_;
  }
}

void Fidelity::add(const Tensor& reference, const Tensor& output) {
  if (reference.shape() != output.shape())
    user_error("fidelity: output shape {} differs from the reference's {}", shape_str(output.shape()),
               shape_str(reference.shape()));
  const auto r = reference.to_double_vector();
  const auto o = output.to_double_vector();
  for (size_t i = 0; i < r.size(); ++i) {
    signal_ += r[i] * r[i];
    noise_ += (r[i] - o[i]) * (r[i] - o[i]);
    dot_ += r[i] * o[i];
    ref_sq_ += r[i] * r[i];
    out_sq_ += o[i] * o[i];
    // NaN in either side makes the difference NaN, and NaN must show, not be dropped by max.
    const double diff = std::fabs(r[i] - o[i]);
    if (!(diff <= max_abs_diff_)) max_abs_diff_ = diff;
  }
  if (reference.rank() >= 2 && reference.dim(reference.rank() - 1) > 1) {
    const int64_t classes = reference.dim(reference.rank() - 1);
    const int64_t rows = reference.numel() / classes;
    for (int64_t n = 0; n < rows; ++n) {
      int64_t best_r = 0, best_o = 0;
      for (int64_t c = 1; c < classes; ++c) {
        if (r[n * classes + c] > r[n * classes + best_r]) best_r = c;
        if (o[n * classes + c] > o[n * classes + best_o]) best_o = c;
      }
      agree_ += best_r == best_o;
      ++rows_;
    }
  }
}

double Fidelity::sqnr_db() const {
  if (noise_ == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal_ / noise_);
}

double Fidelity::cosine() const {
  if (ref_sq_ == 0 || out_sq_ == 0) return 0.0;
  return dot_ / std::sqrt(ref_sq_ * out_sq_);
}

}  // namespace ocs
