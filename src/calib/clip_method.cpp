#include "calib/clip_method.h"

#include "core/error.h"

#include <cstdlib>

namespace ocs {

ClipMethod::~ClipMethod() = default;

double ClipMethod::threshold_of_tensor(const Tensor& values, int bits) const {
  return threshold(stats_of_tensor(values, kNoChannelAxis, kDefaultHistogramBins, 0), bits);
}

void check_clip_bits(int bits) {
  if (bits < kMinClipBits || bits > kMaxClipBits)
    user_error("bit width {} is out of range: clip thresholds are computed for {} to {} bits", bits,
               kMinClipBits, kMaxClipBits);
}

std::unique_ptr<ClipMethod> make_clip_method(const std::string& spec) {
  if (spec == "max") return make_clip_max();
  if (spec == "mse") return make_clip_mse();
  if (spec == "aciq") return make_clip_aciq();
  if (spec == "kl") return make_clip_kl();
  if (spec == "mse-fine") return make_clip_mse_fine();
  if (spec == "aciq-std") return make_clip_aciq_std();
  if (spec == "kl-nonzero") return make_clip_kl_nonzero();
  if (spec == "percentile") return make_clip_percentile(99.99);
  const std::string prefix = "percentile:";
  if (spec.rfind(prefix, 0) == 0) {
    const std::string number = spec.substr(prefix.size());
    char* end = nullptr;
    const double percent = number.empty() ? 0.0 : std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size())
      user_error("clip method '{}': '{}' is not a number (write e.g. percentile:99.99)", spec,
                 number);
    return make_clip_percentile(percent);
  }
  user_error("unknown clip method '{}': valid are max, mse, aciq, kl, mse-fine, aciq-std, "
             "kl-nonzero, percentile, percentile:P (0 < P <= 100)", spec);
}

}  // namespace ocs
