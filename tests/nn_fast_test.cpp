// Every fast (oneDNN) nn kernel against its reference kernel on random inputs over many
// configurations. Seeds are fixed, so failures reproduce.
//
// Metric: max |fast - reference| <= 1e-4 * (1 + max |reference|) per output. The reference
// accumulates in double; float32 sums of up to a few thousand products of values in [-1, 1]
// stay well inside that bound.
//
// Each case also checks that the fast kernel really ran on oneDNN (no silent fallback to the
// reference), runs it twice to exercise the plan cache, and covers both constant weights
// (reordered once) and weights fed at run time.
#include "kernels/fast/dnnl_common.h"
#include "nn_test_util.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace ocs {
namespace {

using namespace nn_test;

std::string describe_attributes(const Node& node) {
  std::ostringstream out;
  out << node.op_type;
  for (const auto& [key, a] : node.attributes) {
    out << " " << key << "=";
    if (a.kind == Attribute::Kind::Ints) {
      out << "[";
      for (size_t i = 0; i < a.ints.size(); ++i) out << (i ? "," : "") << a.ints[i];
      out << "]";
    } else if (a.kind == Attribute::Kind::Int) {
      out << a.i;
    } else if (a.kind == Attribute::Kind::Float) {
      out << a.f;
    } else {
      out << a.s;
    }
  }
  return out.str();
}

// Runs fast and reference on `g` and compares. `expect_fast` = false allows (but does not
// require) the fast kernel to hand the shape back to the reference.
void expect_fast_matches_reference(const OneNodeGraph& g, const std::string& what, bool expect_fast = true) {
  SCOPED_TRACE(what + " | " + describe_attributes(g.node()));
  std::unique_ptr<FastKernel> fast = g.make_fast();
  ASSERT_NE(fast, nullptr) << "factory declined";
  const std::vector<Tensor> expected = g.run_reference();
  for (int repeat = 0; repeat < 2; ++repeat) {
    const int64_t fallbacks_before = dnnl_fallback_count();
    const std::vector<Tensor> actual = g.run_fast(*fast);
    if (expect_fast) {
      EXPECT_EQ(dnnl_fallback_count(), fallbacks_before) << "fell back to the reference";
    }
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t o = 0; o < expected.size(); ++o) {
      if (!expected[o].defined()) continue;
      ASSERT_TRUE(actual[o].defined());
      EXPECT_TRUE(tensors_close(actual[o], expected[o], 1e-4, 1e-4))
          << "output " << o << " shape " << shape_str(expected[o].shape()) << " (actual: fast, expected: reference)";
    }
  }
}

int64_t pick(std::mt19937& rng, std::initializer_list<int64_t> options) {
  std::uniform_int_distribution<size_t> d(0, options.size() - 1);
  return *(options.begin() + static_cast<std::ptrdiff_t>(d(rng)));
}

// ---- Conv ----------------------------------------------------------------------------------

struct ChannelConfig {
  int64_t in, out, group;
};

