// `ocs sweep`: the grid and its shards, reuse that changes nothing but the time, results that
// survive CSV and merging, and plots that draw what they are given.
#include "core/error.h"
#include "engine/session.h"
#include "eval/sample_source_spec.h"
#include "eval/topk_fidelity.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"
#include "report/svg_chart.h"
#include "sweep/grid.h"
#include "sweep/runner.h"
#include "sweep/table.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <unistd.h>

namespace ocs {
namespace {
namespace fs = std::filesystem;

const fs::path kSmallCnn = fs::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx";

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(SweepGrid, FullGridHasEveryPointOnceAndDropsMootSplits) {
  SweepGrid grid;  // 5 bit widths x 4 clip methods x 5 ratios, qa only
  auto configs = expand_grid(grid);
  EXPECT_EQ(configs.size(), 100u);
  grid.splits = {"qa", "naive"};
  configs = expand_grid(grid);
  // r = 0 splits nothing, so it appears once per (bits, clip): 5 * 4 * (1 + 4 * 2).
  ASSERT_EQ(configs.size(), 180u);
  std::set<std::tuple<int, std::string, double, std::string>> seen;
  for (size_t i = 0; i < configs.size(); ++i) {
    EXPECT_EQ(configs[i].index, static_cast<int>(i));
    EXPECT_EQ(configs[i].split == "-", configs[i].ocs_ratio == 0.0);
    EXPECT_TRUE(seen.emplace(configs[i].weight_bits, configs[i].weight_clip, configs[i].ocs_ratio, configs[i].split).second);
  }
  QuantizeOptions options = configs[7].apply({});
  EXPECT_EQ(options.weight_bits, configs[7].weight_bits);
  EXPECT_EQ(options.ocs_ratio, configs[7].ocs_ratio);
  EXPECT_EQ(options.weight_clip, configs[7].weight_clip);
  grid.weight_clips.clear();
  EXPECT_THROW(expand_grid(grid), UserError);
}

TEST(SweepGrid, ShardsPartitionTheGrid) {
  auto all = expand_grid(SweepGrid{});
  std::set<int> union_of_shards;
  size_t total = 0;
  for (int i = 1; i <= 3; ++i) {
    auto mine = shard_configs(all, parse_shard(fmt::format("{}/3", i)));
    total += mine.size();
    for (const auto& c : mine) union_of_shards.insert(c.index);
    EXPECT_GE(mine.size(), all.size() / 3);
  }
  EXPECT_EQ(total, all.size());
  EXPECT_EQ(union_of_shards.size(), all.size());
  for (const char* bad : {"0/3", "4/3", "2", "a/b", "1/0", "1/3x", ""})
    EXPECT_THROW(parse_shard(bad), UserError) << bad;
}

class SweepRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ocs_sweep_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    std::mt19937 rng(3);
    for (const char* name : {"calib", "data"})
      write_npy(dir_ / (std::string(name) + ".npy"), testing::random_normal_tensor({24, 1, 28, 28}, rng, 0.6f));
    setup_.model_path = kSmallCnn.string();
    setup_.base.calib = {"input=" + (dir_ / "calib.npy").string()};
    setup_.base.calib_samples = 24;
    setup_.base.threads = 1;
    setup_.data = {"input=" + (dir_ / "data.npy").string()};
    setup_.metrics = {"fidelity"};
    grid_.weight_bits = {8, 4};
    grid_.ocs_ratios = {0.0, 0.1};
    grid_.weight_clips = {"max", "mse"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  SweepSetup setup_;
  SweepGrid grid_;
};

TEST_F(SweepRun, ReuseChangesTheTimeNotTheResults) {
  const auto configs = expand_grid(grid_);
  SweepResult reused = run_sweep(setup_, configs);
  setup_.reuse = false;
  SweepResult fresh = run_sweep(setup_, configs);
  ASSERT_EQ(reused.rows.size(), configs.size() + 1);
  ASSERT_EQ(fresh.rows.size(), reused.rows.size());
  EXPECT_EQ(reused.calibrations, 1);  // one pass over the calibration data for the whole grid
  EXPECT_EQ(fresh.calibrations, static_cast<int64_t>(configs.size()));
  EXPECT_TRUE(reused.rows[0].is_float);
  EXPECT_TRUE(std::isinf(reused.rows[0].headline));  // float vs itself: no noise
  for (size_t i = 1; i < reused.rows.size(); ++i) {
    EXPECT_EQ(reused.rows[i].headline, fresh.rows[i].headline) << reused.rows[i].config.label();
    EXPECT_EQ(reused.rows[i].size_overhead_percent, fresh.rows[i].size_overhead_percent);
  }
  // OCS adds weights exactly when r > 0; 8-bit weights are closer to float than 4-bit ones.
  for (size_t i = 1; i < reused.rows.size(); ++i)
    EXPECT_EQ(reused.rows[i].size_overhead_percent > 0, reused.rows[i].config.ocs_ratio > 0);
  EXPECT_GT(reused.rows[1].headline, reused.rows.back().headline);

  // One configuration measured independently: quantize_model + a fresh session + Fidelity.
  const SweepConfig& c = configs[2];
  Graph g = import_onnx_file(kSmallCnn);
  auto calib = make_sample_source(setup_.base.calib, g, 24);
  QuantizeResult q = quantize_model(g, c.apply(setup_.base), calib.get());
  Tensor x = read_npy(dir_ / "data.npy");
  Session float_session(std::make_shared<const Graph>(g)), quant_session(std::make_shared<const Graph>(q.graph));
  Fidelity fidelity;
  for (int64_t n = 0; n < 24; ++n) {
    Tensor one(DType::Float32, {1, 1, 28, 28});
    std::copy_n(x.data<float>() + n * 784, 784, one.data<float>());
    fidelity.add(float_session.run({{"input", one}})[0], quant_session.run({{"input", one}})[0]);
  }
  EXPECT_NEAR(reused.rows[3].headline, fidelity.sqnr_db(), 1e-9);  // rows[0] is float: row i+1 = config i
}

// Two workers quantizing concurrently with one cache (KL thresholds, ratios 0.01 and 0.02 giving
// the same number of splits) give every row of a one-thread run that starts each configuration
// from the files, metric for metric.
TEST_F(SweepRun, TwoWorkersWithTheCacheGiveTheRowsOfSeparateRuns) {
  grid_.weight_clips = {"max", "kl"};
  grid_.ocs_ratios = {0.0, 0.01, 0.02};
  const auto configs = expand_grid(grid_);
  setup_.base.threads = 2;
  const SweepResult cached = run_sweep(setup_, configs);
  setup_.base.threads = 1;
  setup_.reuse = false;
  const SweepResult fresh = run_sweep(setup_, configs);
  ASSERT_EQ(cached.rows.size(), configs.size() + 1);
  ASSERT_EQ(fresh.rows.size(), cached.rows.size());
  for (size_t i = 0; i < cached.rows.size(); ++i) {
    const std::string label = cached.rows[i].is_float ? "float" : cached.rows[i].config.label();
    EXPECT_EQ(cached.rows[i].config.index, fresh.rows[i].config.index) << label;
    EXPECT_EQ(cached.rows[i].metrics, fresh.rows[i].metrics) << label;
    EXPECT_EQ(cached.rows[i].channels_split, fresh.rows[i].channels_split) << label;
    EXPECT_EQ(cached.rows[i].mean_weight_sqnr_db, fresh.rows[i].mean_weight_sqnr_db) << label;
  }
  EXPECT_EQ(sweep_markdown(cached), sweep_markdown(fresh));
  EXPECT_EQ(cached.histogram, fresh.histogram);
}

TEST_F(SweepRun, ShardedResultsMergeIntoTheWholeSweep) {
  const auto configs = expand_grid(grid_);
  SweepResult whole = run_sweep(setup_, configs);
  std::vector<fs::path> files;
  for (int i = 1; i <= 2; ++i) {
    SweepResult part = run_sweep(setup_, shard_configs(configs, parse_shard(fmt::format("{}/2", i))));
    files.push_back(dir_ / fmt::format("shard{}.csv", i));
    std::ofstream(files.back()) << sweep_csv(part);
  }
  SweepResult merged = read_sweep_csvs(files);
  ASSERT_EQ(merged.rows.size(), whole.rows.size());
  EXPECT_EQ(merged.headline_metric, "fidelity");
  for (size_t i = 0; i < whole.rows.size(); ++i) {
    EXPECT_EQ(merged.rows[i].config.index, whole.rows[i].config.index);
    EXPECT_EQ(merged.rows[i].config.weight_clip, whole.rows[i].config.weight_clip);
    if (std::isfinite(whole.rows[i].headline)) {
      EXPECT_NEAR(merged.rows[i].headline, whole.rows[i].headline, 1e-6);
    }
    EXPECT_NEAR(merged.rows[i].metrics["cosine"].get<double>(), whole.rows[i].metrics["cosine"].get<double>(), 1e-8);
  }
  EXPECT_EQ(sweep_markdown(merged), sweep_markdown(whole));
  // The same shard twice is an error, as is a file that ocs sweep did not write.
  EXPECT_THROW(read_sweep_csvs({files[0], files[0]}), UserError);
  std::ofstream(dir_ / "other.csv") << "a,b,c\n1,2,3\n";
  EXPECT_THROW(read_sweep_csvs({dir_ / "other.csv"}), UserError);
}

TEST(SweepTable, MarkdownHasOneLinePerMethodAndOneColumnPerBitWidth) {
  SweepResult r;
  r.model = "m.onnx";
  r.headline_metric = "top1";
  SweepRow f;
  f.is_float = true;
  f.headline = 0.9273;
  r.rows.push_back(f);
  int index = 0;
  for (double ratio : {0.0, 0.05})
    for (int bits : {8, 6}) {
      SweepRow row;
      row.config = {index++, bits, 8, ratio, "mse", ratio == 0 ? "-" : "qa"};
      row.headline = 0.9 + bits / 1000.0 + ratio;
      r.rows.push_back(row);
    }
  std::string md = sweep_markdown(r);
  EXPECT_NE(md.find("float model: 92.73"), std::string::npos) << md;
  EXPECT_NE(md.find("| W8 | W6 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| mse | 0 | max | 0 | - | 0.00 | 90.80 | 90.60 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| mse | 0.05 | max | 0 | qa | 0.00 | 95.80 | 95.60 |"), std::string::npos) << md;

  // Only activation bits vary: the columns are activation bit widths.
  for (size_t i = 1; i < r.rows.size(); ++i) {
    r.rows[i].config.activation_bits = r.rows[i].config.weight_bits;
    r.rows[i].config.weight_bits = 8;
  }
  md = sweep_markdown(r);
  EXPECT_NE(md.find("| A8 | A6 |"), std::string::npos) << md;
  EXPECT_NE(md.find("weights 8 bit"), std::string::npos) << md;
}

TEST(SvgChart, DrawsEveryFinitePointAndBreaksLinesAtGaps) {
  LineChart chart;
  chart.title = "a < b & c";
  chart.series.push_back({"one", {4, 5, 6, 7}, {1, 2, NAN, 4}, false});
  chart.series.push_back({"two", {4, 5, 6, 7}, {2, 2, 2, 2}, true});
  chart.reference_y = 3;
  std::string svg = render_svg(chart);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<circle"), 7u);               // 3 + 4 finite points
  EXPECT_NE(svg.find("a &lt; b &amp; c"), std::string::npos);  // escaped title
  // Series one restarts its line after the gap: two move-to commands in its path.
  auto path_start = svg.find("<path d=\"");
  auto path_end = svg.find('"', path_start + 9);
  EXPECT_EQ(count_of(svg.substr(path_start, path_end - path_start), "M"), 2u);

  HistogramChart h;
  h.x_min = -1;
  h.x_max = 1;
  h.names = {"before", "after"};
  h.counts = {{0, 5, 100, 5, 0}, {1, 0, 3}};
  svg = render_svg(h);
  EXPECT_EQ(count_of(svg, "<rect x="), 2u + 3u + 1u);  // non-empty bins + the frame
}

}  // namespace
}  // namespace ocs
