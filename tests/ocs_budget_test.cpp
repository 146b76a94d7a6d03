// The --max-overhead allocation (quant/ocs_budget.h) against hand-computed cases.
#include "quant/ocs_budget.h"

#include <gtest/gtest.h>

namespace ocs {
namespace {

// A [out, in] weight whose input channel c holds the value maxima[c] in every row.
Tensor weight(int64_t out, const std::vector<float>& maxima) {
  Tensor w(DType::Float32, {out, static_cast<int64_t>(maxima.size())});
  for (int64_t o = 0; o < out; ++o)
    for (size_t c = 0; c < maxima.size(); ++c) w.data<float>()[o * maxima.size() + c] = (o % 2 ? -1.0f : 1.0f) * maxima[c];
  return w;
}

TEST(OcsBudget, SplitsGoWhereTheyBuyTheMostPerWeight) {
  // A: one input channel, 100 weights a split, 6.02 dB for it. B: ten channels of 10 weights;
  // its first split (8 -> 4) costs 10, its next lowers the range only after both halves of 4
  // are split again (2 splits, 20 weights, 4 -> 2).
  const Tensor a = weight(100, {8.0f});
  const Tensor b = weight(10, {8.0f, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  std::vector<OcsBudgetLayer> layers = {{&a, 1, 1}, {&b, 1, 3}};
  EXPECT_EQ(ocs_budget_splits(layers, 50), (std::vector<int64_t>{0, 3}));   // 30 used, A's 100 too dear
  EXPECT_EQ(ocs_budget_splits(layers, 25), (std::vector<int64_t>{0, 1}));   // the group of 2 (20) does not fit in 15
  EXPECT_EQ(ocs_budget_splits(layers, 130), (std::vector<int64_t>{1, 3}));  // everything the ratios allow
  EXPECT_EQ(ocs_budget_splits(layers, 0), (std::vector<int64_t>{0, 0}));
}

TEST(OcsBudget, TiesNeedTheirWholeGroupAndZerosNothing) {
  // Two channels at the top: lowering the range takes both splits (20 weights).
  const Tensor tied = weight(10, {4.0f, 4.0f, 1.0f});
  const Tensor zero = weight(10, {0.0f, 0.0f});
  std::vector<OcsBudgetLayer> layers = {{&tied, 1, 5}, {&zero, 1, 5}};
  EXPECT_EQ(ocs_budget_splits(layers, 19), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(ocs_budget_splits(layers, 20), (std::vector<int64_t>{2, 0}));
  // Ratio limit 1 forbids a group of two.
  layers[0].max_splits = 1;
  EXPECT_EQ(ocs_budget_splits(layers, 1000), (std::vector<int64_t>{0, 0}));
}

}  // namespace
}  // namespace ocs
