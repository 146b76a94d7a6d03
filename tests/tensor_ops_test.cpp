// Shape and data-movement reference kernels (kernels/reference/tensor_*.cpp) on small cases
// computed by hand. Exact comparisons except where floating arithmetic is involved (Resize,
// Range), where the tolerance is stated.
#include "kernels/kernel.h"
#include "passes/graph_edit.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ocs {
namespace {

Attribute floats_attr(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::Floats;
  a.floats = std::move(v);
  return a;
}
Attribute tensor_attr(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::Tensor;
  a.t = std::move(t);
  return a;
}

// Runs one reference kernel on a hand-built node. An undefined Tensor in `inputs` is an absent
// optional input.
std::vector<Tensor> run_op(const std::string& op, std::vector<Tensor> inputs,
                           std::map<std::string, Attribute> attributes = {},
                           size_t num_outputs = 1, int64_t opset = 13) {
  const KernelEntry* entry = KernelRegistry::global().find("", op);
  EXPECT_NE(entry, nullptr) << op;
  if (!entry) return {};
  Node node;
  node.op_type = op;
  node.name = "test_" + op;
  node.attributes = std::move(attributes);
  for (size_t i = 0; i < inputs.size(); ++i)
    node.inputs.push_back(inputs[i].defined() ? static_cast<ValueId>(i) : kNoValue);
  for (size_t i = 0; i < num_outputs; ++i)
    node.outputs.push_back(static_cast<ValueId>(inputs.size() + i));
  std::vector<Tensor> outputs(num_outputs);
  KernelContext ctx{node, inputs, outputs, opset};
  entry->reference(ctx);
  return outputs;
}

Tensor run1(const std::string& op, std::vector<Tensor> inputs,
            std::map<std::string, Attribute> attributes = {}, int64_t opset = 13) {
  auto outputs = run_op(op, std::move(inputs), std::move(attributes), 1, opset);
  return outputs.empty() ? Tensor() : outputs[0];
}

Tensor i64(Shape shape, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(shape), v); }
Tensor i64v(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<int64_t>({n}, v);
}
Tensor f32(Shape shape, std::vector<float> v) { return Tensor::from_vector<float>(std::move(shape), v); }
// 0, 1, 2, ... as float32 in the given shape.
Tensor iota_f32(Shape shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return f32(std::move(shape), v);
}

void expect_near_all(const Tensor& got, const std::vector<float>& want, float tolerance) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  auto g = got.to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], tolerance) << "element " << i;
}

// ---- shape-only ops -----------------------------------------------------------------------

TEST(TensorOpsReshape, CopiesZeroInfersMinusOneAndSharesBuffer) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor y = run1("Reshape", {x, i64v({0, -1})});
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_TRUE(y.shares_buffer_with(x));
  // allowzero=1: 0 is a real zero-size dim.
  Tensor empty(DType::Float32, {0, 3});
  EXPECT_EQ(run1("Reshape", {empty, i64v({3, 0})}, {{"allowzero", int_attribute(1)}}).shape(), (Shape{3, 0}));
  EXPECT_THROW(run1("Reshape", {x, i64v({5, -1})}), UserError);
  EXPECT_THROW(run1("Reshape", {x, i64v({-1, -1})}), UserError);
}

TEST(TensorOpsFlatten, AxisZeroAndNegative) {
  Tensor x = iota_f32({2, 3, 4});
  EXPECT_EQ(run1("Flatten", {x}).shape(), (Shape{2, 12}));
  EXPECT_EQ(run1("Flatten", {x}, {{"axis", int_attribute(0)}}).shape(), (Shape{1, 24}));
  EXPECT_EQ(run1("Flatten", {x}, {{"axis", int_attribute(-1)}}).shape(), (Shape{6, 4}));
  EXPECT_EQ(run1("Flatten", {x}, {{"axis", int_attribute(3)}}).shape(), (Shape{24, 1}));
}

