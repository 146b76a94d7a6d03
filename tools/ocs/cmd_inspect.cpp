#include "analysis/integer_layers.h"
#include "analysis/weight_stats.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "kernels/kernel.h"
#include "onnx/onnx_io.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

namespace ocs::cli {

Action add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Per-layer weight statistics: where the outliers are");
  struct Options {
    std::string model;
    std::string json;
    int top = 5;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("model", opt->model, "ONNX model file")->required();
  cmd->add_option("--json", opt->json, "also write the statistics as JSON to this file");
  cmd->add_option("--top", opt->top, "input channels to list per layer")->check(CLI::Range(1, 1000));
  return [opt]() {
    Graph graph = import_onnx_file(opt->model);
    auto stats = collect_weight_stats(graph, opt->top);
    std::cout << fmt::format("{}: {} nodes, inputs:", opt->model, graph.nodes.size());
    for (ValueId id : graph.inputs) {
      const Value& v = graph.values[id];
      std::cout << " " << v.name << (v.shape ? shape_str(*v.shape) : "[?]");
    }
    const auto integer_layers = find_integer_layers(graph);
    std::cout << "\n" << weight_stats_table(stats) << integer_layers_table(integer_layers);
    if (!opt->json.empty()) {
      nlohmann::json json = weight_stats_json(stats);
      json["integer_layers"] = integer_layers_json(integer_layers);
      json["already_quantized"] = !integer_layers.empty();
      write_file_atomically(opt->json, [&](std::ofstream& out) { out << json.dump(2) << "\n"; });
    }
    return 0;
  };
}

Action add_ops_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("ops", "List the supported ONNX op types");
  return [cmd]() {
    (void)cmd;
    for (const auto& op : KernelRegistry::global().op_types()) std::cout << op << "\n";
    std::cout << "If\n";
    return 0;
  };
}

}  // namespace ocs::cli
