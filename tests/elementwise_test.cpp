// Element-wise reference kernels, called through the registry with hand-built nodes.
// Expected values are computed by hand (or by closed form, noted); float comparisons use
// EXPECT_FLOAT_EQ (4 ulp) unless a tolerance is stated.
#include "kernels/kernel.h"
#include "kernels/reference/broadcast.h"
#include "passes/graph_edit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>

namespace ocs {
namespace {

using Attributes = std::map<std::string, Attribute>;


// Runs the reference kernel of `op` on `inputs` (an undefined Tensor is an absent input).
Tensor run(const std::string& op, std::vector<Tensor> inputs, Attributes attributes = {},
           int64_t opset = 17) {
  const KernelEntry* entry = KernelRegistry::global().find("", op);
  EXPECT_NE(entry, nullptr) << op << " is not registered";
  if (!entry) return {};
  Node node;
  node.name = "node";
  node.op_type = op;
  node.attributes = std::move(attributes);
  for (size_t i = 0; i < inputs.size(); ++i)
    node.inputs.push_back(inputs[i].defined() ? static_cast<ValueId>(i) : kNoValue);
  node.outputs = {static_cast<ValueId>(inputs.size())};
  std::vector<Tensor> outputs(1);
  KernelContext ctx{node, inputs, outputs, opset};
  entry->reference(ctx);
  return outputs[0];
}

template <typename T>
Tensor make(Shape shape, std::vector<T> values) {
  return Tensor::from_vector<T>(std::move(shape), values);
}
Tensor f32(Shape shape, std::vector<float> values) { return make<float>(std::move(shape), values); }

void expect_floats(const Tensor& t, const Shape& shape, const std::vector<float>& expected,
                   float tolerance = 0.0f) {
  ASSERT_EQ(t.dtype(), DType::Float32);
  ASSERT_EQ(t.shape(), shape);
  std::vector<float> got = t.to_vector<float>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
    else if (tolerance == 0.0f) EXPECT_FLOAT_EQ(got[i], expected[i]) << "element " << i;
    else EXPECT_NEAR(got[i], expected[i], tolerance) << "element " << i;
  }
}

template <typename T>
void expect_values(const Tensor& t, const Shape& shape, const std::vector<T>& expected) {
  ASSERT_EQ(t.dtype(), DTypeOf<T>::value);
  ASSERT_EQ(t.shape(), shape);
  EXPECT_EQ(t.to_vector<T>(), expected);
}

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- binary arithmetic ----------------------------------------------------------------------

TEST(ElementwiseBinary, AddSameShapeAndBroadcast) {
  expect_floats(run("Add", {f32({3}, {1, 2, 3}), f32({3}, {10, 20, 30})}), {3}, {11, 22, 33});
  // [2,3] + [3]: the row repeats.
  expect_floats(run("Add", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {10, 20, 30})}), {2, 3},
                {11, 22, 33, 14, 25, 36});
  // [2,1] + [1,3] -> [2,3]: outer sum.
  expect_floats(run("Add", {f32({2, 1}, {1, 2}), f32({1, 3}, {10, 20, 30})}), {2, 3},
                {11, 21, 31, 12, 22, 32});
  // Scalars on either side, and a rank-0 result.
  expect_floats(run("Sub", {f32({}, {10}), f32({2}, {1, 2})}), {2}, {9, 8});
  expect_floats(run("Mul", {f32({2}, {1, 2}), f32({}, {3})}), {2}, {3, 6});
  expect_floats(run("Add", {f32({}, {1}), f32({}, {2})}), {}, {3});
}

TEST(ElementwiseBinary, EmptyTensorsBroadcast) {
  Tensor out = run("Add", {f32({0, 3}, {}), f32({3}, {1, 2, 3})});
  EXPECT_EQ(out.shape(), (Shape{0, 3}));
}

TEST(ElementwiseBinary, ShapesThatDoNotBroadcastAreUserErrors) {
  EXPECT_THROW(run("Add", {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 2})}), UserError);
  EXPECT_THROW(run("Add", {f32({1}, {1}), make<int32_t>({1}, {1})}), UserError);
}