TEST(NnFastConv, RandomConfigurations2d) {
  std::mt19937 rng(20240601);
  const std::vector<ChannelConfig> channels{{3, 8, 1},   {16, 16, 16}, {8, 12, 4},  {32, 64, 1},
                                            {1, 1, 1},   {24, 24, 24}, {6, 4, 2},   {17, 5, 1}};
  int skipped = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const ChannelConfig ch = channels[trial % channels.size()];
    const int64_t batch = pick(rng, {1, 2});
    const int64_t height = pick(rng, {5, 7, 8, 13});
    const int64_t width = pick(rng, {6, 9, 11, 16});
    const int64_t kernel_h = pick(rng, {1, 2, 3, 5});
    const int64_t kernel_w = pick(rng, {1, 3, 4});
    std::map<std::string, Attribute> attributes{{"group", attr_int(ch.group)}};
    attributes["strides"] = attr_ints({pick(rng, {1, 2}), pick(rng, {1, 2, 3})});
    attributes["dilations"] = attr_ints({pick(rng, {1, 1, 2}), pick(rng, {1, 2})});
    const int64_t pad_mode = pick(rng, {0, 1, 2, 3, 4, 5});
    if (pad_mode == 1) attributes["pads"] = attr_ints({1, 1, 1, 1});
    if (pad_mode == 2) attributes["pads"] = attr_ints({0, 2, 1, 0});
    if (pad_mode == 3) attributes["auto_pad"] = attr_string("SAME_UPPER");
    if (pad_mode == 4) attributes["auto_pad"] = attr_string("SAME_LOWER");
    if (pad_mode == 5) attributes["auto_pad"] = attr_string("VALID");
    const bool bias = trial % 3 != 0;
    const bool constant_weights = trial % 2 == 0;
    Tensor x = random_tensor({batch, ch.in, height, width}, rng);
    Tensor w = random_tensor({ch.out, ch.in / ch.group, kernel_h, kernel_w}, rng);
    Tensor b = bias ? random_tensor({ch.out}, rng) : Tensor();
    OneNodeGraph g("Conv", attributes, {x, w, b}, 1, {false, constant_weights, constant_weights});
    // Skip configurations whose dilated kernel does not fit the padded input (invalid models).
    try {
      g.run_reference();
    } catch (const UserError&) {
      ++skipped;
      continue;
    }
    expect_fast_matches_reference(g, "trial " + std::to_string(trial) + " x " + shape_str(x.shape()) +
                                         " w " + shape_str(w.shape()) + (bias ? " bias" : "") +
                                         (constant_weights ? " const" : ""));
  }
  EXPECT_LT(skipped, 30) << "too few valid configurations";
}

TEST(NnFastConv, OneAndThreeSpatialAxes) {
  std::mt19937 rng(7);
  for (int64_t group : {1, 2}) {
    Tensor x1 = random_tensor({2, 4, 19}, rng);
    Tensor w1 = random_tensor({6, 4 / group, 3}, rng);
    OneNodeGraph g1("Conv", {{"group", attr_int(group)}, {"strides", attr_ints({2})}, {"pads", attr_ints({1, 2})},
                             {"dilations", attr_ints({2})}},
                    {x1, w1, random_tensor({6}, rng)}, 1, {false, true, true});
    expect_fast_matches_reference(g1, "1-D");
    Tensor x3 = random_tensor({1, 4, 5, 6, 7}, rng);
    Tensor w3 = random_tensor({8, 4 / group, 3, 2, 3}, rng);
    OneNodeGraph g3("Conv", {{"group", attr_int(group)}, {"auto_pad", attr_string("SAME_UPPER")}}, {x3, w3}, 1,
                    {false, group == 1});
    expect_fast_matches_reference(g3, "3-D");
  }
}

// A plan per input shape: one kernel sees two batch sizes and both stay right.
TEST(NnFastConv, PlanPerInputShape) {
  std::mt19937 rng(11);
  Tensor w = random_tensor({16, 8, 3, 3}, rng);
  OneNodeGraph small("Conv", {{"pads", attr_ints({1, 1, 1, 1})}}, {random_tensor({1, 8, 10, 10}, rng), w}, 1, {false, true});
  OneNodeGraph large("Conv", {{"pads", attr_ints({1, 1, 1, 1})}}, {random_tensor({3, 8, 12, 9}, rng), w}, 1, {false, true});
  std::unique_ptr<FastKernel> fast = small.make_fast();
  ASSERT_NE(fast, nullptr);
  for (const OneNodeGraph* g : {&small, &large, &small}) {
    const Tensor expected = g->run_reference()[0];
    const Tensor actual = g->run_fast(*fast)[0];
    ASSERT_EQ(actual.shape(), expected.shape());
    for (int64_t i = 0; i < expected.numel(); ++i)
      ASSERT_NEAR(actual.data<float>()[i], expected.data<float>()[i], 1e-4f * 10);
  }
}

TEST(NnFastConv, FactoryDeclinesNonFloat) {
  Node node;
  node.op_type = "Conv";
  Graph graph;
  Value x;
  x.dtype = DType::Float64;
  node.inputs.push_back(graph.add_value(x));
  const KernelEntry* entry = KernelRegistry::global().find("", "Conv");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->fast(node, graph), nullptr);
}

// ---- ConvTranspose -------------------------------------------------------------------------

