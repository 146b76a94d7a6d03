// aciq-std: our variant of ACIQ (docs/METHOD.md), see clip_aciq.h.
#include "calib/clip_aciq.h"

#include "calib/clip_method.h"
#include "calib/quant_error.h"
#include "core/error.h"

#include <algorithm>

namespace ocs {

AciqChoice aciq_std_choose(const TensorStats& stats, int bits) {
  check_clip_bits(bits);
  OCS_CHECK(stats.count() > 0, "clip threshold of a tensor that was never observed");
  AciqChoice choice;
  const double max_abs = stats.max_abs();
  if (max_abs == 0.0) return choice;  // all zero: t = 0
  auto usable = [max_abs](double t) { return t > 0.0 ? std::min(t, max_abs) : max_abs; };
  choice.gaussian_threshold = usable(aciq_gaussian_alpha(bits) * stats.stddev());
  choice.laplace_threshold = usable(aciq_laplace_beta(bits) * stats.mean_abs_deviation());
  choice.gaussian_mse = histogram_quantization_mse(stats.histogram(), choice.gaussian_threshold, bits);
  choice.laplace_mse = histogram_quantization_mse(stats.histogram(), choice.laplace_threshold, bits);
  choice.laplace = choice.laplace_mse < choice.gaussian_mse;
  choice.threshold = choice.laplace ? choice.laplace_threshold : choice.gaussian_threshold;
  return choice;
}

namespace {

class ClipAciq : public ClipMethod {
 public:
  std::string name() const override { return "aciq-std"; }
  StatsNeeds needs() const override { return StatsNeeds{true, true, false}; }
  double threshold(const TensorStats& stats, int bits) const override {
    return aciq_std_choose(stats, bits).threshold;
  }
};

}  // namespace

std::unique_ptr<ClipMethod> make_clip_aciq_std() { return std::make_unique<ClipAciq>(); }

}  // namespace ocs