// The general (strided row) path against a plain per-element index map.
TEST(ElementwiseBinary, GeneralBroadcastMatchesIndexMap) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 1, 4, 1, 3}, {3, 1, 5, 3}}, {{1, 3, 1, 2}, {4, 1, 5, 1}}, {{3, 1}, {1, 1, 4}},
      {{2, 3, 4}, {2, 1, 4}},          {{5, 1, 1}, {5, 6, 7}},        {{1, 1, 1}, {2, 1, 3}}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  for (const auto& [shape_a, shape_b] : cases) {
    const Shape out_shape = *broadcast_shapes(shape_a, shape_b);
    std::vector<float> va(shape_numel(shape_a)), vb(shape_numel(shape_b));
    for (float& v : va) v = dist(rng);
    for (float& v : vb) v = dist(rng);
    const std::vector<int64_t> map_a = broadcast_index_map(shape_a, out_shape);
    const std::vector<int64_t> map_b = broadcast_index_map(shape_b, out_shape);
    std::vector<float> expected(map_a.size());
    for (size_t i = 0; i < expected.size(); ++i) expected[i] = va[map_a[i]] - vb[map_b[i]];
    SCOPED_TRACE(shape_str(shape_a) + " - " + shape_str(shape_b));
    expect_floats(run("Sub", {f32(shape_a, va), f32(shape_b, vb)}), out_shape, expected);
  }
}

TEST(ElementwiseBinary, IntegerAddWrapsAround) {
  expect_values<uint8_t>(run("Add", {make<uint8_t>({2}, {200, 1}), make<uint8_t>({2}, {100, 2})}),
                         {2}, {44, 3});
  expect_values<int32_t>(run("Mul", {make<int32_t>({1}, {std::numeric_limits<int32_t>::max()}),
                                     make<int32_t>({1}, {2})}),
                         {1}, {-2});
}

TEST(ElementwiseBinary, IntegerDivTruncatesTowardZero) {
  // numpy true divide then cast back, i.e. C semantics: -7/2 = -3, 7/-2 = -3.
  expect_values<int32_t>(
      run("Div", {make<int32_t>({4}, {7, -7, 7, -7}), make<int32_t>({4}, {2, 2, -2, -2})}), {4},
      {3, -3, -3, 3});
  expect_values<uint8_t>(run("Div", {make<uint8_t>({2}, {16, 6}), make<uint8_t>({2}, {11, 5})}),
                         {2}, {1, 1});
  EXPECT_THROW(run("Div", {make<int64_t>({1}, {1}), make<int64_t>({1}, {0})}), UserError);
  expect_floats(run("Div", {f32({3}, {1, -1, 3}), f32({3}, {0, 0, 4})}), {3}, {kInf, -kInf, 0.75f});
}

TEST(ElementwiseBinary, ModSignConventions) {
  // ONNX's test_mod_mixed_sign_*: fmod=0 follows the divisor's sign, fmod=1 the dividend's.
  Tensor x = make<int32_t>({6}, {-4, 7, 5, 4, -7, 8});
  Tensor y = make<int32_t>({6}, {2, -3, 8, -2, 3, 5});
  expect_values<int32_t>(run("Mod", {x, y}), {6}, {0, -2, 5, 0, 2, 3});
  expect_values<int32_t>(run("Mod", {x, y}, {{"fmod", int_attribute(1)}}), {6}, {0, 1, 5, 0, -1, 3});
  Tensor fx = f32({4}, {-4.5f, 7.5f, 4.5f, -7.5f});
  Tensor fy = f32({4}, {2, -2, -2, 2});
  expect_floats(run("Mod", {fx, fy}, {{"fmod", int_attribute(1)}}), {4}, {-0.5f, 1.5f, 0.5f, -1.5f});
  expect_floats(run("Mod", {fx, fy}), {4}, {1.5f, -0.5f, -1.5f, 0.5f});
  EXPECT_THROW(run("Mod", {make<int32_t>({1}, {3}), make<int32_t>({1}, {0})}), UserError);
}