TEST(NnFastConvTranspose, RandomConfigurations) {
  std::mt19937 rng(31337);
  const std::vector<ChannelConfig> channels{{3, 5, 1}, {8, 8, 8}, {8, 6, 2}, {16, 32, 1}, {1, 1, 1}};
  for (int trial = 0; trial < 80; ++trial) {
    const ChannelConfig ch = channels[trial % channels.size()];
    const int64_t stride_h = pick(rng, {1, 2, 3});
    const int64_t stride_w = pick(rng, {1, 2});
    const int64_t kernel_h = pick(rng, {1, 2, 3, 4});
    const int64_t kernel_w = pick(rng, {1, 3});
    std::map<std::string, Attribute> attributes{{"group", attr_int(ch.group)},
                                                {"strides", attr_ints({stride_h, stride_w})}};
    attributes["dilations"] = attr_ints({pick(rng, {1, 2}), 1});
    const Shape input{pick(rng, {1, 2}), ch.in, pick(rng, {3, 5, 8}), pick(rng, {4, 7})};
    const int64_t mode = pick(rng, {0, 1, 2, 3, 4});
    if (mode == 1) attributes["pads"] = attr_ints({0, 1, 1, 0});
    if (mode == 2) attributes["output_padding"] = attr_ints({stride_h - 1, stride_w - 1});
    if (mode == 3) attributes["auto_pad"] = attr_string(trial % 2 ? "SAME_UPPER" : "SAME_LOWER");
    if (mode == 4) attributes["output_shape"] = attr_ints({input[2] * stride_h + 1, input[3] * stride_w});
    if (mode == 1 && (kernel_h < 2 || kernel_w < 2)) attributes.erase("pads");
    const bool constant_weights = trial % 2 == 1;
    Tensor x = random_tensor(input, rng);
    Tensor w = random_tensor({ch.in, ch.out / ch.group, kernel_h, kernel_w}, rng);
    Tensor b = trial % 3 ? random_tensor({ch.out}, rng) : Tensor();
    OneNodeGraph g("ConvTranspose", attributes, {x, w, b}, 1, {false, constant_weights, constant_weights});
    // oneDNN cannot produce an output_shape larger than the full transposed convolution (the
    // extra positions hold only the bias); the fast kernel then uses the reference.
    const auto& dilations = attributes["dilations"].ints;
    const bool larger_than_full =
        mode == 4 && (input[2] * stride_h + 1 > (input[2] - 1) * stride_h + (kernel_h - 1) * dilations[0] + 1 ||
                      input[3] * stride_w > (input[3] - 1) * stride_w + kernel_w);
    expect_fast_matches_reference(g, "trial " + std::to_string(trial) + " x " + shape_str(x.shape()) +
                                         " w " + shape_str(w.shape()), !larger_than_full);
  }
}

TEST(NnFastConvTranspose, OneAndThreeSpatialAxes) {
  std::mt19937 rng(5);
  OneNodeGraph g1("ConvTranspose", {{"strides", attr_ints({3})}, {"output_padding", attr_ints({1})}},
                  {random_tensor({2, 3, 6}, rng), random_tensor({3, 4, 3}, rng), random_tensor({4}, rng)}, 1,
                  {false, true, true});
  expect_fast_matches_reference(g1, "1-D");
  OneNodeGraph g3("ConvTranspose", {{"strides", attr_ints({2, 1, 2})}, {"pads", attr_ints({1, 0, 1, 0, 1, 1})}},
                  {random_tensor({1, 2, 3, 4, 5}, rng), random_tensor({2, 3, 3, 2, 3}, rng)}, 1);
  expect_fast_matches_reference(g3, "3-D");
}

// ---- Pooling -------------------------------------------------------------------------------

