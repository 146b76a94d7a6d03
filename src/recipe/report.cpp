#include "recipe/report.h"

#include <fmt/format.h>

#include <algorithm>

namespace ocs {

int64_t QuantizePlan::layers_quantized() const {
  return std::count_if(layers.begin(), layers.end(), [](const LayerPlan& l) { return l.quantized(); });
}

int64_t QuantizePlan::layers_left_float() const {
  return static_cast<int64_t>(layers.size()) - layers_quantized();
}

double QuantizePlan::size_overhead_percent() const {
  return 100.0 * static_cast<double>(weights_after_ocs - weights_before) / static_cast<double>(weights_before);
}

LayerPlan* QuantizePlan::find(const std::string& node) {
  for (LayerPlan& layer : layers)
    if (layer.node == node) return &layer;
  return nullptr;
}

namespace {

nlohmann::json layer_row(const LayerPlan& l, const std::string& weight_clip, const std::string& activation_clip) {
  if (!l.quantized())
    return {{"node", l.node}, {"op_type", l.op_type}, {"quantized", false}, {"left_float", l.left_float}};
  nlohmann::json row = {{"node", l.node}, {"op_type", l.op_type}, {"quantized", true},
                        {"weight", l.weight}, {"weight_shape", l.weight_shape}, {"weight_clip", weight_clip},
                        {"weight_threshold_no_ocs", l.weight_threshold_no_ocs},
                        {"weight_sqnr_db_no_ocs", l.weight_sqnr_db_no_ocs},
                        {"channels_split", l.channels_split}, {"weights_added_percent", l.weights_added_percent}};
  if (!l.act_ocs_skipped.empty()) row["act_ocs_skipped"] = l.act_ocs_skipped;
  if (l.act_channels_split) {
    row["act_channels_split"] = *l.act_channels_split;
    row["act_max_before"] = l.act_max_before;
    row["act_max_after"] = l.act_max_after;
  }
  if (!l.ocs_skipped.empty()) row["ocs_skipped"] = l.ocs_skipped;
  if (!l.channel_duplication.empty()) row["channel_duplication"] = l.channel_duplication;
  if (l.weight_sqnr_db_ocs) row["weight_sqnr_db_ocs"] = *l.weight_sqnr_db_ocs;
  if (l.weight_threshold) row["weight_threshold"] = *l.weight_threshold;
  if (l.weight_sqnr_db_per_channel) row["weight_sqnr_db_per_channel"] = *l.weight_sqnr_db_per_channel;
  if (l.act_quantized) {
    row["act_clip"] = activation_clip;
    row["act_threshold"] = static_cast<float>(*l.act_threshold);  // the float the QDQ nodes hold
    row["act_unsigned"] = l.act_unsigned;
  }
  return row;
}

}  // namespace

nlohmann::json quantize_report_json(const QuantizePlan& plan, const QuantizeOptions& options) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerPlan& layer : plan.layers) layers.push_back(layer_row(layer, plan.weight_clip, plan.activation_clip));
  nlohmann::json steps = nlohmann::json::array();
  for (const StepRecord& s : plan.steps) {
    nlohmann::json step = s.extra;
    step["step"] = s.step;
    step["seconds"] = s.seconds;
    steps.push_back(step);
  }
  nlohmann::json model = {{"weights_before", plan.weights_before},
                                {"weights_after_ocs", plan.weights_after_ocs},
                                {"size_overhead_percent", plan.size_overhead_percent()},
                                {"layers_quantized", plan.layers_quantized()},
                                {"layers_left_float", plan.layers_left_float()},
                                {"batchnorms_folded", plan.batchnorms_folded}};
  if (plan.max_overhead_percent) {
    model["max_overhead_percent"] = *plan.max_overhead_percent;
    model["overhead_budget_weights"] = plan.overhead_budget;
  }
  nlohmann::json report = {{"options", options.to_json()}, {"model", model}, {"layers", layers}, {"steps", steps}};
  if (!plan.int8_tensors.empty()) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const TensorPlan& t : plan.int8_tensors) {
      nlohmann::json row = {{"tensor", t.value}, {"role", t.role}, {"threshold", static_cast<float>(t.threshold)},
                            {"unsigned", t.is_unsigned}};
      if (!t.same_grid_as.empty()) row["same_grid_as"] = t.same_grid_as;
      tensors.push_back(row);
    }
    report["quantized_tensors"] = tensors;
  }
  return report;
}