TEST(TensorOpsSqueeze, AxesFromAttributeBeforeOpset13AndInputAfter) {
  Tensor x = iota_f32({1, 3, 1, 2});
  EXPECT_EQ(run1("Squeeze", {x}).shape(), (Shape{3, 2}));
  EXPECT_EQ(run1("Squeeze", {x}, {{"axes", ints_attribute({-2})}}, 11).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(run1("Squeeze", {x, i64v({0})}).shape(), (Shape{3, 1, 2}));
  EXPECT_THROW(run1("Squeeze", {x, i64v({1})}), UserError);
}

TEST(TensorOpsUnsqueeze, UnsortedAndNegativeAxesIndexTheOutput) {
  Tensor x = iota_f32({3, 4});
  EXPECT_EQ(run1("Unsqueeze", {x, i64v({2, 0})}).shape(), (Shape{1, 3, 1, 4}));
  EXPECT_EQ(run1("Unsqueeze", {x, i64v({-1})}).shape(), (Shape{3, 4, 1}));
  EXPECT_EQ(run1("Unsqueeze", {x}, {{"axes", ints_attribute({1})}}, 11).shape(), (Shape{3, 1, 4}));
}

TEST(TensorOpsShape, StartEndAndSize) {
  Tensor x(DType::Float32, {2, 3, 4, 5});
  EXPECT_EQ(run1("Shape", {x}).to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(run1("Shape", {x}, {{"start", int_attribute(1)}, {"end", int_attribute(-1)}}, 15).to_vector<int64_t>(),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(run1("Shape", {x}, {{"start", int_attribute(-10)}, {"end", int_attribute(10)}}, 15).numel(), 4);
  Tensor size = run1("Size", {x});
  EXPECT_EQ(size.rank(), 0);
  EXPECT_EQ(size.to_vector<int64_t>()[0], 120);
}

TEST(TensorOpsDropout, InferenceIsIdentityWithTrueMask) {
  Tensor x = f32({3}, {-1, 0, 1});
  auto out = run_op("Dropout", {x, Tensor::scalar<float>(0.5f)}, {}, 2, 13);
  EXPECT_TRUE(out[0].shares_buffer_with(x));
  ASSERT_EQ(out[1].dtype(), DType::Bool);
  EXPECT_EQ(out[1].to_vector<bool>(), (std::vector<bool>{true, true, true}));
  // Training with a nonzero ratio would be random.
  EXPECT_THROW(run_op("Dropout", {x, Tensor::scalar<float>(0.5f), Tensor::scalar<bool>(true)}, {}, 1),
               UserError);
  EXPECT_TRUE(run1("Identity", {x}).shares_buffer_with(x));
}

// ---- layout ops ---------------------------------------------------------------------------

TEST(TensorOpsTranspose, DefaultReversesAndPermMovesDims) {
  Tensor x = iota_f32({2, 3});
  Tensor t = run1("Transpose", {x});
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // int8 [2,3,4] with perm [2,0,1]: out[k][i][j] = x[i][j][k] = 12 i + 4 j + k.
  std::vector<int8_t> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<int8_t>(i);
  Tensor y = run1("Transpose", {Tensor::from_vector<int8_t>({2, 3, 4}, v)}, {{"perm", ints_attribute({2, 0, 1})}});
  ASSERT_EQ(y.shape(), (Shape{4, 2, 3}));
  auto out = y.to_vector<int8_t>();
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) EXPECT_EQ(out[(k * 2 + i) * 3 + j], 12 * i + 4 * j + k);
}

TEST(TensorOpsConcat, Int64AlongInnerAxisAndNegativeAxis) {
  Tensor a = i64({2, 1}, {1, 2});
  Tensor b = i64({2, 2}, {3, 4, 5, 6});
  Tensor c = run1("Concat", {a, b}, {{"axis", int_attribute(-1)}});
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 4, 2, 5, 6}));
  Tensor d = run1("Concat", {b, b}, {{"axis", int_attribute(0)}});
  EXPECT_EQ(d.to_vector<int64_t>(), (std::vector<int64_t>{3, 4, 5, 6, 3, 4, 5, 6}));
  EXPECT_THROW(run1("Concat", {a, i64({3, 1}, {1, 2, 3})}, {{"axis", int_attribute(1)}}), UserError);
}

