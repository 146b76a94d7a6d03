// max: no clipping, t = max|x| (the grid covers the largest magnitude seen).
#include "calib/clip_method.h"

#include "core/error.h"

namespace ocs {

namespace {

class ClipMax : public ClipMethod {
 public:
  std::string name() const override { return "max"; }
  StatsNeeds needs() const override { return StatsNeeds::none(); }
  double threshold(const TensorStats& stats, int bits) const override {
    check_clip_bits(bits);
    OCS_CHECK(stats.count() > 0, "clip threshold of a tensor that was never observed");
    return stats.max_abs();
  }
};

}  // namespace

std::unique_ptr<ClipMethod> make_clip_max() { return std::make_unique<ClipMax>(); }

}  // namespace ocs
