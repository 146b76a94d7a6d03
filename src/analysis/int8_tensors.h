// Which tensors the deployable QDQ layout quantizes (docs/QUANTIZE.md, "Two layouts"), so that
// a runtime that fuses `DequantizeLinear -> op -> QuantizeLinear` (ONNX Runtime's QDQ selectors)
// runs the quantized layers, and the ops between them, on 8-bit data:
//   - the data input of every quantized layer;
//   - the output of every quantized Conv and Gemm, taken after a Relu or Clip(min >= 0) that is
//     its only reader (runtimes fold those into the quantizer: a grid starting at 0 clips like
//     Relu); ONNX Runtime runs them in 8 bits only with a quantized output (QLinearConv, QGemm);
//   - the output of an op that runs in 8 bits when all its tensor inputs are quantized (pooling,
//     Add, Mul, Concat, Resize, shape ops, Sigmoid/HardSigmoid), likewise after a sole Relu, and
//     the output of a quantized MatMul, when an 8-bit reader needs them: a quantized layer, or
//     such an op whose own output is kept. A MatMul's output with only float readers stays
//     float: runtimes run the layer in 8 bits with a float output (MatMulIntegerToFloat).
// Ops that only move values (MaxPool, Reshape, Transpose, ...) give their output the grid of
// their input, so that they are exact on the codes; every other tensor gets its own threshold.
// Graph outputs, tensors read by If/Loop bodies, and non-float tensors are never quantized.
#pragma once

#include "ir/graph.h"

#include <set>
#include <string>
#include <vector>

namespace ocs {

enum class Int8Role { LayerInput, LayerOutput, BetweenLayers };

struct Int8Tensor {
  ValueId value = kNoValue;
  Int8Role role = Int8Role::LayerInput;
  ValueId same_grid_as = kNoValue;  // a value-moving op's input, whose grid this tensor copies
  bool non_negative = false;        // computed by a Relu-like op (or moved/pooled from one)
};

const char* int8_role_name(Int8Role role);

// In graph order. `layers` are the quantized Conv/Gemm/MatMul nodes; `skip` values are never
// chosen (an activation-split layer's unsplit input).
std::vector<Int8Tensor> int8_tensors(const Graph& graph, const std::set<NodeId>& layers,
                                     const std::set<ValueId>& skip = {});

// In a graph in the deployable layout: the ops that read 8-bit data (a DequantizeLinear's output)
// but compute in float, with why, counted per op type (for the report): "no 8-bit form" when the
// op type is none of the 8-bit-capable ops above, "its result goes on in float" otherwise.
struct FloatOpCount {
  std::string op_type;
  int64_t count = 0;
  std::string reason;
};
std::vector<FloatOpCount> float_ops_on_8bit_data(const Graph& graph);

// True when every value `value` can hold is >= 0 by construction (Relu, Clip(min >= 0),
// Sigmoid, HardSigmoid, Softmax, and ops that move, pool, add or concatenate such values).
bool non_negative_value(const Graph& graph, ValueId value);

}  // namespace ocs