TEST(ElementwiseBinary, PowMixedTypes) {
  expect_floats(run("Pow", {f32({3}, {2, 4, -2}), f32({3}, {3, 0.5f, 2})}), {3}, {8, 2, 4});
  expect_floats(run("Pow", {f32({3}, {1, 2, 3}), make<int64_t>({3}, {4, 5, 6})}), {3},
                {1, 32, 729});
  // Integer base, float exponent: computed in floating point and truncated to the base type.
  expect_values<int32_t>(run("Pow", {make<int32_t>({3}, {2, 2, 3}), f32({3}, {5, 0.5f, -1})}), {3},
                         {32, 1, 0});
  expect_values<int64_t>(
      run("Pow", {make<int64_t>({4}, {3, -2, 1, -1}), make<int64_t>({4}, {39, 3, -5, -3})}), {4},
      {4052555153018976267LL, -8, 1, -1});
}

TEST(ElementwiseBinary, LogicAndBitShift) {
  Tensor a = make<bool>({2, 2}, {true, true, false, false});
  Tensor b = make<bool>({2}, {true, false});
  expect_values<bool>(run("And", {a, b}), {2, 2}, {true, false, false, false});
  expect_values<bool>(run("Or", {a, b}), {2, 2}, {true, true, true, false});
  expect_values<bool>(run("Xor", {a, b}), {2, 2}, {false, true, true, false});
  EXPECT_THROW(run("And", {f32({1}, {1}), f32({1}, {1})}), UserError);

  Tensor x = make<uint8_t>({3}, {16, 4, 1});
  Tensor s = make<uint8_t>({3}, {1, 2, 8});
  expect_values<uint8_t>(run("BitShift", {x, s}, {{"direction", string_attribute("RIGHT")}}), {3},
                         {8, 1, 0});
  expect_values<uint8_t>(run("BitShift", {x, s}, {{"direction", string_attribute("LEFT")}}), {3},
                         {32, 16, 0});
}

TEST(ElementwiseBinary, ComparisonsGiveBool) {
  Tensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = f32({3}, {2, 2, 7});
  expect_values<bool>(run("Equal", {a, b}), {2, 3}, {false, true, false, false, false, false});
  expect_values<bool>(run("Less", {a, b}), {2, 3}, {true, false, true, false, false, true});
  expect_values<bool>(run("Greater", {a, b}), {2, 3}, {false, false, false, true, true, false});
  expect_values<bool>(run("LessOrEqual", {a, b}), {2, 3}, {true, true, true, false, false, true});
  expect_values<bool>(run("GreaterOrEqual", {a, b}), {2, 3},
                      {false, true, false, true, true, false});
  expect_values<bool>(run("Equal", {make<int64_t>({2}, {1, 2}), make<int64_t>({}, {2})}), {2},
                      {false, true});
  expect_values<bool>(run("Less", {f32({1}, {kNaN}), f32({1}, {1})}), {1}, {false});
}

// ---- variadic and Where ---------------------------------------------------------------------

TEST(ElementwiseVariadic, SumMeanMaxMinBroadcastAllInputs) {
  Tensor a = f32({2, 1}, {1, 2});
  Tensor b = f32({3}, {10, 20, 30});
  Tensor c = f32({}, {-3});
  expect_floats(run("Sum", {a, b, c}), {2, 3}, {8, 18, 28, 9, 19, 29});
  expect_floats(run("Mean", {a, b, c}), {2, 3}, {8 / 3.f, 6, 28 / 3.f, 3, 19 / 3.f, 29 / 3.f});
  expect_floats(run("Max", {f32({3}, {1, 5, 3}), f32({3}, {4, 2, 3})}), {3}, {4, 5, 3});
  expect_floats(run("Min", {f32({3}, {1, 5, 3}), f32({3}, {4, 2, 3}), f32({1}, {2})}), {3},
                {1, 2, 2});
  expect_floats(run("Sum", {f32({2}, {1, 2})}), {2}, {1, 2});
  // NaN wins in either position.
  expect_floats(run("Max", {f32({2}, {kNaN, 1}), f32({2}, {1, kNaN})}), {2}, {kNaN, kNaN});
  expect_values<int32_t>(run("Max", {make<int32_t>({2}, {-5, 7}), make<int32_t>({2}, {3, -9})}),
                         {2}, {3, 7});
}

