#include "commands.h"
#include "engine/session.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

namespace ocs::cli {
namespace fs = std::filesystem;

namespace {

std::map<std::string, Tensor> read_inputs(const std::vector<std::string>& specs) {
  std::map<std::string, Tensor> inputs;
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) {
      if (fs::path(spec).extension() == ".npz") {
        for (auto& [name, t] : read_npz(spec)) inputs[name] = std::move(t);
        continue;
      }
      user_error("--input '{}' must be NAME=FILE.npy or FILE.npz", spec);
    }
    inputs[spec.substr(0, eq)] = read_npy(spec.substr(eq + 1));
  }
  return inputs;
}

std::string summary(const Tensor& t) {
  if (t.numel() == 0 || !(t.dtype() == DType::Float32 || t.dtype() == DType::Float64))
    return fmt::format("{} {}", dtype_name(t.dtype()), shape_str(t.shape()));
  auto v = t.to_double_vector();
  double lo = v[0], hi = v[0], sum = 0;
  for (double x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
  }
  return fmt::format("{} {} min {:.6g} max {:.6g} mean {:.6g}", dtype_name(t.dtype()),
                     shape_str(t.shape()), lo, hi, sum / static_cast<double>(v.size()));
}

}  // namespace

Action add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Run a model on .npy inputs and write its outputs as .npy");
  struct Options {
    std::string model;
    std::vector<std::string> inputs;
    std::string output_dir;
    bool reference = false;
    int threads = 0;
    int repeat = 0;
    int warmup = 0;
    bool no_fuse = false;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("model", opt->model, "ONNX model file")->required();
  cmd->add_option("--input,-i", opt->inputs, "NAME=FILE.npy for each graph input, or FILE.npz");
  cmd->add_option("--output-dir,-o", opt->output_dir,
                  "write each output as DIR/<name>.npy (bytes outside [A-Za-z0-9._-] become %XX)");
  cmd->add_flag("--reference", opt->reference, "use the plain reference kernels (slow; the oracle)");
  cmd->add_flag("--no-fuse", opt->no_fuse, "fast kernels one node at a time on plain tensors (no fusion, no blocked layouts)");
  cmd->add_option("--threads", opt->threads, "threads (default: all cores)");
  cmd->add_option("--repeat", opt->repeat, "after the first run, run N more times and print the median latency")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--warmup", opt->warmup, "with --repeat: untimed runs before the timed ones (besides the first)")
      ->check(CLI::Range(0, 100000));
  return [opt]() {
    auto graph = std::make_shared<const Graph>(import_onnx_file(opt->model));
    auto inputs = read_inputs(opt->inputs);
    if (!opt->output_dir.empty()) {
      std::error_code ec;
      fs::create_directories(opt->output_dir, ec);
      if (ec) user_error("cannot create output folder '{}': {}", opt->output_dir, ec.message());
    }
    SessionOptions options;
    options.reference_kernels_only = opt->reference;
    options.threads = opt->threads;
    options.fuse = !opt->no_fuse;
    Session session(graph, options);
    auto start = std::chrono::steady_clock::now();
    std::vector<Tensor> outputs = session.run(inputs);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    for (size_t i = 0; i < outputs.size(); ++i) {
      const std::string& name = graph->values[graph->outputs[i]].name;
      std::cout << name << ": " << summary(outputs[i]) << "\n";
      if (!opt->output_dir.empty()) write_npy(fs::path(opt->output_dir) / (escape_file_name(name) + ".npy"), outputs[i]);
    }
    std::cout << fmt::format("ran in {:.2f} ms\n", ms);
    if (opt->repeat > 0) {
      for (int r = 0; r < opt->warmup; ++r) session.run(inputs);
      std::vector<double> times;
      for (int r = 0; r < opt->repeat; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        session.run(inputs);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(times.begin(), times.end());
      std::cout << fmt::format("median latency over {} runs: {:.3f} ms (min {:.3f}, max {:.3f})\n",
                               times.size(), times[times.size() / 2], times.front(), times.back());
    }
    return 0;
  };
}

}  // namespace ocs::cli
