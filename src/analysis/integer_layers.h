// Layers of a model that is already quantized: ConvInteger / MatMulInteger (often fed by
// DynamicQuantizeLinear), QLinearConv / QLinearMatMul, and QDQ layers (a Conv, ConvTranspose,
// Gemm or MatMul whose weight is DequantizeLinear of an integer constant). `inspect` lists them;
// `quantize` refuses such a model, since quantizing it again would quantize dequantized weights.
#pragma once

#include "ir/graph.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace ocs {

struct IntegerLayer {
  std::string node;     // node name
  std::string op_type;  // "ConvInteger", or "Conv (QDQ)" for a layer whose weight is dequantized
  std::string weight;   // the integer weight's value name ("" when it is not a constant)
  DType dtype = DType::Undefined;  // of the integer weight
  Shape shape;
};

// Every integer layer of `graph`, subgraphs included, in graph order.
std::vector<IntegerLayer> find_integer_layers(const Graph& graph);

// "ConvInteger 'c1', MatMulInteger 'm' and 3 more": for messages.
std::string integer_layers_brief(const std::vector<IntegerLayer>& layers, size_t shown = 3);

std::string integer_layers_table(const std::vector<IntegerLayer>& layers);
nlohmann::json integer_layers_json(const std::vector<IntegerLayer>& layers);

// UserError when `graph` (read from `path`) already holds integer layers.
void refuse_quantized_model(const Graph& graph, const std::string& path);

}  // namespace ocs