std::string quantize_report_table(const nlohmann::json& report) {
  std::string out = fmt::format("{:<28} {:<6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10}  {}\n", "layer", "op",
                                "split", "added %", "w thresh", "SQNR noOCS", "SQNR OCS", "a thresh", "notes");
  const auto& rows = report["layers"];
  for (size_t k = 0; k < rows.size(); ++k) {
    const auto& row = rows[k];
    // Consecutive layers reading one weight (an unrolled LSTM's time steps) print as one line.
    size_t readers = 1;
    while (row.contains("weight") && k + readers < rows.size() && rows[k + readers].value("weight", "") == row["weight"]) ++readers;
    k += readers - 1;
    const std::string shared = readers > 1 ? fmt::format("{} layers share this weight (first shown)", readers) : "";
    std::string name = row["node"].get<std::string>();
    if (name.size() > 28) name = "..." + name.substr(name.size() - 25);
    if (!row["quantized"].get<bool>()) {
      out += fmt::format("{:<28} {:<6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10}  float: {}\n", name,
                         row["op_type"].get<std::string>(), "-", "-", "-", "-", "-", "-",
                         row["left_float"].get<std::string>());
      continue;
    }
    auto num = [&](const char* key, const char* format) {
      return row.contains(key) ? fmt::format(fmt::runtime(format), row[key].get<double>()) : std::string("-");
    };
    std::string notes;
    if (row.contains("ocs_skipped")) notes += "OCS skipped: " + row["ocs_skipped"].get<std::string>();
    if (row.contains("act_channels_split")) notes += fmt::format("act split {}", row["act_channels_split"].size());
    if (row.contains("channel_duplication") && !row["channels_split"].empty())
      notes += (notes.empty() ? "" : "; ") + row["channel_duplication"].get<std::string>();
    if (!shared.empty()) notes += (notes.empty() ? "" : "; ") + shared;
    out += fmt::format("{:<28} {:<6} {:>6} {:>9} {:>10} {:>10} {:>10} {:>10}  {}\n", name,
                       row["op_type"].get<std::string>(), row["channels_split"].size(),
                       num("weights_added_percent", "{:.2f}"), num("weight_threshold", "{:.4g}"),
                       num("weight_sqnr_db_no_ocs", "{:.2f}"), num("weight_sqnr_db_ocs", "{:.2f}"),
                       num("act_threshold", "{:.4g}"), notes);
  }
  const auto& model = report["model"];
  out += fmt::format("{} layers quantized, {} left in float; weights {} -> {} ({:+.2f}% size); {} BatchNorm folded\n",
                     model["layers_quantized"].get<int64_t>(), model["layers_left_float"].get<int64_t>(),
                     model["weights_before"].get<int64_t>(), model["weights_after_ocs"].get<int64_t>(),
                     model["size_overhead_percent"].get<double>(), model["batchnorms_folded"].get<int64_t>());
  if (model.contains("max_overhead_percent"))
    out += fmt::format("weight OCS capped at {:g}% of the model's weights ({} weights for its splits)\n",
                       model["max_overhead_percent"].get<double>(), model["overhead_budget_weights"].get<int64_t>());
  if (report.contains("quantized_tensors")) {
    int64_t own = 0;
    for (const auto& t : report["quantized_tensors"]) own += !t.contains("same_grid_as") && t["role"] != "layer input";
    out += fmt::format("deployable layout: {} tensors on 8-bit grids ({} with their own threshold besides the layers' inputs)\n",
                       report["quantized_tensors"].size(), own);
    if (report.contains("float_ops_on_8bit_data"))
      for (const auto& op : report["float_ops_on_8bit_data"])
        out += fmt::format("  float on 8-bit data: {} x {} ({})\n", op["count"].get<int64_t>(),
                           op["op_type"].get<std::string>(), op["why"].get<std::string>());
  }
  for (const auto& step : report["steps"])
    out += fmt::format("  {:<30} {:8.3f} s\n", step["step"].get<std::string>(), step["seconds"].get<double>());
  return out;
}

}  // namespace ocs