TEST(ElementwiseVariadic, WhereBroadcastsThreeWays) {
  Tensor condition = make<bool>({2, 1}, {true, false});
  Tensor x = f32({3}, {1, 2, 3});
  Tensor y = f32({}, {-1});
  expect_floats(run("Where", {condition, x, y}), {2, 3}, {1, 2, 3, -1, -1, -1});
  Tensor cond2 = make<bool>({2, 2}, {true, false, true, true});
  expect_values<int64_t>(
      run("Where", {cond2, make<int64_t>({2, 2}, {1, 2, 3, 4}), make<int64_t>({2, 2}, {9, 8, 7, 6})}),
      {2, 2}, {1, 8, 3, 4});
}

// ---- unary --------------------------------------------------------------------------------

TEST(ElementwiseUnary, RoundHalfToEven) {
  expect_floats(run("Round", {f32({9}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.6f, -2.4f, 0.49999997f})}),
                {9}, {0, 2, 2, -0.f, -2, -2, 3, -2, 0});
}

TEST(ElementwiseUnary, SimpleMath) {
  expect_floats(run("Abs", {f32({3}, {-1.5f, 0, 2})}), {3}, {1.5f, 0, 2});
  expect_values<int32_t>(run("Abs", {make<int32_t>({2}, {-3, 4})}), {2}, {3, 4});
  expect_values<int8_t>(run("Neg", {make<int8_t>({2}, {-3, 4})}), {2}, {3, -4});
  expect_values<int64_t>(run("Sign", {make<int64_t>({3}, {-9, 0, 4})}), {3}, {-1, 0, 1});
  expect_floats(run("Sign", {f32({4}, {-0.1f, 0, 3, kNaN})}), {4}, {-1, 0, 1, kNaN});
  expect_floats(run("Floor", {f32({2}, {-1.5f, 1.5f})}), {2}, {-2, 1});
  expect_floats(run("Ceil", {f32({2}, {-1.5f, 1.5f})}), {2}, {-1, 2});
  expect_floats(run("Reciprocal", {f32({2}, {4, -0.5f})}), {2}, {0.25f, -2});
  expect_floats(run("Sqrt", {f32({2}, {9, -1})}), {2}, {3, kNaN});
  // Closed forms: e^1, ln(e) = 1, erf(0) = 0 and erf(inf) = 1.
  expect_floats(run("Exp", {f32({2}, {0, 1})}), {2}, {1, 2.7182817f});
  expect_floats(run("Log", {f32({2}, {1, 2.7182817f})}), {2}, {0, 1});
  expect_floats(run("Erf", {f32({3}, {0, kInf, 0.5f})}), {3}, {0, 1, 0.52049988f});
  expect_floats(run("Atan", {f32({1}, {1})}), {1}, {0.78539816f});
  expect_floats(run("Acosh", {f32({1}, {1})}), {1}, {0});
  EXPECT_THROW(run("Exp", {make<int32_t>({1}, {1})}), UserError);
}

TEST(ElementwiseUnary, PredicatesGiveBool) {
  Tensor x = f32({4}, {-kInf, kInf, kNaN, 1});
  expect_values<bool>(run("IsNaN", {x}), {4}, {false, false, true, false});
  expect_values<bool>(run("IsInf", {x}), {4}, {true, true, false, false});
  expect_values<bool>(run("IsInf", {x}, {{"detect_negative", int_attribute(0)}}), {4},
                      {false, true, false, false});
  expect_values<bool>(run("IsInf", {x}, {{"detect_positive", int_attribute(0)}}), {4},
                      {true, false, false, false});
  expect_values<bool>(run("Not", {make<bool>({2}, {true, false})}), {2}, {false, true});
}