TEST(TensorOpsSplit, SizesFromInputOrAttributeOrEqual) {
  Tensor x = iota_f32({2, 5});
  auto parts = run_op("Split", {x, i64v({2, 3})}, {{"axis", int_attribute(1)}}, 2, 13);
  EXPECT_EQ(parts[0].to_vector<float>(), (std::vector<float>{0, 1, 5, 6}));
  EXPECT_EQ(parts[1].to_vector<float>(), (std::vector<float>{2, 3, 4, 7, 8, 9}));
  auto old = run_op("Split", {x}, {{"axis", int_attribute(1)}, {"split", ints_attribute({4, 1})}}, 2, 11);
  EXPECT_EQ(old[1].to_vector<float>(), (std::vector<float>{4, 9}));
  auto rows = run_op("Split", {x}, {}, 2, 13);
  EXPECT_EQ(rows[1].to_vector<float>(), (std::vector<float>{5, 6, 7, 8, 9}));
  EXPECT_THROW(run_op("Split", {x, i64v({2, 2})}, {{"axis", int_attribute(1)}}, 2, 13), UserError);
}

TEST(TensorOpsSlice, NegativeStepsClampingAndOpset1Attributes) {
  Tensor x = iota_f32({10});
  // Full reverse: start clamps to 9, end -INF clamps to -1.
  Tensor rev = run1("Slice", {x, i64v({INT64_MAX}), i64v({INT64_MIN}), i64v({0}), i64v({-1})});
  EXPECT_EQ(rev.to_vector<float>(), (std::vector<float>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  // Step 3 from 1 to 100 (end clamps to 10): 1, 4, 7.
  EXPECT_EQ(run1("Slice", {x, i64v({1}), i64v({100}), i64v({0}), i64v({3})}).to_vector<float>(),
            (std::vector<float>{1, 4, 7}));
  // Negative start/end count from the end; step -2 from 8 down to (exclusive) 2: 8, 6, 4.
  EXPECT_EQ(run1("Slice", {x, i64v({-2}), i64v({-8}), Tensor(), i64v({-2})}).to_vector<float>(),
            (std::vector<float>{8, 6, 4}));
  // A huge step takes only the first element (no overflow in the length).
  EXPECT_EQ(run1("Slice", {x, i64v({0}), i64v({10}), i64v({0}), i64v({INT64_MAX})}).to_vector<float>(),
            (std::vector<float>{0}));
  // Empty result when start is past end.
  EXPECT_EQ(run1("Slice", {x, i64v({5}), i64v({2})}).numel(), 0);
  // 2-D, second axis only, opset 1 attributes.
  Tensor m = iota_f32({3, 4});
  Tensor cols = run1("Slice", {m}, {{"starts", ints_attribute({1})}, {"ends", ints_attribute({3})}, {"axes", ints_attribute({-1})}}, 1);
  EXPECT_EQ(cols.shape(), (Shape{3, 2}));
  EXPECT_EQ(cols.to_vector<float>(), (std::vector<float>{1, 2, 5, 6, 9, 10}));
  EXPECT_THROW(run1("Slice", {x, i64v({0}), i64v({3}), i64v({0}), i64v({0})}), UserError);
}

TEST(TensorOpsExpand, BroadcastsBothWays) {
  Tensor x = f32({3, 1}, {1, 2, 3});
  Tensor y = run1("Expand", {x, i64v({2, 1, 2})});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  EXPECT_THROW(run1("Expand", {x, i64v({2, 2})}), UserError);
}

TEST(TensorOpsTile, RepeatsEachAxis) {
  Tensor x = i64({2, 2}, {1, 2, 3, 4});
  Tensor y = run1("Tile", {x, i64v({2, 3})});
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  EXPECT_EQ(y.to_vector<int64_t>(),
            (std::vector<int64_t>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
}

TEST(TensorOpsDepthToSpace, DcrAndCrdOrders) {
  // x[0, c, 0, 0] = c for c in 0..3, blocksize 2: output is 1x1x2x2.
  Tensor x = iota_f32({1, 4, 1, 1});
  // DCR: channel = (by * 2 + bx) * C_out + c  -> out[by][bx] = by * 2 + bx.
  EXPECT_EQ(run1("DepthToSpace", {x}, {{"blocksize", int_attribute(2)}}).to_vector<float>(),
            (std::vector<float>{0, 1, 2, 3}));
  // With 8 channels (C_out = 2) the orders differ: DCR out[c][by][bx] = (by*2+bx)*2 + c,
  // CRD out[c][by][bx] = c*4 + by*2 + bx.
  Tensor x8 = iota_f32({1, 8, 1, 1});
  EXPECT_EQ(run1("DepthToSpace", {x8}, {{"blocksize", int_attribute(2)}}).to_vector<float>(),
            (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
  EXPECT_EQ(run1("DepthToSpace", {x8}, {{"blocksize", int_attribute(2)}, {"mode", string_attribute("CRD")}}).to_vector<float>(),
            (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(TensorOpsSpaceToDepth, InvertsDepthToSpaceDcr) {
  Tensor x = iota_f32({2, 3, 4, 6});
  Tensor packed = run1("SpaceToDepth", {x}, {{"blocksize", int_attribute(2)}});
  EXPECT_EQ(packed.shape(), (Shape{2, 12, 2, 3}));
  Tensor back = run1("DepthToSpace", {packed}, {{"blocksize", int_attribute(2)}});
  EXPECT_EQ(back.to_vector<float>(), x.to_vector<float>());
}

TEST(TensorOpsTrilu, UpperAndLowerWithOffset) {
  Tensor x = i64({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(run1("Trilu", {x}).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 0, 5, 6, 0, 0, 9}));
  EXPECT_EQ(run1("Trilu", {x, Tensor::scalar<int64_t>(-1)}, {{"upper", int_attribute(0)}}).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 0, 0, 4, 0, 0, 7, 8, 0}));
}

TEST(TensorOpsReverseSequence, ReversesPrefixPerBatch) {
  // time_axis 0, batch_axis 1: x[t][b] = 10 t + b, lengths {3, 1}.
  Tensor x = i64({3, 2}, {0, 1, 10, 11, 20, 21});
  Tensor y = run1("ReverseSequence", {x, i64v({3, 1})});
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{20, 1, 10, 11, 0, 21}));
}

// ---- gather and scatter -------------------------------------------------------------------

TEST(TensorOpsGather, AxisOneNegativeAndScalarIndices) {
  Tensor x = iota_f32({2, 3});
  Tensor y = run1("Gather", {x, i64({2}, {-1, 0})}, {{"axis", int_attribute(1)}});
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{2, 0, 5, 3}));
  Tensor row = run1("Gather", {x, Tensor::scalar<int32_t>(1)});
  EXPECT_EQ(row.shape(), (Shape{3}));
  EXPECT_EQ(row.to_vector<float>(), (std::vector<float>{3, 4, 5}));
  EXPECT_THROW(run1("Gather", {x, i64({1}, {2})}), UserError);
}

TEST(TensorOpsGatherElements, PicksAlongAxis) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  Tensor y = run1("GatherElements", {x, i64({2, 2}, {0, 0, 1, 0})}, {{"axis", int_attribute(1)}});
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 4, 3}));
}