TEST(NnFastPool, RandomMaxAndAverage) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 120; ++trial) {
    const bool is_max = trial % 2 == 0;
    const int64_t kernel_h = pick(rng, {1, 2, 3, 5});
    const int64_t kernel_w = pick(rng, {2, 3});
    std::map<std::string, Attribute> attributes{{"kernel_shape", attr_ints({kernel_h, kernel_w})},
                                                {"strides", attr_ints({pick(rng, {1, 2, 3}), pick(rng, {1, 2})})}};
    const int64_t mode = pick(rng, {0, 1, 2, 3, 4});
    if (mode == 1) attributes["pads"] = attr_ints({kernel_h / 2, kernel_w / 2, (kernel_h - 1) / 2, kernel_w - 1});
    if (mode == 2) attributes["auto_pad"] = attr_string(trial % 4 < 2 ? "SAME_UPPER" : "SAME_LOWER");
    if (mode == 3) attributes["auto_pad"] = attr_string("VALID");
    if (mode == 4) attributes["pads"] = attr_ints({0, 1, 0, 1});
    const bool ceil_mode = pick(rng, {0, 1}) == 1;
    if (ceil_mode && mode != 2) attributes["ceil_mode"] = attr_int(1);
    if (is_max && pick(rng, {0, 1})) attributes["dilations"] = attr_ints({pick(rng, {1, 2}), 2});
    const bool include_pad = !is_max && pick(rng, {0, 1});
    if (include_pad) attributes["count_include_pad"] = attr_int(1);
    Tensor x = random_tensor({pick(rng, {1, 2}), pick(rng, {1, 3, 16}), pick(rng, {7, 10, 13}), pick(rng, {8, 11})}, rng);
    // With ceil_mode, include-pad averages may need padding beyond pads_end: the fast kernel
    // then uses the reference, which this test allows.
    OneNodeGraph g(is_max ? "MaxPool" : "AveragePool", attributes, {x}, 1);
    expect_fast_matches_reference(g, "trial " + std::to_string(trial) + " x " + shape_str(x.shape()),
                                  !(include_pad && ceil_mode));
  }
}

TEST(NnFastPool, OneAndThreeDAndGlobal) {
  std::mt19937 rng(3);
  OneNodeGraph max1("MaxPool", {{"kernel_shape", attr_ints({3})}, {"strides", attr_ints({2})}, {"pads", attr_ints({1, 1})}},
                    {random_tensor({2, 3, 17}, rng)}, 1);
  expect_fast_matches_reference(max1, "1-D max");
  OneNodeGraph avg3("AveragePool", {{"kernel_shape", attr_ints({2, 3, 2})}, {"count_include_pad", attr_int(1)},
                                    {"pads", attr_ints({1, 1, 0, 0, 1, 1})}},
                    {random_tensor({1, 4, 5, 6, 7}, rng)}, 1);
  expect_fast_matches_reference(avg3, "3-D average");
  for (const Shape& shape : std::vector<Shape>{{1, 3, 7, 7}, {2, 64, 5, 3}, {2, 5, 11}, {1, 2, 3, 4, 5}}) {
    OneNodeGraph global("GlobalAveragePool", {}, {random_tensor(shape, rng)}, 1);
    expect_fast_matches_reference(global, "global " + shape_str(shape));
  }
}

TEST(NnFastPool, MaxPoolWithIndicesStaysOnReference) {
  OneNodeGraph g("MaxPool", {{"kernel_shape", attr_ints({2, 2})}}, {Tensor(DType::Float32, {1, 1, 4, 4})}, 2);
  EXPECT_EQ(g.make_fast(), nullptr);
}

// ---- Softmax and LogSoftmax ----------------------------------------------------------------

// Both meanings of `axis` (opset 11: the input coerced to 2-D at axis; opset 13: one axis), with
// values spread over [-20, 20] so that exp spans many orders of magnitude.
TEST(NnFastSoftmax, AxesOfBothOpsetsAgainstTheReference) {
  std::mt19937 rng(77);
  const std::vector<Shape> shapes{{1, 40, 6625}, {2, 8, 40, 40}, {5}, {3, 1, 7}, {2, 3, 4, 5, 6}};
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (const Shape& shape : shapes) {
      const int64_t rank = static_cast<int64_t>(shape.size());
      for (int64_t opset : {int64_t{11}, int64_t{13}}) {
        for (int64_t axis = -rank; axis < rank; ++axis) {
          OneNodeGraph g(op, {{"axis", attr_int(axis)}}, {random_tensor(shape, rng, -20.0f, 20.0f)}, 1, {}, opset);
          expect_fast_matches_reference(g, std::string(op) + " " + shape_str(shape) + " opset " +
                                               std::to_string(opset) + " axis " + std::to_string(axis));
        }
      }
    }
  }
}