// ---- activations --------------------------------------------------------------------------

TEST(ElementwiseActivation, ReluFamily) {
  Tensor x = f32({4}, {-2, -0.5f, 0, 3});
  expect_floats(run("Relu", {x}), {4}, {0, 0, 0, 3});
  expect_values<int32_t>(run("Relu", {make<int32_t>({2}, {-2, 3})}), {2}, {0, 3});
  expect_floats(run("LeakyRelu", {x}), {4}, {-0.02f, -0.005f, 0, 3});
  expect_floats(run("LeakyRelu", {x}, {{"alpha", float_attribute(0.5f)}}), {4}, {-1, -0.25f, 0, 3});
  expect_floats(run("ThresholdedRelu", {f32({3}, {0.5f, 1, 2})}), {3}, {0, 0, 2});
  // Elu: alpha (e^x - 1) below zero.
  expect_floats(run("Elu", {x}, {{"alpha", float_attribute(2)}}), {4},
                {2 * std::expm1(-2.0f), 2 * std::expm1(-0.5f), 0, 3});
  // Selu with its default constants.
  const float alpha = 1.67326319217681884765625f, gamma = 1.05070102214813232421875f;
  expect_floats(run("Selu", {f32({2}, {-1, 2})}), {2}, {gamma * alpha * std::expm1(-1.0f), gamma * 2},
                1e-6f);
  expect_floats(run("Celu", {f32({2}, {-1, 2})}, {{"alpha", float_attribute(2)}}), {2},
                {2 * std::expm1(-0.5f), 2});
}

TEST(ElementwiseActivation, PReluBroadcastsSlope) {
  // x [2,3], slope [3]: one slope per column.
  Tensor x = f32({2, 3}, {-1, -1, -1, 2, -4, 0});
  Tensor slope = f32({3}, {0.1f, 0.2f, 0.3f});
  expect_floats(run("PRelu", {x, slope}), {2, 3}, {-0.1f, -0.2f, -0.3f, 2, -0.8f, 0});
  // Opset 6: a 1-D slope holds one value per channel (axis 1), not per last-axis element.
  Tensor x3 = f32({1, 2, 3}, {-1, -2, -3, -1, -2, 3});
  expect_floats(run("PRelu", {x3, f32({2}, {0.5f, 2})}, {}, 6), {1, 2, 3}, {-0.5f, -1, -1.5f, -2, -4, 3});
  // slope must broadcast to x, not the other way.
  EXPECT_THROW(run("PRelu", {f32({3}, {1, 2, 3}), f32({2, 3}, {1, 1, 1, 1, 1, 1})}), UserError);
}

TEST(ElementwiseActivation, SigmoidFamily) {
  // Large |x| must not overflow to NaN.
  expect_floats(run("Sigmoid", {f32({4}, {0, -100, 100, 2})}), {4},
                {0.5f, 3.7200760e-44f, 1, 0.8807970779778823f}, 1e-7f);
  expect_floats(run("HardSigmoid", {f32({3}, {-5, 0, 1})}), {3}, {0, 0.5f, 0.7f});
  expect_floats(run("HardSwish", {f32({4}, {-4, -1, 1, 4})}), {4}, {0, -1 / 3.f, 2 / 3.f, 4});
  expect_floats(run("Tanh", {f32({2}, {0, 100})}), {2}, {0, 1});
  // softplus(0) = ln 2; softplus(100) = 100 (no overflow); softplus(-100) ~ e^-100.
  expect_floats(run("Softplus", {f32({3}, {0, 100, -100})}), {3}, {0.69314718f, 100, 0}, 1e-6f);
  expect_floats(run("Softsign", {f32({2}, {1, -3})}), {2}, {0.5f, -0.75f});
  // mish(1) = tanh(ln(1 + e)) = 0.86509836.
  expect_floats(run("Mish", {f32({2}, {0, 1})}), {2}, {0, 0.86509836f}, 1e-6f);
}