TEST(TensorOpsGatherND, SlicesAndBatchDims) {
  Tensor x = i64({2, 2}, {0, 1, 2, 3});
  EXPECT_EQ(run1("GatherND", {x, i64({2, 2}, {0, 0, 1, 1})}).to_vector<int64_t>(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(run1("GatherND", {x, i64({2, 1}, {1, 0})}).to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 0, 1}));
  // batch_dims=1: data [2,2,2], indices [2,1]: out[b] = data[b][idx[b]].
  Tensor d = i64({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor y = run1("GatherND", {d, i64({2, 1}, {1, 0})}, {{"batch_dims", int_attribute(1)}});
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
}

TEST(TensorOpsScatterElements, ReplaceAndAddWithDuplicates) {
  Tensor data = f32({1, 5}, {1, 2, 3, 4, 5});
  Tensor idx = i64({1, 2}, {1, -2});
  Tensor upd = f32({1, 2}, {10, 20});
  EXPECT_EQ(run1("ScatterElements", {data, idx, upd}, {{"axis", int_attribute(1)}}).to_vector<float>(),
            (std::vector<float>{1, 10, 3, 20, 5}));
  Tensor dup = i64({1, 2}, {1, 1});
  EXPECT_EQ(run1("ScatterElements", {data, dup, upd}, {{"axis", int_attribute(1)}, {"reduction", string_attribute("add")}}, 16)
                .to_vector<float>(),
            (std::vector<float>{1, 32, 3, 4, 5}));
  // The input is not written.
  EXPECT_EQ(data.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5}));
}