// NaN or an infinity in the input, or an axis out of range: the reference kernel runs (its
// results, its error).
TEST(NnFastSoftmax, NonFiniteInputsAndBadAxesRunTheReference) {
  std::mt19937 rng(78);
  for (float odd : {std::nanf(""), INFINITY, -INFINITY}) {
    Tensor x = random_tensor({2, 9}, rng);
    x.data<float>()[4] = odd;
    OneNodeGraph g("Softmax", {{"axis", attr_int(1)}}, {x}, 1, {}, 13);
    std::unique_ptr<FastKernel> fast = g.make_fast();
    ASSERT_NE(fast, nullptr);
    const int64_t before = dnnl_fallback_count();
    const Tensor actual = g.run_fast(*fast)[0], expected = g.run_reference()[0];
    EXPECT_EQ(dnnl_fallback_count(), before + 1);
    EXPECT_EQ(std::memcmp(actual.raw(), expected.raw(), static_cast<size_t>(expected.numel()) * sizeof(float)), 0);
  }
  OneNodeGraph bad("Softmax", {{"axis", attr_int(2)}}, {random_tensor({2, 9}, rng)}, 1, {}, 13);
  std::unique_ptr<FastKernel> fast = bad.make_fast();
  ASSERT_NE(fast, nullptr);
  EXPECT_THROW(bad.run_fast(*fast), UserError);
}

// ---- MatMul and Gemm -----------------------------------------------------------------------

TEST(NnFastMatMul, ShapesIncludingVectorsAndBroadcast) {
  std::mt19937 rng(1234);
  const std::vector<std::pair<Shape, Shape>> cases{
      {{4, 5}, {5, 3}},          {{1, 64}, {64, 1000}},     {{7}, {7, 3}},          {{2, 3, 7}, {7}},
      {{9}, {9}},                {{2, 3, 4, 5}, {5, 6}},     {{3, 1, 4, 5}, {2, 5, 6}}, {{5, 6}, {4, 6, 2}},
      {{2, 1, 3, 8}, {1, 4, 8, 5}}, {{33, 17}, {17, 65}},   {{2, 2, 2, 3, 4}, {2, 1, 2, 4, 3}}};
  int index = 0;
  for (const auto& [a_shape, b_shape] : cases) {
    for (bool constant_b : {false, true}) {
      OneNodeGraph g("MatMul", {}, {random_tensor(a_shape, rng), random_tensor(b_shape, rng)}, 1, {false, constant_b});
      expect_fast_matches_reference(g, "case " + std::to_string(index) + " A " + shape_str(a_shape) + " B " +
                                           shape_str(b_shape) + (constant_b ? " const" : ""));
    }
    ++index;
  }
}

TEST(NnFastGemm, TransposesScalesAndBiasShapes) {
  std::mt19937 rng(4321);
  const int64_t m = 6, k = 9, n = 5;
  const std::vector<Shape> c_shapes{{}, {n}, {1, n}, {m, 1}, {m, n}, {1}, {1, 1}};
  int trial = 0;
  for (int64_t trans_a : {0, 1})
    for (int64_t trans_b : {0, 1})
      for (const Shape& c_shape : c_shapes)
        for (bool with_c : {true, false}) {
          if (!with_c && c_shape != Shape{}) continue;
          ++trial;
          const bool unit = trial % 3 == 0;
          std::map<std::string, Attribute> attributes{{"transA", attr_int(trans_a)}, {"transB", attr_int(trans_b)}};
          if (!unit) attributes["alpha"] = attr_float(0.75f), attributes["beta"] = attr_float(-1.5f);
          Tensor a = random_tensor(trans_a ? Shape{k, m} : Shape{m, k}, rng);
          Tensor b = random_tensor(trans_b ? Shape{n, k} : Shape{k, n}, rng);
          Tensor c = with_c ? random_tensor(c_shape, rng) : Tensor();
          const bool constant_b = trial % 2 == 0;
          OneNodeGraph g("Gemm", attributes, {a, b, c}, 1, {false, constant_b, constant_b});
          expect_fast_matches_reference(g, "trial " + std::to_string(trial) + " C " +
                                               (with_c ? shape_str(c_shape) : "none"));
        }
}

}  // namespace
}  // namespace ocs
