// The quantizer's cache (recipe/quantize_cache.h) changes the time a sweep takes, never its
// result: for every configuration of a grid, quantize_model with one cache shared by the whole
// grid, filled from two threads as `ocs sweep` fills it, writes the same ONNX bytes and the same
// report as a run without a cache. The grid covers what the cache keys on: bit widths, clip
// methods, ratios that give the same number of splits on some layers (0.01 and 0.02 on 16 and 32
// channels), both split modes, --ocs-clip-on original, per-channel scales, activation OCS, both
// QDQ layouts and weight-only quantization.
#include "calib/clip_method.h"
#include "data/sample_source.h"
#include "onnx/onnx_io.h"
#include "quant/ocs_split.h"
#include "recipe/quantizer.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

namespace ocs {
namespace {
namespace fs = std::filesystem;
using namespace ocs::testing;

// BatchNorm after every conv, 16 to 64 channels: folding and splitting both matter.
const fs::path kResnet = fs::path(OCS_SOURCE_DIR) / "models" / "fashion_resnet.onnx";

std::vector<QuantizeOptions> grid() {
  std::vector<QuantizeOptions> all;
  QuantizeOptions base;
  base.format = "qdq-inputs";
  base.calib_samples = 16;
  base.threads = 1;
  for (const char* clip : {"max", "mse", "aciq", "kl"})
    for (int bits : {4, 6})
      for (double ratio : {0.0, 0.01, 0.02, 0.1}) {
        QuantizeOptions o = base;
        o.weight_clip = clip;
        o.weight_bits = bits;
        o.ocs_ratio = ratio;
        all.push_back(o);
      }
  auto variant = [&](auto change) {
    QuantizeOptions o = base;
    o.weight_clip = "mse";
    o.weight_bits = 5;
    o.ocs_ratio = 0.05;
    change(o);
    all.push_back(o);
  };
  variant([](QuantizeOptions& o) { o.split = "naive"; });
  variant([](QuantizeOptions& o) { o.ocs_clip_on = "original"; });
  variant([](QuantizeOptions& o) { o.per_channel = true; });
  variant([](QuantizeOptions& o) { o.per_channel = true, o.ocs_ratio = 0; });
  variant([](QuantizeOptions& o) { o.act_ocs_ratio = 0.05; });
  variant([](QuantizeOptions& o) { o.format = "qdq"; });
  variant([](QuantizeOptions& o) { o.activation_bits = 0; });
  variant([](QuantizeOptions& o) { o.format = "split-float"; });
  variant([](QuantizeOptions& o) { o.max_overhead = 2.0; });
  return all;
}

// The report without the steps' timings; a calibration taken from the cache says so in its step's
// name, otherwise the same.
nlohmann::json untimed(nlohmann::json report) {
  for (auto& step : report["steps"]) {
    step.erase("seconds");
    if (step["step"] == "calibrate (reused)") step["step"] = "calibrate";
  }
  return report;
}

TEST(QuantizeCache, CachedRunsWriteTheSameModelsAndReports) {
  const Graph g = import_onnx_file(kResnet);
  const std::vector<QuantizeOptions> configs = grid();
  const auto calib_arrays = [] { return std::map<std::string, Tensor>{{"input", random_tensor({16, 1, 28, 28}, 5)}}; };

  std::vector<std::string> expected_bytes, cached_bytes(configs.size());
  std::vector<nlohmann::json> expected_reports, cached_reports(configs.size());
  for (const QuantizeOptions& o : configs) {
    ArraySampleSource calib(g, calib_arrays(), 16);
    const QuantizeResult r = quantize_model(g, o, &calib);
    expected_bytes.push_back(export_onnx_bytes(r.graph));
    expected_reports.push_back(untimed(r.report));
  }

  QuantizeCache cache;
  ArraySampleSource shared_calib(g, calib_arrays(), 16);
  auto run = [&](size_t first) {
    for (size_t i = first; i < configs.size(); i += 2) {
      const QuantizeResult r = quantize_model(g, configs[i], &shared_calib, &cache);
      cached_bytes[i] = export_onnx_bytes(r.graph);
      cached_reports[i] = untimed(r.report);
    }
  };
  std::thread other(run, 1);
  run(0);
  other.join();

  for (size_t i = 0; i < configs.size(); ++i) {
    const std::string label = configs[i].to_json().dump();
    EXPECT_TRUE(cached_bytes[i] == expected_bytes[i]) << label;
    EXPECT_EQ(cached_reports[i], expected_reports[i]) << label;
  }
  // The cache was used: one calibration of the float model for every layout that shares its
  // watched tensors, thresholds and naive splits reused across the grid.
  EXPECT_GE(cache.hits, static_cast<int64_t>(configs.size()) - 4);
  EXPECT_LE(cache.misses, 3);
  EXPECT_GT(cache.threshold_hits(), 0);
  EXPECT_GT(cache.split_hits(), 0);
}

// Entries are found by contents, not by where a tensor lives: equal contents in another buffer
// hit, other contents of the same shape (or another bit width or k) miss and get their own value,
// which is the uncached function's.
TEST(QuantizeCache, EntriesAreKeyedByContentsBitsAndSplitCount) {
  QuantizeCache cache;
  const auto max = make_clip_method("max");
  const auto mse = make_clip_method("mse");
  const Tensor a = random_tensor({8, 4, 3, 3}, 1), b = random_tensor({8, 4, 3, 3}, 2);
  EXPECT_EQ(cache.threshold(*mse, a, 4), mse->threshold_of_tensor(a, 4));
  EXPECT_EQ(cache.threshold(*mse, b, 4), mse->threshold_of_tensor(b, 4));
  EXPECT_EQ(cache.threshold(*mse, a, 6), mse->threshold_of_tensor(a, 6));
  EXPECT_EQ(cache.threshold(*max, a, 4), max->threshold_of_tensor(a, 4));
  EXPECT_EQ(cache.threshold_hits(), 0);
  EXPECT_EQ(cache.threshold(*mse, a.clone(), 4), mse->threshold_of_tensor(a, 4));
  EXPECT_EQ(cache.threshold_hits(), 1);

  const OcsNaiveSplit one = cache.naive_split(a, 1, 1), two = cache.naive_split(a, 1, 2);
  EXPECT_EQ(one.weight.dim(1), 5);
  EXPECT_EQ(two.weight.dim(1), 6);
  EXPECT_EQ(two.duplicated, ocs_split_naive(a, 1, 2).duplicated);
  EXPECT_EQ(cache.naive_split(b, 1, 1).duplicated, ocs_split_naive(b, 1, 1).duplicated);
  EXPECT_EQ(cache.split_hits(), 0);
  const OcsNaiveSplit again = cache.naive_split(a.clone(), 1, 2);
  EXPECT_EQ(cache.split_hits(), 1);
  EXPECT_EQ(again.duplicated, two.duplicated);
  EXPECT_EQ(again.weight.to_vector<float>(), ocs_split_naive(a, 1, 2).weight.to_vector<float>());
}

}  // namespace
}  // namespace ocs