TEST(TensorOpsScatterND, WritesSlicesAndMultiplies) {
  Tensor data = i64({4}, {1, 2, 3, 4});
  Tensor idx = i64({2, 1}, {3, 0});
  Tensor upd = i64({2}, {9, 10});
  EXPECT_EQ(run1("ScatterND", {data, idx, upd}).to_vector<int64_t>(), (std::vector<int64_t>{10, 2, 3, 9}));
  EXPECT_EQ(run1("ScatterND", {data, idx, upd}, {{"reduction", string_attribute("mul")}}, 16).to_vector<int64_t>(),
            (std::vector<int64_t>{10, 2, 3, 36}));
  Tensor m = i64({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(run1("ScatterND", {m, i64({1, 1}, {1}), i64({1, 2}, {7, 8})}).to_vector<int64_t>(),
            (std::vector<int64_t>{1, 2, 7, 8}));
}

TEST(TensorOpsCompress, WithAndWithoutAxis) {
  Tensor x = iota_f32({3, 2});
  Tensor cond = Tensor::from_vector<bool>({2}, {false, true});
  EXPECT_EQ(run1("Compress", {x, cond}, {{"axis", int_attribute(0)}}).to_vector<float>(), (std::vector<float>{2, 3}));
  EXPECT_EQ(run1("Compress", {x, cond}, {{"axis", int_attribute(1)}}).to_vector<float>(), (std::vector<float>{1, 3, 5}));
  EXPECT_EQ(run1("Compress", {x, cond}).to_vector<float>(), (std::vector<float>{1}));
}

TEST(TensorOpsNonZero, CoordinatesInRowMajorOrder) {
  Tensor x = i64({2, 2}, {1, 0, 1, 1});
  Tensor y = run1("NonZero", {x});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0, 0, 1}));
}

// ---- creation -----------------------------------------------------------------------------

TEST(TensorOpsConstantOfShape, ValueTypeAndDefault) {
  Tensor z = run1("ConstantOfShape", {i64v({2, 3})});
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0.0f));
  Tensor v = run1("ConstantOfShape", {i64v({2})}, {{"value", tensor_attr(i64({1}, {7}))}});
  EXPECT_EQ(v.to_vector<int64_t>(), (std::vector<int64_t>{7, 7}));
  EXPECT_EQ(run1("ConstantOfShape", {i64v({0})}).numel(), 0);
}

