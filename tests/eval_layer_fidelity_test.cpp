// Per-layer fidelity (ocs eval --per-layer): a functionally identical model shows float-level
// SQNR at every layer, coarser weights show less, and the last layer agrees with the model
// output's fidelity computed directly.
#include "eval/layer_fidelity.h"
#include "data/sample_source.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace ocs {
namespace {

const std::filesystem::path kSmallCnn = std::filesystem::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx";

Tensor random_input(uint32_t seed) { return testing::random_normal_tensor({1, 1, 28, 28}, seed, 0.5f); }

// Per-layer SQNR of `quantized` against the float small CNN on 8 inputs, and the output's.
std::pair<nlohmann::json, double> measure(const Graph& float_graph, const Graph& quantized) {
  Session ref(std::make_shared<const Graph>(float_graph)), quant(std::make_shared<const Graph>(quantized));
  LayerFidelity layers(ref.graph(), quant.graph());
  Fidelity output;
  for (uint32_t s = 0; s < 8; ++s) {
    Feed feed{{"input", random_input(s)}};
    auto r = ref.run(feed, layers.reference_observer());
    auto q = quant.run(feed, layers.quantized_observer());
    output.add(r[0], q[0]);
  }
  return {layers.result(), output.sqnr_db()};
}

TEST(LayerFidelity, IdenticalModelIsExactAndQuantizedLayersLoseSignal) {
  const Graph g = import_onnx_file(kSmallCnn);
  QuantizeOptions split;
  split.format = "split-float";
  split.ocs_ratio = 0.1;
  split.activation_bits = 0;
  split.keep_first_last_float = false;
  auto [split_rows, split_out] = measure(g, quantize_model(g, split, nullptr).graph);
  ASSERT_GE(split_rows.size(), 2u);
  for (const auto& row : split_rows) EXPECT_GT(row["sqnr_db"].get<double>(), 80.0) << row.dump();

  QuantizeOptions w4;
  w4.weight_bits = 4;
  w4.activation_bits = 0;
  w4.keep_first_last_float = false;
  auto [rows, out_sqnr] = measure(g, quantize_model(g, w4, nullptr).graph);
  ASSERT_EQ(rows.size(), split_rows.size());
  for (const auto& row : rows) {
    EXPECT_LT(row["sqnr_db"].get<double>(), 40.0) << row.dump();  // 4-bit weights: ~6 dB per bit
    EXPECT_GT(row["sqnr_db"].get<double>(), 0.0) << row.dump();
  }
  // small_cnn ends in its last layer: that row is the output's fidelity.
  EXPECT_NEAR(rows.back()["sqnr_db"].get<double>(), out_sqnr, 1e-9);
}

}  // namespace
}  // namespace ocs
