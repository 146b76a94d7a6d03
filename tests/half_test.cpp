// float16 and bfloat16: conversions (core/half.h), Cast/CastLike, tensor protos, and the
// import rule that no other op may compute with them. Expected bit patterns are worked out by
// hand from the formats (float16: 1|5|10 bits, bias 15; bfloat16: the top 16 bits of a float)
// and agree with NumPy's float64 -> float16 astype, which rounds once to nearest even.
#include "core/half.h"
#include "kernels/kernel.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "onnx/tensor_proto.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

namespace ocs {
namespace {

uint16_t f16(double value) { return float16_from_double(value).bits; }
uint16_t bf16(double value) { return bfloat16_from_double(value).bits; }
uint16_t bf16_of_float_bits(uint32_t bits) { return bf16(std::bit_cast<float>(bits)); }

TEST(Float16, NarrowingRoundsToNearestEven) {
  EXPECT_EQ(f16(1.0), 0x3C00);
  EXPECT_EQ(f16(-2.0), 0xC000);
  EXPECT_EQ(f16(0.1), 0x2E66);  // 0.1 = 1.6 * 2^-4: fraction 0.6 * 1024 = 614.4 -> 614 = 0x266
  // Largest finite value and the edge of overflow: 65504 = 2047 * 2^5; 65520 is halfway to
  // 65536 and ties to the even neighbour, which is 2^16 = infinity.
  EXPECT_EQ(f16(65504.0), 0x7BFF);
  EXPECT_EQ(f16(65519.99), 0x7BFF);
  EXPECT_EQ(f16(65520.0), 0x7C00);
  EXPECT_EQ(f16(-65520.0), 0xFC00);
  EXPECT_EQ(f16(1e10), 0x7C00);
  // Smallest normal 2^-14; 6.1e-5 is 1023.4 units of 2^-24, a subnormal.
  EXPECT_EQ(f16(std::ldexp(1.0, -14)), 0x0400);
  EXPECT_EQ(f16(6.1e-5), 0x03FF);
  // Smallest subnormal 2^-24, and the ties around it.
  EXPECT_EQ(f16(std::ldexp(1.0, -24)), 0x0001);
  EXPECT_EQ(f16(std::ldexp(1.0, -25)), 0x0000);             // tie 0 | 1 -> 0 (even)
  EXPECT_EQ(f16(std::ldexp(1.0000001, -25)), 0x0001);       // just above the tie
  EXPECT_EQ(f16(std::ldexp(3.0, -25)), 0x0002);             // tie 1 | 2 -> 2
  EXPECT_EQ(f16(-std::ldexp(1.0, -25)), 0x8000);            // signed zero
  EXPECT_EQ(f16(1e-8), 0x0000);
  // Ties between normals: 1 + 2^-11 lies halfway between 1 (0x3C00) and 1 + 2^-10 (0x3C01).
  EXPECT_EQ(f16(1.0 + std::ldexp(1.0, -11)), 0x3C00);
  EXPECT_EQ(f16(1.0 + 3 * std::ldexp(1.0, -11)), 0x3C02);
  // Rounded once from the double: through float, 1 + 2^-11 + 2^-40 would first become the
  // tie 1 + 2^-11 and then round down.
  EXPECT_EQ(f16(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)), 0x3C01);
  // Specials.
  EXPECT_EQ(f16(-0.0), 0x8000);
  EXPECT_EQ(f16(std::numeric_limits<double>::infinity()), 0x7C00);
  EXPECT_EQ(f16(-std::numeric_limits<double>::infinity()), 0xFC00);
  const uint16_t nan = f16(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x03FF, 0);
  EXPECT_EQ(f16(std::numeric_limits<double>::denorm_min()), 0x0000);
}

TEST(Float16, FromIntegersRoundsOnce) {
  EXPECT_EQ(float16_from_int(2048).bits, 0x6800);
  EXPECT_EQ(float16_from_int(2049).bits, 0x6800);  // tie 2048 | 2050 -> 2048 (even)
  EXPECT_EQ(float16_from_int(2051).bits, 0x6802);  // tie 2050 | 2052 -> 2052
  EXPECT_EQ(float16_from_int(-1).bits, 0xBC00);
  EXPECT_EQ(float16_from_int(std::numeric_limits<int64_t>::min()).bits, 0xFC00);
  EXPECT_EQ(float16_from_uint(std::numeric_limits<uint64_t>::max()).bits, 0x7C00);
  // 2^60 + 2^52 + 1 lies just above the bfloat16 tie between 2^60 (0x5D80) and 2^60 + 2^53
  // (0x5D81). A double cannot hold the +1 and would make it an exact tie.
  const uint64_t above_tie = (uint64_t{1} << 60) + (uint64_t{1} << 52) + 1;
  EXPECT_EQ(bfloat16_from_uint(above_tie).bits, 0x5D81);
  EXPECT_EQ(bfloat16_from_double(static_cast<double>(above_tie)).bits, 0x5D80);  // the double lost the +1
}

TEST(Float16, WideningIsExact) {
  EXPECT_EQ(float16_to_float({0x0001}), std::ldexp(1.0f, -24));
  EXPECT_EQ(float16_to_float({0x03FF}), 1023 * std::ldexp(1.0f, -24));
  EXPECT_EQ(float16_to_float({0x0400}), std::ldexp(1.0f, -14));
  EXPECT_EQ(float16_to_float({0x7BFF}), 65504.0f);
  EXPECT_EQ(float16_to_float({0x3555}), 0.333251953125f);
  EXPECT_EQ(float16_to_float({0xFC00}), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(float16_to_float({0x7E00})));
  EXPECT_TRUE(std::isnan(float16_to_float({0xFC01})));
  const float negative_zero = float16_to_float({0x8000});
  EXPECT_EQ(negative_zero, 0.0f);
  EXPECT_TRUE(std::signbit(negative_zero));
  // Every finite float16 survives float16 -> float -> float16.
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    if ((bits & 0x7C00) == 0x7C00) continue;
    const float wide = float16_to_float({static_cast<uint16_t>(bits)});
    ASSERT_EQ(f16(wide), bits) << std::hex << bits;
  }
}