TEST(TensorOpsRange, FloatAndNegativeIntegerDelta) {
  Tensor f = run1("Range", {Tensor::scalar<float>(1), Tensor::scalar<float>(2), Tensor::scalar<float>(0.3f)});
  // ceil((2 - 1) / 0.3) = 4 values; float arithmetic, compared within 1e-6.
  expect_near_all(f, {1.0f, 1.3f, 1.6f, 1.9f}, 1e-6f);
  Tensor i = run1("Range", {Tensor::scalar<int32_t>(10), Tensor::scalar<int32_t>(4), Tensor::scalar<int32_t>(-3)});
  EXPECT_EQ(i.to_vector<int32_t>(), (std::vector<int32_t>{10, 7}));
  EXPECT_EQ(run1("Range", {Tensor::scalar<int64_t>(0), Tensor::scalar<int64_t>(5), Tensor::scalar<int64_t>(-1)}).numel(), 0);
}

TEST(TensorOpsEyeLike, OffsetDiagonalAndDtype) {
  Tensor y = run1("EyeLike", {Tensor(DType::Float32, {2, 3})}, {{"k", int_attribute(1)}, {"dtype", int_attribute(7)}});
  EXPECT_EQ(y.dtype(), DType::Int64);
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0, 0, 0, 1}));
}

TEST(TensorOpsOneHot, AxisAndNegativeIndices) {
  Tensor idx = i64({2}, {0, -1});
  Tensor values = f32({2}, {0, 5});
  Tensor y = run1("OneHot", {idx, Tensor::scalar<int64_t>(3), values});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{5, 0, 0, 0, 0, 5}));
  Tensor t = run1("OneHot", {idx, Tensor::scalar<float>(3), values}, {{"axis", int_attribute(0)}});
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{5, 0, 0, 0, 0, 5}));
}

// ---- Pad ----------------------------------------------------------------------------------

TEST(TensorOpsPad, ConstantReflectEdgeAndCrop) {
  Tensor x = f32({1, 3}, {1, 2, 3});
  Tensor pads = i64v({0, 2, 0, 1});
  EXPECT_EQ(run1("Pad", {x, pads, Tensor::scalar<float>(9)}, {}, 11).to_vector<float>(),
            (std::vector<float>{9, 9, 1, 2, 3, 9}));
  EXPECT_EQ(run1("Pad", {x, pads}, {{"mode", string_attribute("reflect")}}, 11).to_vector<float>(),
            (std::vector<float>{3, 2, 1, 2, 3, 2}));
  EXPECT_EQ(run1("Pad", {x, pads}, {{"mode", string_attribute("edge")}}, 11).to_vector<float>(),
            (std::vector<float>{1, 1, 1, 2, 3, 3}));
  // Reflection wider than the data repeats, as NumPy's: [1, 2, 3] padded 4 before.
  EXPECT_EQ(run1("Pad", {f32({3}, {1, 2, 3}), i64v({4, 0})}, {{"mode", string_attribute("reflect")}}, 11).to_vector<float>(),
            (std::vector<float>{1, 2, 3, 2, 1, 2, 3}));
  // Negative begin crops: [2, 3] then one 0 after.
  EXPECT_EQ(run1("Pad", {x, i64v({0, -1, 0, 1})}, {}, 11).to_vector<float>(), (std::vector<float>{2, 3, 0}));
  // Opset 2: pads and value as attributes; int32 data.
  Tensor xi = Tensor::from_vector<int32_t>({2}, {4, 5});
  EXPECT_EQ(run1("Pad", {xi}, {{"pads", ints_attribute({1, 1})}, {"value", float_attribute(-1)}}, 2).to_vector<int32_t>(),
            (std::vector<int32_t>{-1, 4, 5, -1}));
}

// ---- Resize / Upsample --------------------------------------------------------------------