TEST(ElementwiseActivation, Shrink) {
  Tensor x = f32({5}, {-2, -1, 0, 1, 2});
  expect_floats(run("Shrink", {x}, {{"lambd", float_attribute(1.5f)}}), {5}, {-2, 0, 0, 0, 2});
  expect_floats(run("Shrink", {x}, {{"lambd", float_attribute(1.5f)}, {"bias", float_attribute(1.5f)}}), {5},
                {-0.5f, 0, 0, 0, 0.5f});
}

TEST(ElementwiseActivation, ClipAttributeFormBeforeOpset11) {
  Tensor x = f32({4}, {-3, -0.5f, 0.5f, 3});
  Attributes bounds = {{"min", float_attribute(-1)}, {"max", float_attribute(1)}};
  expect_floats(run("Clip", {x}, bounds, 6), {4}, {-1, -0.5f, 0.5f, 1});
  expect_floats(run("Clip", {x}, {{"max", float_attribute(0)}}, 6), {4}, {-3, -0.5f, 0, 0});
  expect_floats(run("Clip", {x}, {}, 6), {4}, {-3, -0.5f, 0.5f, 3});
}

TEST(ElementwiseActivation, ClipInputFormFromOpset11) {
  Tensor x = f32({4}, {-3, -0.5f, 0.5f, 3});
  expect_floats(run("Clip", {x, f32({}, {-1}), f32({}, {1})}, {}, 11), {4}, {-1, -0.5f, 0.5f, 1});
  // Absent min, present max.
  expect_floats(run("Clip", {x, Tensor(), f32({}, {0})}, {}, 13), {4}, {-3, -0.5f, 0, 0});
  expect_floats(run("Clip", {x}, {}, 13), {4}, {-3, -0.5f, 0.5f, 3});
  // min > max: every element becomes max.
  expect_floats(run("Clip", {x, f32({}, {2}), f32({}, {1})}, {}, 13), {4}, {1, 1, 1, 1});
  expect_floats(run("Clip", {f32({1}, {kNaN}), f32({}, {0}), f32({}, {1})}, {}, 13), {1}, {kNaN});
  expect_values<int8_t>(run("Clip", {make<int8_t>({3}, {-100, 5, 100}), make<int8_t>({}, {0})}, {}, 13),
                        {3}, {0, 5, 100});
  // The attributes of the old form are ignored from opset 11 on.
  expect_floats(run("Clip", {x}, {{"min", float_attribute(0)}}, 11), {4}, {-3, -0.5f, 0.5f, 3});
}

// ---- Cast -----------------------------------------------------------------------------------

TEST(ElementwiseCast, NumericAndBool) {
  auto to = [](DType type) { return Attributes{{"to", int_attribute(static_cast<int64_t>(type))}}; };
  Tensor x = f32({5}, {-1.7f, 2.9f, 0, 0.25f, kNaN});
  expect_values<int32_t>(run("Cast", {x}, to(DType::Int32)), {5}, {-1, 2, 0, 0, 0});
  expect_values<bool>(run("Cast", {x}, to(DType::Bool)), {5}, {true, true, false, true, true});
  expect_floats(run("Cast", {make<bool>({2}, {true, false})}, to(DType::Float32)), {2}, {1, 0});
  expect_values<uint8_t>(run("Cast", {make<int64_t>({2}, {300, -1})}, to(DType::UInt8)), {2},
                         {44, 255});
  expect_values<uint8_t>(run("Cast", {f32({1}, {-1})}, to(DType::UInt8)), {1}, {255});
  Tensor d = run("Cast", {f32({1}, {0.1f})}, to(DType::Float64));
  expect_values<double>(d, {1}, {static_cast<double>(0.1f)});
  EXPECT_THROW(run("Cast", {x}, to(DType::String)), UserError);
  // float16 / bfloat16 casts are covered bit by bit in half_test.cpp.
  expect_values<int64_t>(run("CastLike", {f32({2}, {3.5f, -3.5f}), make<int64_t>({}, {0})}), {2},
                         {3, -3});
}

}  // namespace
}  // namespace ocs
