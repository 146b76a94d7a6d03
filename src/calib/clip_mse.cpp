// mse: the reference's definition (docs/METHOD.md, "Clip methods"). A histogram of the signed
// values with 201 equal bins over [min x, max x], normalised to sum 1; candidates
// t = a * max|x| for a = 0.01, 0.02, ..., 0.99 (1.0 is never tried: mse always clips); the cost
// of quant_error.h's histogram_clip_cost; the first smallest cost wins.
// Weights read every value (exact); activations the re-binned streaming histogram
// (value_distribution.h). Our finer variant is `mse-fine` (clip_mse_fine.cpp).
#include "calib/clip_method.h"
#include "calib/quant_error.h"
#include "calib/value_distribution.h"

#include "core/error.h"

namespace ocs {

namespace {

constexpr int64_t kBins = 201;
constexpr int kCandidates = 99;  // a = k / 100, k = 1..99

double mse_threshold(const ValueDistribution& values, int bits) {
  check_clip_bits(bits);
  OCS_CHECK(values.count() > 0, "clip threshold of a tensor that was never observed");
  const double max_abs = values.max_abs();
  if (max_abs == 0.0) return 0.0;
  double lo = values.min(), hi = values.max();
  if (lo == hi) lo -= 0.5, hi += 0.5;  // numpy.histogram's range for a constant tensor
  std::vector<double> p = values.histogram(kBins, lo, hi);
  double total = 0.0;
  for (double c : p) total += c;
  for (double& c : p) c /= total;
  const std::vector<double> centres = bin_centres(ValueDistribution::edges(kBins, lo, hi));
  double best_t = 0.0, best_cost = 0.0;
  for (int k = 1; k <= kCandidates; ++k) {
    const double t = static_cast<double>(k) / 100.0 * max_abs;
    const double cost = histogram_clip_cost(centres, p, t, bits);
    if (k == 1 || cost < best_cost) best_t = t, best_cost = cost;
  }
  return best_t;
}

class ClipMse : public ClipMethod {
 public:
  std::string name() const override { return "mse"; }
  StatsNeeds needs() const override { return StatsNeeds{false, false, true}; }
  double threshold(const TensorStats& stats, int bits) const override {
    return mse_threshold(StreamedValues(stats), bits);
  }
  double threshold_of_tensor(const Tensor& values, int bits) const override {
    return mse_threshold(TensorValues(values), bits);
  }
};

}  // namespace

std::unique_ptr<ClipMethod> make_clip_mse() { return std::make_unique<ClipMse>(); }

}  // namespace ocs
