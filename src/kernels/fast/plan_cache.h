// The per-configuration plan cache every oneDNN kernel keeps: a fast kernel is created once per
// node and, the first time it meets a configuration (input shapes, memory descs, a recurrent
// problem size), builds a plan (primitive, staging buffers, weights in the primitive's layout)
// that later runs reuse.
//
// Contract
//  - get(key, build): the plan for `key`; build() (returning std::optional<Plan>) runs only the
//    first time a key is seen. A configuration outside the fast path (build() returned nullopt)
//    is remembered too, so it is not retried: get then returns nullptr and the caller falls back.
//  - Plans live as long as the cache, at a fixed address (std::map nodes never move).
//  - Hold lock() for as long as a plan is used, not only for get(): plans own staging buffers and
//    primitives that one run at a time may use, so a kernel runs one call at a time.
//  - If build() throws, nothing is stored and the exception propagates.
#pragma once

#include <map>
#include <mutex>
#include <optional>

namespace ocs {

template <typename Key, typename Plan>
class PlanCache {
 public:
  [[nodiscard]] std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mutex_); }

  template <typename Build>
  Plan* get(const Key& key, Build&& build) {
    auto it = plans_.find(key);
    if (it == plans_.end()) it = plans_.emplace(key, std::forward<Build>(build)()).first;
    return it->second ? &*it->second : nullptr;
  }

 private:
  std::mutex mutex_;
  std::map<Key, std::optional<Plan>> plans_;
};

}  // namespace ocs