TEST(BFloat16, NarrowingRoundsToNearestEven) {
  EXPECT_EQ(bf16(1.0), 0x3F80);
  EXPECT_EQ(bf16(-2.0), 0xC000);
  // 0x3F808000 is halfway between 0x3F80 and 0x3F81: even wins; likewise 0x3F818000 -> 0x3F82.
  EXPECT_EQ(bf16_of_float_bits(0x3F808000), 0x3F80);
  EXPECT_EQ(bf16_of_float_bits(0x3F808001), 0x3F81);
  EXPECT_EQ(bf16_of_float_bits(0x3F818000), 0x3F82);
  EXPECT_EQ(bf16_of_float_bits(0x3F80FFFF), 0x3F81);
  // The largest float is above the largest bfloat16 (0x7F7F) by more than half a unit: inf.
  EXPECT_EQ(bf16_of_float_bits(0x7F7FFFFF), 0x7F80);
  EXPECT_EQ(bf16_of_float_bits(0x7F7F7FFF), 0x7F7F);
  // Subnormals: 2^-133 is the smallest bfloat16 (float bits 0x00010000).
  EXPECT_EQ(bf16_of_float_bits(0x00010000), 0x0001);
  EXPECT_EQ(bf16_of_float_bits(0x00008000), 0x0000);  // tie 0 | 1 -> 0
  EXPECT_EQ(bf16_of_float_bits(0x00018000), 0x0002);  // tie 1 | 2 -> 2
  EXPECT_EQ(bf16_of_float_bits(0x007FFFFF), 0x0080);  // rounds up to the smallest normal
  EXPECT_EQ(bf16_of_float_bits(0x80000001), 0x8000);
  // Specials: a NaN whose payload sits only in the low 16 bits must not become infinity.
  EXPECT_EQ(bf16_of_float_bits(0x7FC00000), 0x7FC0);
  const uint16_t nan = bf16(std::bit_cast<float>(0x7F800001u));
  EXPECT_EQ(nan & 0x7F80, 0x7F80);
  EXPECT_NE(nan & 0x007F, 0);
  EXPECT_EQ(bf16_of_float_bits(0xFF800000), 0xFF80);
  // ONNX's test input 0.47892547f (0x3EF535B8): the dropped 0x35B8 is below half, so 0x3EF5.
  EXPECT_EQ(bf16(0.47892547f), 0x3EF5);
  EXPECT_EQ(bfloat16_to_float({0x3EF5}), 0.478515625f);
  EXPECT_EQ(bfloat16_to_float({0xFF80}), -std::numeric_limits<float>::infinity());
}

// ---- Cast and CastLike through the registry ---------------------------------------------------

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}

