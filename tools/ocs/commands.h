// The CLI's subcommands. Each registers its options on the CLI11 app and returns the action to
// run once parsing succeeded. Only argument handling lives here; the work is in the library.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace ocs::cli {

using Action = std::function<int()>;

Action add_run_command(CLI::App& app);
Action add_inspect_command(CLI::App& app);
Action add_ops_command(CLI::App& app);
Action add_eval_command(CLI::App& app);
Action add_quantize_command(CLI::App& app);
Action add_sweep_command(CLI::App& app);
Action add_stream_command(CLI::App& app);

}  // namespace ocs::cli