TEST(TensorOpsResize, NearestUpsampleByScales) {
  Tensor x = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor scales = f32({4}, {1, 1, 2, 2});
  Tensor y = run1("Resize", {x, Tensor(), scales}, {{"mode", string_attribute("nearest")}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(TensorOpsResize, LinearHalfPixelAndAlignCorners) {
  Tensor x = f32({1, 2}, {1, 2});
  // half_pixel, scale 2: source x = (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, edges clamp.
  Tensor y = run1("Resize", {x, Tensor(), f32({2}, {1, 2})}, {{"mode", string_attribute("linear")}});
  expect_near_all(y, {1, 1.25f, 1.75f, 2}, 1e-6f);
  Tensor z = run1("Resize", {x, Tensor(), Tensor(), i64v({1, 3})},
                  {{"mode", string_attribute("linear")}, {"coordinate_transformation_mode", string_attribute("align_corners")}});
  expect_near_all(z, {1, 1.5f, 2}, 1e-6f);
}

TEST(TensorOpsResize, CubicAsymmetricMidpoint) {
  // Asymmetric, scale 2: output 3 samples source 1.5, where Keys' weights with A = -0.75 are
  // (-0.09375, 0.59375, 0.59375, -0.09375) on inputs 1, 2, 4, 8 -> 2.71875.
  Tensor x = f32({4}, {1, 2, 4, 8});
  Tensor y = run1("Resize", {x, Tensor(), f32({1}, {2})},
                  {{"mode", string_attribute("cubic")}, {"coordinate_transformation_mode", string_attribute("asymmetric")}});
  ASSERT_EQ(y.shape(), (Shape{8}));
  EXPECT_NEAR(y.to_vector<float>()[3], 2.71875f, 1e-6f);
  EXPECT_NEAR(y.to_vector<float>()[2], 2.0f, 1e-6f);  // integer source: the input itself
}

TEST(TensorOpsResize, NearestModesAndCropExtrapolation) {
  Tensor x = f32({3}, {10, 20, 30});
  // asymmetric, sizes 5 (scale 5/3): sources 0, 0.6, 1.2, 1.8, 2.4.
  auto nearest = [&](const char* mode) {
    return run1("Resize", {x, Tensor(), Tensor(), i64v({5})},
                {{"coordinate_transformation_mode", string_attribute("asymmetric")}, {"nearest_mode", string_attribute(mode)}})
        .to_vector<float>();
  };
  EXPECT_EQ(nearest("floor"), (std::vector<float>{10, 10, 20, 20, 30}));
  EXPECT_EQ(nearest("ceil"), (std::vector<float>{10, 20, 30, 30, 30}));
  EXPECT_EQ(nearest("round_prefer_floor"), (std::vector<float>{10, 20, 20, 30, 30}));
  // tf_crop_and_resize with roi [0.5, 1.5]: sources 1, 2, 3 (outside -> extrapolation_value).
  Tensor y = run1("Resize", {x, f32({2}, {0.5f, 1.5f}), Tensor(), i64v({3})},
                  {{"mode", string_attribute("linear")},
                   {"coordinate_transformation_mode", string_attribute("tf_crop_and_resize")},
                   {"extrapolation_value", float_attribute(-1)}});
  expect_near_all(y, {20, 30, -1}, 1e-6f);
}

TEST(TensorOpsUpsample, NearestRepeatsWithFloor) {
  Tensor x = f32({1, 2}, {1, 2});
  Tensor y = run1("Upsample", {x, f32({2}, {1, 3})}, {{"mode", string_attribute("nearest")}}, 9);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 1, 1, 2, 2, 2}));
  Tensor z = run1("Upsample", {x}, {{"scales", floats_attr({1, 2})}, {"mode", string_attribute("linear")}}, 7);
  // asymmetric linear: sources 0, 0.5, 1, 1.5 (clamped) -> 1, 1.5, 2, 2.
  expect_near_all(z, {1, 1.5f, 2, 2}, 1e-6f);
}

}  // namespace
}  // namespace ocs
