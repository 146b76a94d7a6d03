#include "core/tensor.h"
#include "kernels/reference/broadcast.h"

#include <gtest/gtest.h>

namespace ocs {
namespace {

TEST(Tensor, AllocatesZeroedAndAligned) {
  Tensor t(DType::Float32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  for (float v : t.span<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, ReshapeSharesAndCloneCopies) {
  Tensor t = Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4});
  Tensor r = t.reshaped({4});
  EXPECT_TRUE(r.shares_buffer_with(t));
  Tensor c = t.clone();
  EXPECT_FALSE(c.shares_buffer_with(t));
  c.data<int64_t>()[0] = 9;
  EXPECT_EQ(t.data<int64_t>()[0], 1);
}

TEST(Tensor, WrongElementTypeIsInternalError) {
  Tensor t(DType::Float32, {1});
  EXPECT_THROW(t.data<int32_t>(), InternalError);
}

TEST(Broadcast, ShapesFollowNumpy) {
  EXPECT_EQ(*broadcast_shapes({2, 1, 4}, {3, 1}), (Shape{2, 3, 4}));
  EXPECT_EQ(*broadcast_shapes({}, {5}), (Shape{5}));
  EXPECT_FALSE(broadcast_shapes({2, 3}, {4}).has_value());
}

TEST(Broadcast, IndexMapMatchesHandComputed) {
  // in [2,1] broadcast to [2,3]: rows repeat their single element.
  EXPECT_EQ(broadcast_index_map({2, 1}, {2, 3}), (std::vector<int64_t>{0, 0, 0, 1, 1, 1}));
  // in [3] broadcast to [2,3]: columns repeat.
  EXPECT_EQ(broadcast_index_map({3}, {2, 3}), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
}

}  // namespace
}  // namespace ocs
