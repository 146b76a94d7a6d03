#include "commands.h"
#include "engine/session.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <unistd.h>

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

// All or nothing: every output is written to a temporary file first; only when all of them are
// written are they renamed into place, so a failure leaves no mix of old and new files. Returns
// the file of each output (npy_file_name: escaped, shortened with a hash when too long).
std::vector<fs::path> write_outputs(const Graph& graph, const std::vector<Tensor>& outputs, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    user_error("cannot create output folder '{}': {}", dir.string(), ec ? ec.message() : "a file is in the way");
  std::vector<std::pair<fs::path, fs::path>> written;  // temp -> final
  std::vector<fs::path> files;
  try {
    for (size_t i = 0; i < outputs.size(); ++i) {
      fs::path final_path = dir / npy_file_name(graph.values[graph.outputs[i]].name);
      files.push_back(final_path);
      fs::path temp = dir / fmt::format(".{}.tmp.{}", final_path.filename().string(), ::getpid());
      written.emplace_back(temp, final_path);
      write_npy(temp, outputs[i]);
    }
  } catch (...) {
    for (const auto& [temp, final_path] : written) fs::remove(temp, ec);
    throw;
  }
  for (const auto& [temp, final_path] : written) {
    if (fs::is_directory(final_path, ec)) {
      for (const auto& [t, f] : written) fs::remove(t, ec);
      user_error("cannot write '{}': a folder is in the way", final_path.string());
    }
  }
  for (const auto& [temp, final_path] : written) {
    fs::rename(temp, final_path, ec);
    if (ec) user_error("cannot move '{}' into place: {}", final_path.string(), ec.message());
  }
  return files;
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
                  "write each output as DIR/<name>.npy (bytes outside [A-Za-z0-9._-] become %XX; a name "
                  "over 200 bytes is cut to 180 + '~' + 16 hex digits of its hash, and the run says so)");
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
    for (auto& [name, tensor] : inputs)
      if (ValueId id = graph->find_value(name); id != kNoValue)
        tensor = npy_input_as(tensor, graph->values[id].dtype);
    SessionOptions options;
    options.reference_kernels_only = opt->reference;
    options.threads = opt->threads;
    options.fuse = !opt->no_fuse;
    Session session(graph, options);
    auto start = std::chrono::steady_clock::now();
    std::vector<Tensor> outputs = session.run(inputs);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    for (size_t i = 0; i < outputs.size(); ++i)
      std::cout << graph->values[graph->outputs[i]].name << ": " << summary(outputs[i]) << "\n";
    if (!opt->output_dir.empty()) {
      const std::vector<fs::path> files = write_outputs(*graph, outputs, opt->output_dir);
      for (size_t i = 0; i < files.size(); ++i) {
        const std::string& name = graph->values[graph->outputs[i]].name;
        if (files[i].stem().string() != escape_file_name(name))
          std::cout << fmt::format("output '{}' (name too long for a file) is in {}\n", name, files[i].string());
      }
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