Tensor run(const std::string& op, std::vector<Tensor> inputs, std::map<std::string, Attribute> attrs = {}) {
  const KernelEntry* entry = KernelRegistry::global().find("", op);
  EXPECT_NE(entry, nullptr);
  Node node;
  node.name = "the_cast";
  node.op_type = op;
  node.attributes = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(static_cast<ValueId>(i));
  node.outputs = {static_cast<ValueId>(inputs.size())};
  std::vector<Tensor> outputs(1);
  KernelContext ctx{node, inputs, outputs, 17};
  entry->reference(ctx);
  return outputs[0];
}

Tensor cast(const Tensor& x, DType to) { return run("Cast", {x}, {{"to", int_attr(static_cast<int64_t>(to))}}); }

template <typename Half>
Tensor halves(std::vector<uint16_t> bits) {
  Tensor t(DTypeOf<Half>::value, {static_cast<int64_t>(bits.size())});
  std::memcpy(t.raw(), bits.data(), bits.size() * 2);
  return t;
}

std::vector<uint16_t> bits_of(const Tensor& t) {
  const auto* p = static_cast<const uint16_t*>(t.raw());
  return {p, p + t.numel()};
}

TEST(CastHalf, FloatAndDoubleToFloat16AndBack) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_vector<float>({7}, {1.0f, 65504.0f, 70000.0f, 6.1e-5f, -0.0f, -inf, 0.1f});
  Tensor h = cast(x, DType::Float16);
  ASSERT_EQ(h.dtype(), DType::Float16);
  EXPECT_EQ(bits_of(h), (std::vector<uint16_t>{0x3C00, 0x7BFF, 0x7C00, 0x03FF, 0x8000, 0xFC00, 0x2E66}));
  Tensor back = cast(h, DType::Float32);
  EXPECT_EQ(back.to_vector<float>(),
            (std::vector<float>{1.0f, 65504.0f, inf, 1023 * std::ldexp(1.0f, -24), -0.0f, -inf,
                                0.0999755859375f}));
  // Double rounds once: the value just above a tie goes up (through float it would go down).
  Tensor d = Tensor::from_vector<double>({1}, {1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)});
  EXPECT_EQ(bits_of(cast(d, DType::Float16)), (std::vector<uint16_t>{0x3C01}));
  EXPECT_EQ(cast(halves<Float16>({0x3555}), DType::Float64).to_vector<double>(),
            (std::vector<double>{0.333251953125}));
  // NaN survives both ways.
  Tensor nan = cast(Tensor::from_vector<float>({1}, {std::nanf("")}), DType::Float16);
  EXPECT_TRUE(std::isnan(cast(nan, DType::Float32).to_vector<float>()[0]));
}

TEST(CastHalf, IntegersBoolAndBFloat16) {
  Tensor ints = Tensor::from_vector<int32_t>({4}, {2049, -3, 100000, 0});
  EXPECT_EQ(bits_of(cast(ints, DType::Float16)), (std::vector<uint16_t>{0x6800, 0xC200, 0x7C00, 0x0000}));
  // float16 -> integer truncates toward zero like float does: -2.5 -> -2, 65504 -> 65504.
  EXPECT_EQ(cast(halves<Float16>({0xC100, 0x7BFF}), DType::Int32).to_vector<int32_t>(),
            (std::vector<int32_t>{-2, 65504}));
  EXPECT_EQ(cast(halves<Float16>({0x0000, 0x8000, 0x0001, 0x7E00}), DType::Bool).to_vector<bool>(),
            (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(bits_of(cast(Tensor::from_vector<bool>({2}, {true, false}), DType::BFloat16)),
            (std::vector<uint16_t>{0x3F80, 0x0000}));
  Tensor f = Tensor::from_vector<float>({3}, {std::bit_cast<float>(0x3F808000u),
                                             std::bit_cast<float>(0x3F818000u), 0.47892547f});
  EXPECT_EQ(bits_of(cast(f, DType::BFloat16)), (std::vector<uint16_t>{0x3F80, 0x3F82, 0x3EF5}));
  EXPECT_EQ(cast(halves<BFloat16>({0x3EF5, 0xC040}), DType::Float32).to_vector<float>(),
            (std::vector<float>{0.478515625f, -3.0f}));
  // float16 <-> bfloat16: 65504 needs 11 significant bits, bfloat16 keeps 8: 65536.
  EXPECT_EQ(bits_of(cast(halves<Float16>({0x7BFF}), DType::BFloat16)), (std::vector<uint16_t>{0x4780}));
  EXPECT_EQ(bits_of(cast(halves<BFloat16>({0x4780}), DType::Float16)), (std::vector<uint16_t>{0x7C00}));
  // CastLike takes the type of its second input.
  Tensor like = run("CastLike", {Tensor::from_vector<double>({1}, {65520.0}), halves<Float16>({0})});
  EXPECT_EQ(bits_of(like), (std::vector<uint16_t>{0x7C00}));
}

// ---- protos and import ------------------------------------------------------------------------

TEST(HalfProto, Int32DataHoldsTheBits) {
  onnx::TensorProto proto;
  proto.set_name("h");
  proto.set_data_type(onnx::TensorProto::FLOAT16);
  proto.add_dims(2);
  proto.add_int32_data(0x3C00);
  proto.add_int32_data(0xFBFF);
  Tensor t = tensor_from_proto(proto, {}, "memory");
  EXPECT_EQ(bits_of(t), (std::vector<uint16_t>{0x3C00, 0xFBFF}));
  proto.set_int32_data(1, 0x12345);
  try {
    tensor_from_proto(proto, {}, "memory");
    ADD_FAILURE() << "an entry above 16 bits was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'h'"), std::string::npos) << e.what();
  }
  // raw_data, and back through tensor_to_proto.
  onnx::TensorProto raw;
  tensor_to_proto(halves<BFloat16>({0x3F80, 0x7FC0}), "b", &raw);
  EXPECT_EQ(raw.data_type(), onnx::TensorProto::BFLOAT16);
  EXPECT_EQ(bits_of(tensor_from_proto(raw, {}, "memory")), (std::vector<uint16_t>{0x3F80, 0x7FC0}));
}

