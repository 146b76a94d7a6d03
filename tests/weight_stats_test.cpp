// `ocs inspect`'s statistics against values computed by hand.
#include "analysis/weight_stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ocs {
namespace {

Graph conv_graph(Tensor weight) {
  Graph g;
  Value x;
  x.name = "x";
  x.dtype = DType::Float32;
  ValueId xi = g.add_value(x);
  g.inputs.push_back(xi);
  Value w;
  w.name = "w";
  w.dtype = DType::Float32;
  w.shape = weight.shape();
  w.constant = weight;
  ValueId wi = g.add_value(w);
  Value y;
  y.name = "y";
  ValueId yi = g.add_value(y);
  Node conv;
  conv.name = "conv1";
  conv.op_type = "Conv";
  conv.inputs = {xi, wi};
  conv.outputs = {yi};
  g.add_node(conv);
  g.outputs.push_back(yi);
  return g;
}

TEST(WeightStats, TwoPointDistribution) {
  // W[C_out=2, C_in=2, 1, 1] = +-1: mean 0, std 1, kurtosis 1 (a two-point distribution).
  Graph g = conv_graph(Tensor::from_vector<float>({2, 2, 1, 1}, {1, -1, -1, 1}));
  auto stats = collect_weight_stats(g, 5);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].node, "conv1");
  EXPECT_EQ(stats[0].params, 4);
  EXPECT_EQ(stats[0].in_channel_axis, 1);
  EXPECT_DOUBLE_EQ(stats[0].mean, 0.0);
  EXPECT_DOUBLE_EQ(stats[0].std, 1.0);
  EXPECT_DOUBLE_EQ(stats[0].kurtosis, 1.0);
  EXPECT_DOUBLE_EQ(stats[0].max_abs, 1.0);
}

TEST(WeightStats, FindsTheOutlierInputChannel) {
  // Input channel 2 of 4 holds the outlier 8 (in output channel 1). Eight weights: seven are
  // 0 or 1 and one is 8; kurtosis by hand: mean = (3*1 + 8)/8 = 1.375.
  std::vector<float> w = {0, 1, 0, 1,
                          0, 0, 8, 1};
  Graph g = conv_graph(Tensor::from_vector<float>({2, 4, 1, 1}, w));
  auto stats = collect_weight_stats(g, 2);
  ASSERT_EQ(stats.size(), 1u);
  ASSERT_EQ(stats[0].top_channels.size(), 2u);
  EXPECT_EQ(stats[0].top_channels[0].channel, 2);
  EXPECT_DOUBLE_EQ(stats[0].top_channels[0].max_abs, 8.0);
  EXPECT_EQ(stats[0].top_channels[1].channel, 1);  // ties (1, 1 on channels 1 and 3): lower index
  double mean = 11.0 / 8.0, m2 = 0, m4 = 0;
  for (float v : w) {
    m2 += (v - mean) * (v - mean) / 8.0;
    m4 += std::pow(v - mean, 4) / 8.0;
  }
  EXPECT_NEAR(stats[0].kurtosis, m4 / (m2 * m2), 1e-12);
  EXPECT_NEAR(stats[0].std, std::sqrt(m2), 1e-12);
}

}  // namespace
}  // namespace ocs
