#include "recipe/quantize_cache.h"

#include <cstring>
#include <string_view>

namespace ocs {

std::shared_ptr<const QuantizeCache::Prepared> QuantizeCache::prepared(const std::string& key,
                                                                       const std::function<Prepared()>& make) {
  // One preparation at a time: concurrent first calls for one key would otherwise both prepare.
  std::lock_guard<std::mutex> preparing(prepare_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = prepared_.find(key);
    if (found != prepared_.end()) return found->second;
  }
  auto made = std::make_shared<const Prepared>(make());
  std::lock_guard<std::mutex> lock(mutex_);
  prepared_[key] = made;
  return made;
}

QuantizeCache::ContentKey QuantizeCache::content_key(const Tensor& t) {
  const std::string_view bytes(static_cast<const char*>(t.raw()), t.nbytes());
  return {static_cast<int>(t.dtype()), t.shape(), std::hash<std::string_view>{}(bytes)};
}

bool QuantizeCache::same_contents(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

double QuantizeCache::threshold(const ClipMethod& method, const Tensor& values, int bits) {
  const auto key = std::make_tuple(method.name(), bits, content_key(values));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [tensor, t] : thresholds_[key])
      if (same_contents(tensor, values)) {
        ++threshold_hits_;
        return t;
      }
  }
  // Computed outside the lock (KL on a large weight takes a while); a concurrent miss computes
  // the same value, and either copy serves later calls.
  const double t = method.threshold_of_tensor(values, bits);
  std::lock_guard<std::mutex> lock(mutex_);
  thresholds_[key].emplace_back(values.clone(), t);  // a copy: the caller's tensor may be reused
  return t;
}

OcsNaiveSplit QuantizeCache::naive_split(const Tensor& weight, int64_t axis, int64_t k) {
  const auto key = std::make_tuple(content_key(weight), axis, k);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [tensor, split] : splits_[key])
      if (same_contents(tensor, weight)) {
        ++split_hits_;
        return split;
      }
  }
  OcsNaiveSplit split = ocs_split_naive(weight, axis, k);
  std::lock_guard<std::mutex> lock(mutex_);
  splits_[key].emplace_back(weight.clone(), split);
  return split;
}

int64_t QuantizeCache::threshold_hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threshold_hits_;
}

int64_t QuantizeCache::split_hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return split_hits_;
}

}  // namespace ocs