onnx::ModelProto cast_model(int32_t from, int32_t to) {
  using namespace ocs::testing;
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2}, from);
  *g->add_output() = value_info("y", {2}, to);
  auto n = node("Cast", {"x"}, {"y"}, "to_half");
  auto* a = n.add_attribute();
  a->set_name("to");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(to);
  *g->add_node() = n;
  return m;
}

TEST(HalfImport, CastGraphsAndFloat16ComputeImport) {
  using namespace ocs::testing;
  Graph to_half = import_onnx_bytes(serialize(cast_model(onnx::TensorProto::FLOAT, onnx::TensorProto::FLOAT16)), {}, "m.onnx");
  EXPECT_EQ(to_half.values[to_half.outputs[0]].dtype, DType::Float16);
  Graph from_bf = import_onnx_bytes(serialize(cast_model(onnx::TensorProto::BFLOAT16, onnx::TensorProto::FLOAT)), {}, "m.onnx");
  EXPECT_EQ(from_bf.values[from_bf.inputs[0]].dtype, DType::BFloat16);

  // Add of two float16 inputs, and a Relu after a Cast to float16: computed in float32
  // (onnx/half_to_float.h; tests/node_identity_test.cpp checks the values).
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("a", {2}, onnx::TensorProto::FLOAT16);
  *g->add_output() = value_info("s", {2}, onnx::TensorProto::FLOAT16);
  *g->add_node() = node("Add", {"a", "a"}, {"s"}, "the_add");
  ImportOptions quiet;
  quiet.note = nullptr;
  Graph added = import_onnx_bytes(serialize(m), {}, "m.onnx", quiet);
  EXPECT_EQ(added.values[added.outputs[0]].dtype, DType::Float16);
  onnx::ModelProto chain = cast_model(onnx::TensorProto::FLOAT, onnx::TensorProto::FLOAT16);
  chain.mutable_graph()->mutable_output(0)->set_name("r");
  *chain.mutable_graph()->add_node() = node("Relu", {"y"}, {"r"}, "the_relu");
  Graph relu = import_onnx_bytes(serialize(chain), {}, "m.onnx", quiet);
  EXPECT_EQ(relu.values[relu.outputs[0]].dtype, DType::Float16);

  // A NaN in a float16 weight is refused like a float32 one.
  onnx::ModelProto nan_model = cast_model(onnx::TensorProto::FLOAT, onnx::TensorProto::FLOAT);
  auto* w = nan_model.mutable_graph()->add_initializer();
  tensor_to_proto(halves<Float16>({0x3C00, 0x7E00}), "w16", w);
  try {
    import_onnx_bytes(serialize(nan_model), {}, "m.onnx");
    ADD_FAILURE() << "NaN float16 weight was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'w16'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ocs
