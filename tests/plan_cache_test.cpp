// PlanCache (kernels/fast/plan_cache.h): a plan is built once per key, a declined key is
// remembered (not rebuilt), and plans keep their address while other keys are added.
#include "kernels/fast/plan_cache.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>

namespace ocs {
namespace {

TEST(PlanCache, BuildsEachKeyOnceAndRemembersDeclinedKeys) {
  PlanCache<int, std::string> cache;
  int builds = 0;
  auto build = [&](int key) {
    return [&builds, key] {
      ++builds;
      return key < 0 ? std::nullopt : std::optional<std::string>("plan " + std::to_string(key));
    };
  };
  const auto lock = cache.lock();
  std::string* first = cache.get(1, build(1));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(*first, "plan 1");
  EXPECT_EQ(cache.get(-1, build(-1)), nullptr);
  for (int key = 2; key < 100; ++key) ASSERT_NE(cache.get(key, build(key)), nullptr);
  EXPECT_EQ(builds, 100);
  EXPECT_EQ(cache.get(1, build(1)), first);  // same plan, same address, no rebuild
  EXPECT_EQ(cache.get(-1, build(-1)), nullptr);
  EXPECT_EQ(builds, 100);
}

TEST(PlanCache, ABuildThatThrowsStoresNothing) {
  PlanCache<int, int> cache;
  const auto lock = cache.lock();
  EXPECT_THROW(cache.get(7, []() -> std::optional<int> { throw std::runtime_error("no primitive"); }),
               std::runtime_error);
  int* plan = cache.get(7, [] { return std::optional<int>(42); });
  ASSERT_NE(plan, nullptr);
  EXPECT_EQ(*plan, 42);
}

}  // namespace
}  // namespace ocs
