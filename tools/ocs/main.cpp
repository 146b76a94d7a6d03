// ocs: quantize neural networks with Outlier Channel Splitting. Entry point and error policy:
// user errors exit 2 with their message, internal errors exit 3 and ask for a bug report.
#include "commands.h"
#include "core/error.h"
#include "core/memory_budget.h"

#include <cstdlib>
#include <iostream>
#include <malloc.h>
#include <unistd.h>

// oneDNN threads with OpenMP, whose default wait policy spins at every barrier. On a machine
// with other work running, 2-thread runs then stall (resnet50: 456 ms instead of 65 ms, see
// docs/PERFORMANCE.md). libgomp reads the policy before main() runs, so when the user has not
// chosen one we choose passive and restart once with it set.
static void prefer_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run on with the default policy
}

// Tensors are allocated and freed per node and per run. glibc serves blocks above its mmap
// threshold (at most 32 MB) with fresh mappings, so every run faulted in and zeroed its large
// tensors again: a quarter of the CPU time of calibrating PP-OCRv4 rec (docs/QUANTIZE.md). Kept in
// the heap, freed blocks are reused; the peak memory is the same.
static void reuse_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

int main(int argc, char** argv) {
  prefer_passive_openmp(argv);
  reuse_freed_memory();
  CLI::App app{"ocs: run, inspect and quantize ONNX models (Outlier Channel Splitting)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ocs 0.1.0");
  std::vector<std::pair<CLI::App*, ocs::cli::Action>> commands;
  auto add = [&](ocs::cli::Action (*make)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    ocs::cli::Action action = make(app);
    commands.emplace_back(app.get_subcommands({})[before], action);
  };
  add(ocs::cli::add_run_command);
  add(ocs::cli::add_inspect_command);
  add(ocs::cli::add_quantize_command);
  add(ocs::cli::add_eval_command);
  add(ocs::cli::add_sweep_command);
  add(ocs::cli::add_stream_command);
  add(ocs::cli::add_ops_command);
  // The commands that run models share one memory budget option (core/memory_budget.h).
  std::string max_memory;
  for (const char* name : {"run", "eval", "quantize", "sweep", "stream"})
    app.get_subcommand(name)->add_option("--max-memory", max_memory, fmt::format(
        "most tensor memory a run may hold, e.g. 4G or 512M (default: half of the physical memory, "
        "{} here)", ocs::format_bytes(ocs::default_memory_limit())));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (!max_memory.empty()) ocs::set_memory_limit(ocs::parse_memory_size(max_memory, "--max-memory"));
    for (auto& [sub, action] : commands)
      if (sub->parsed()) return action();
  } catch (const ocs::UserError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const ocs::InternalError& e) {
    std::cerr << e.what() << "\nThis is a bug in ocs; please report it with the command you ran.\n";
    return 3;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory\n";
    return 4;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\nThis is a bug in ocs; please report it.\n";
    return 3;
  }
  return 0;
}
