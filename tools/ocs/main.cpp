// ocs: quantize neural networks with Outlier Channel Splitting. Entry point and error policy:
// user errors exit 2 with their message, internal errors exit 3 and ask for a bug report.
#include "commands.h"
#include "core/error.h"

#include <iostream>

int main(int argc, char** argv) {
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
  add(ocs::cli::add_ops_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
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
