#include "passes/weighted_layer.h"

namespace ocs {

namespace {

bool is_float_constant(const Graph& graph, ValueId id) {
  return id != kNoValue && graph.values[id].constant &&
         graph.values[id].constant->dtype() == DType::Float32;
}

void set_reason(std::string* reason, std::string text) {
  if (reason) *reason = std::move(text);
}

// Rank of a value: its constant's, else its declared shape's, else -1.
int64_t rank_of(const Graph& graph, ValueId id) {
  const Value& v = graph.values[id];
  if (v.constant) return v.constant->rank();
  return v.shape ? static_cast<int64_t>(v.shape->size()) : -1;
}

}  // namespace

int64_t weight_input_channel_axis(const Node& node, const Graph& graph, int input_index) {
  const std::string& op = node.op_type;
  if (!node.domain.empty()) return -1;
  if (op == "Conv" && input_index == 1) return 1;
  if (op == "ConvTranspose" && input_index == 1) return 0;
  if (op == "Gemm" && input_index == 1) return node.attr_int("transB", 0) ? 1 : 0;
  if (op == "MatMul" && input_index == 1) {
    const int64_t rank = rank_of(graph, node.inputs.at(1));
    return rank >= 2 ? rank - 2 : (rank == 1 ? 0 : -1);
  }
  if ((op == "LSTM" || op == "GRU" || op == "RNN") && (input_index == 1 || input_index == 2)) return 2;
  return -1;
}

int64_t weight_output_channel_axis(const Node& node, int64_t weight_rank) {
  if (!node.domain.empty()) return -1;
  if (node.op_type == "Conv") return 0;
  if (node.op_type == "ConvTranspose") return 1;
  if (node.op_type == "Gemm") return node.attr_int("transB", 0) ? 0 : 1;
  if (node.op_type == "MatMul") return weight_rank >= 2 ? weight_rank - 1 : -1;
  return -1;
}

int64_t data_channel_axis(const Node& node, const Graph& graph) {
  if (node.op_type == "Conv") return 1;
  if (node.op_type == "Gemm") return node.attr_int("transA", 0) ? 0 : 1;
  const auto& shape = graph.values[node.inputs[0]].shape;
  return shape && !shape->empty() ? static_cast<int64_t>(shape->size()) - 1 : -1;
}

int64_t conv_group(const Node& node) { return node.attr_int("group", 1); }

std::optional<WeightedLayer> match_weighted_layer(const Graph& graph, NodeId id,
                                                  std::string* reason) {
  const Node& node = graph.nodes[id];
  if (!node.domain.empty()) return std::nullopt;
  const std::string& op = node.op_type;
  if (op != "Conv" && op != "Gemm" && op != "MatMul") return std::nullopt;
  if (node.inputs.size() < 2 || node.inputs[0] == kNoValue) return std::nullopt;
  if (!is_float_constant(graph, node.inputs[1])) {
    set_reason(reason, "weight is not a float32 constant");
    return std::nullopt;
  }
  const Tensor& weight = *graph.values[node.inputs[1]].constant;
  WeightedLayer layer;
  layer.node = id;
  layer.weight_axis = weight_input_channel_axis(node, graph, 1);
  layer.weight_out_axis = weight_output_channel_axis(node, weight.rank());
  layer.data_axis = data_channel_axis(node, graph);
  if (op == "Conv") {
    if (weight.rank() < 3) return std::nullopt;
  } else if (op == "Gemm") {
    if (weight.rank() != 2) return std::nullopt;
  } else {
    if (weight.rank() != 2) {
      set_reason(reason, "MatMul weight is not 2-D");
      return std::nullopt;
    }
  }
  if (layer.weight_axis < 0 || layer.weight_axis >= weight.rank()) return std::nullopt;
  return layer;
}

}  // namespace ocs
