#include "eval/layer_fidelity.h"

#include "core/axis_split.h"

#include <fmt/format.h>

#include <numeric>

namespace ocs {

namespace {

// A layer whose output channels weight OCS widened (passes/absorb_channel_gathers.h) computes the
// original channels first and copies after them: compare those first ones. Other shapes pass
// through (Fidelity reports a mismatch).
Tensor original_channels(const Tensor& output, const Shape& reference) {
  if (output.rank() != static_cast<int64_t>(reference.size()) || output.dtype() != DType::Float32) return output.clone();
  int64_t axis = -1;
  for (int64_t a = 0; a < output.rank(); ++a)
    if (output.dim(a) != reference[a]) {
      if (axis >= 0 || output.dim(a) < reference[a]) return output.clone();
      axis = a;
    }
  if (axis < 0) return output.clone();
  std::vector<int64_t> first(static_cast<size_t>(reference[axis]));
  std::iota(first.begin(), first.end(), int64_t{0});
  return gather_along_axis(output, axis, first);
}

}  // namespace

LayerFidelity::LayerFidelity(const Graph& reference, const Graph& quantized)
    : reference_(&reference), quantized_(&quantized) {
  for (const Node& node : quantized.nodes) {
    if (!node.domain.empty() || (node.op_type != "Conv" && node.op_type != "Gemm" && node.op_type != "MatMul"))
      continue;
    const std::string& value = quantized.values[node.outputs.at(0)].name;
    if (reference.find_value(value) == kNoValue || by_value_.count(value)) continue;
    by_value_[value] = layers_.size();
    layers_.push_back({node.name, node.op_type, value, {}});
  }
}

Observer LayerFidelity::reference_observer() {
  reference_values_.clear();
  return [this](const Graph& graph, ValueId id, const Tensor& tensor) {
    if (&graph != reference_) return;  // values inside If/Loop bodies
    const std::string& name = graph.values[id].name;
    if (by_value_.count(name)) reference_values_[name] = tensor.clone();
  };
}

Observer LayerFidelity::quantized_observer() {
  return [this](const Graph& graph, ValueId id, const Tensor& tensor) {
    if (&graph != quantized_) return;
    auto it = by_value_.find(graph.values[id].name);
    if (it == by_value_.end()) return;
    auto ref = reference_values_.find(it->first);
    if (ref == reference_values_.end()) return;  // the float run did not produce it this batch
    layers_[it->second].fidelity.add(ref->second, original_channels(tensor, ref->second.shape()));
  };
}

nlohmann::json LayerFidelity::result() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& layer : layers_)
    rows.push_back({{"layer", layer.node}, {"op_type", layer.op_type}, {"value", layer.value},
                    {"sqnr_db", layer.fidelity.sqnr_db()}, {"cosine", layer.fidelity.cosine()}});
  return rows;
}

std::string LayerFidelity::table() const {
  std::string out = fmt::format("{:<40} {:<7} {:>9} {:>10}\n", "layer", "op", "SQNR dB", "cosine");
  for (const auto& layer : layers_) {
    const std::string& full = layer.node.empty() ? layer.value : layer.node;
    std::string name = full.size() > 40 ? "..." + full.substr(full.size() - 37) : full;
    out += fmt::format("{:<40} {:<7} {:>9.2f} {:>10.6f}\n", name, layer.op_type, layer.fidelity.sqnr_db(),
                       layer.fidelity.cosine());
  }
  return out;
}

}  // namespace ocs
