// The Calibrator as a Session observer: the statistics it streams equal those of the same
// tensors computed by hand; subgraph values and unwatched values are ignored; user errors name
// the value.
#include "calib/calibrator.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"

#include <gtest/gtest.h>

#include <random>

namespace ocs {
namespace {
using namespace ocs::testing;

std::shared_ptr<const Graph> load(const onnx::ModelProto& m) {
  return std::make_shared<const Graph>(import_onnx_bytes(serialize(m), ".", "test model"));
}

void expect_same_stats(const TensorStats& got, const TensorStats& want) {
  EXPECT_EQ(got.count(), want.count());
  EXPECT_EQ(got.batches(), want.batches());
  EXPECT_EQ(got.sum(), want.sum());
  EXPECT_EQ(got.sum_squares(), want.sum_squares());
  EXPECT_EQ(got.max_abs(), want.max_abs());
  EXPECT_EQ(got.min(), want.min());
  EXPECT_EQ(got.channel_max_abs(), want.channel_max_abs());
  EXPECT_EQ(got.histogram().counts(), want.histogram().counts());
  EXPECT_EQ(got.histogram().range(), want.histogram().range());
}

TEST(CalibCalibrator, StreamsTheSameStatsAsTheTensorsByHand) {
  // add_mul_model: y = x + w (w = 1..6, shape [2, 3]), z = y * c (c = [10, 20, 30]).
  auto graph = load(add_mul_model());
  Session session(graph);
  const ValueId x = graph->find_value("x"), y = graph->find_value("y"), z = graph->find_value("z");
  Calibrator calibrator(*graph, {{x, 1}, {y, 1}, {z, kNoChannelAxis}});
  EXPECT_FALSE(calibrator.seen(x));

  const float w[6] = {1, 2, 3, 4, 5, 6};
  const float c[3] = {10, 20, 30};
  TensorStats want_x(1), want_y(1), want_z(kNoChannelAxis);
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<float> xs(6), ys(6), zs(6);
    for (int i = 0; i < 6; ++i) {
      xs[i] = normal(rng);
      ys[i] = xs[i] + w[i];        // one float32 add, as the kernel does
      zs[i] = ys[i] * c[i % 3];    // one float32 multiply
    }
    session.run({{"x", Tensor::from_vector<float>({2, 3}, xs)}}, calibrator.observer());
    want_x.update(Tensor::from_vector<float>({2, 3}, xs));
    want_y.update(Tensor::from_vector<float>({2, 3}, ys));
    want_z.update(Tensor::from_vector<float>({2, 3}, zs));
  }
  EXPECT_TRUE(calibrator.seen(x));
  expect_same_stats(calibrator.stats(x), want_x);
  expect_same_stats(calibrator.stats(y), want_y);
  expect_same_stats(calibrator.stats(z), want_z);
  EXPECT_EQ(calibrator.stats(y).channel_max_abs().size(), 3u);
}

TEST(CalibCalibrator, IgnoresOtherGraphsAndUnwatchedValues) {
  auto graph = load(add_mul_model());
  const ValueId y = graph->find_value("y");
  Calibrator calibrator(*graph, {{y, 1}});
  Observer observe = calibrator.observer();
  Graph body = *graph;  // another Graph object: its ids index another table
  observe(body, y, Tensor::from_vector<float>({1, 3}, {1, 2, 3}));
  observe(*graph, graph->find_value("z"), Tensor::from_vector<float>({1, 3}, {1, 2, 3}));
  EXPECT_FALSE(calibrator.seen(y));
  observe(*graph, y, Tensor::from_vector<float>({1, 3}, {1, 2, 3}));
  EXPECT_TRUE(calibrator.seen(y));
  EXPECT_EQ(calibrator.stats(y).count(), 3u);
}

TEST(CalibCalibrator, UserErrorsNameTheValue) {
  auto graph = load(add_mul_model());
  const ValueId y = graph->find_value("y");
  Calibrator calibrator(*graph, {{y, 1}});
  // Never computed: no statistics to clip from.
  try {
    calibrator.stats(y);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
  // Not float32.
  try {
    calibrator.observer()(*graph, y, Tensor::from_vector<int32_t>({1, 3}, {1, 2, 3}));
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
  // Watching a constant is a caller bug.
  const ValueId weight = graph->find_value("w");
  EXPECT_THROW((Calibrator(*graph, {{weight, 1}})), InternalError);
}

}  // namespace
}  // namespace ocs
