// ocs: quantize neural networks with Outlier Channel Splitting. Entry point and error policy:
// user errors exit 2 with their message, internal errors exit 3 and ask for a bug report.
#include "commands.h"
#include "core/error.h"
#include "core/memory_budget.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <malloc.h>
#include <string>
#include <unistd.h>

// oneDNN threads with OpenMP. A thread waiting at a barrier either spins (OpenMP's default, for
// about 300,000 turns) or sleeps until woken (passive). Spinning stalls 2-thread runs whenever
// other work runs on the machine (resnet50: 456 ms instead of 65 ms); sleeping costs a futex
// wake per oneDNN primitive, up to 45% of a quantized PP-OCRv4 rec run on a free machine. So
// when the user has not chosen (OMP_WAIT_POLICY, GOMP_SPINCOUNT), the threads spin briefly if the
// cores they need are free when ocs starts, and sleep at once otherwise (docs/PERFORMANCE.md,
// "Decision: OpenMP threads spin briefly..."). libgomp reads both before main() runs: we set them
// and restart once.
// Turns of the brief spin: 1% of OpenMP's default (docs/PERFORMANCE.md measures the choice).
static const char* const kBriefSpin = "3000";

static int threads_asked(int argc, char** argv, int cores) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--threads" && i + 1 < argc) return std::max(1, std::atoi(argv[i + 1]));
    if (arg.rfind("--threads=", 0) == 0) return std::max(1, std::atoi(arg.c_str() + 10));
  }
  return cores;
}

// Runnable tasks other than this one, the most seen in a few looks at /proc/loadavg ("R/T").
static int others_running() {
  int most = 0;
  for (int look = 0; look < 4; ++look) {
    if (look > 0) usleep(500);
    std::FILE* f = std::fopen("/proc/loadavg", "r");
    if (!f) return 1 << 20;  // unknown: assume busy
    double l1, l5, l15;
    int running = 0, total = 0;
    const int got = std::fscanf(f, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total);
    std::fclose(f);
    if (got != 5) return 1 << 20;
    most = std::max(most, running - 1);
  }
  return most;
}

static void choose_openmp_waiting(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  const int cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (others_running() + threads_asked(argc, argv, cores) <= cores) setenv("GOMP_SPINCOUNT", kBriefSpin, 1);
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
  choose_openmp_waiting(argc, argv);
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
