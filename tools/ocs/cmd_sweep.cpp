#include "commands.h"
#include "io/atomic_file.h"
#include "sweep/grid.h"
#include "sweep/plots.h"
#include "sweep/runner.h"
#include "sweep/table.h"

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace ocs::cli {
namespace fs = std::filesystem;
namespace {

void write_text(const fs::path& path, const std::string& text) {
  write_file_atomically(path, [&](std::ofstream& out) { out << text; });
}

// Writes every output of a sweep into `dir`.
void write_outputs(const fs::path& dir, const SweepResult& result, const nlohmann::json& run_info) {
  fs::create_directories(dir);
  const std::string markdown = sweep_markdown(result);
  const auto plots = sweep_plots(result);
  write_text(dir / "results.csv", sweep_csv(result));
  write_text(dir / "results.md", markdown);
  for (const auto& [name, svg] : plots) write_text(dir / name, svg);
  write_text(dir / "report.html", sweep_html(result, markdown, plots));
  if (result.histogram.is_object()) write_text(dir / "histogram.json", result.histogram.dump() + "\n");
  if (!run_info.is_null()) write_text(dir / "sweep.json", run_info.dump(2) + "\n");
  std::cout << markdown;
  std::cout << fmt::format("wrote {}/results.csv, results.md, report.html and {} plots\n", dir.string(), plots.size());
}

}  // namespace

Action add_sweep_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "Quantize a model over a grid of settings (bits x clip methods x OCS "
                                          "ratios x split modes) and measure each result; tables and plots");
  struct Options {
    std::string model;
    SweepSetup setup;
    SweepGrid grid;
    std::string output_dir;
    std::string shard = "1/1";
    std::vector<std::string> merge;
    bool no_reuse = false;
    bool quantize_ends = false;
    bool force = false;
  };
  auto opt = std::make_shared<Options>();
  auto& s = opt->setup;
  cmd->add_option("model", opt->model, "float ONNX model");
  cmd->add_option("--format", s.base.format, "qdq-inputs (default: the paper's layout) or qdq (the deployable one)");
  cmd->add_option("--calib", s.base.calib, "calibration data (as for ocs quantize)");
  cmd->add_option("--calib-samples", s.base.calib_samples, "calibration samples (default 512)");
  cmd->add_option("--data", s.data, "evaluation data (as for ocs eval)");
  cmd->add_option("--limit", s.limit, "at most this many evaluation samples")->check(CLI::PositiveNumber);
  cmd->add_option("--metric", s.metrics, "metric(s); the first is the headline of tables and plots");
  cmd->add_option("--keys", s.metric_options.keys_file, "character list of a CTC recognizer (metric cer)");
  cmd->add_option("--wbits", opt->grid.weight_bits, "weight bit widths (default 8,7,6,5,4)")->delimiter(',');
  cmd->add_option("--abits", opt->grid.activation_bits, "activation bit widths, 0 = float (default 8)")->delimiter(',');
  cmd->add_option("--ocs-ratio", opt->grid.ocs_ratios, "weight OCS expand ratios (default 0,0.01,0.02,0.05,0.1)")->delimiter(',');
  cmd->add_option("--wclip", opt->grid.weight_clips, "weight clip methods (default max,mse,aciq,kl: the reference's definitions; also mse-fine, aciq-std, kl-nonzero, percentile[:P])")->delimiter(',');
  cmd->add_option("--ocs-clip-on", s.base.ocs_clip_on, "split (default) or original: the weight threshold of OCS + clip on the split or the unsplit weight (the reference's order)");
  cmd->add_flag("--no-fold-batchnorm{false}", s.base.fold_batchnorm, "keep BatchNormalization as a float op after the quantized layer (the reference's policy)");
  cmd->add_option("--split", opt->grid.splits, "split modes, qa and/or naive (default qa)")->delimiter(',');
  cmd->add_option("--aclip", opt->grid.activation_clips, "activation clip methods (default max, the paper's protocol; ocs quantize defaults to mse)")->delimiter(',');
  cmd->add_option("--act-ocs-ratio", opt->grid.act_ocs_ratios, "activation OCS expand ratios (default 0)")->delimiter(',');
  cmd->add_flag("--per-channel", s.base.per_channel, "one weight scale per output channel (not the paper's setting)");
  cmd->add_flag("--unsigned-activations", s.base.unsigned_activations, "unsigned grid after ReLU-like ops");
  cmd->add_flag("--quantize-first-last", opt->quantize_ends, "also quantize the first conv and last FC layer");
  cmd->add_option("--exclude", s.base.exclude, "node names to leave in float");
  cmd->add_option("--output-dir", opt->output_dir, "where results.csv, results.md, *.svg and report.html go")->required();
  cmd->add_option("--shard", opt->shard, "run only shard i of n (round robin over the grid), e.g. 2/4; merge with --merge");
  cmd->add_option("--merge", opt->merge, "merge the results.csv files of shards into --output-dir (no model needed)");
  cmd->add_flag("--no-reuse", opt->no_reuse, "recompute calibration, data and float outputs for every configuration (for benchmarks)");
  cmd->add_flag("--force", opt->force, "overwrite results already in --output-dir");
  cmd->add_option("--threads", s.base.threads, "threads (default: all cores)");
  return [opt]() {
    const fs::path dir = opt->output_dir;
    std::error_code ec;
    if (fs::exists(dir / "results.csv", ec) && !opt->force)
      user_error("'{}' already holds sweep results; pass --force to overwrite them or choose another --output-dir",
                 dir.string());
    if (!opt->merge.empty()) {
      std::vector<fs::path> paths(opt->merge.begin(), opt->merge.end());
      SweepResult merged = read_sweep_csvs(paths);
      for (const auto& p : paths) {
        std::ifstream h(fs::path(p).parent_path() / "histogram.json");
        if (h) {
          merged.histogram = nlohmann::json::parse(h, nullptr, false);
          if (merged.histogram.is_discarded()) merged.histogram = nullptr;
          break;
        }
      }
      write_outputs(dir, merged, nullptr);
      return 0;
    }
    if (opt->model.empty()) user_error("give the float MODEL to sweep (or --merge CSV files)");
    if (opt->setup.data.empty()) user_error("give --data: the evaluation data of the sweep");
    opt->setup.model_path = opt->model;
    opt->setup.reuse = !opt->no_reuse;
    opt->setup.base.keep_first_last_float = !opt->quantize_ends;
    for (int a : opt->grid.activation_bits)
      if (a > 0 && opt->setup.base.calib.empty())
        user_error("--abits {} quantizes activations, which needs --calib data (or use --abits 0)", a);
    const Shard shard = parse_shard(opt->shard);
    const auto all = expand_grid(opt->grid);
    const auto mine = shard_configs(all, shard);
    // Validate every configuration before the long work starts.
    for (const auto& c : mine) c.apply(opt->setup.base).validate();
    std::cerr << fmt::format("sweep: {} configurations in the grid, {} in shard {}\n", all.size(), mine.size(), opt->shard);
    SweepResult result = run_sweep(opt->setup, mine);
    nlohmann::json info = {{"model", opt->model}, {"configurations", mine.size()}, {"grid_size", all.size()},
                           {"shard", opt->shard}, {"reuse", opt->setup.reuse}, {"seconds", result.seconds},
                           {"calibration_passes", result.calibrations},
                           {"ocs_clip_on", opt->setup.base.ocs_clip_on}, {"fold_batchnorm", opt->setup.base.fold_batchnorm}};
    std::cerr << fmt::format("sweep: {} configurations in {:.1f} s ({} calibration passes{})\n", mine.size(),
                             result.seconds, result.calibrations, opt->setup.reuse ? ", data and float outputs reused" : ", nothing reused");
    write_outputs(dir, result, info);
    return 0;
  };
}

}  // namespace ocs::cli
