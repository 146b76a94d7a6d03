// insert_qdq: turns a float model into the quantized model that is both evaluated and exported
// (docs/ARCHITECTURE.md, "Data flow"). For each layer of the plan (a Conv, Gemm or MatMul node by name):
//
//   weight W (a float constant)  ->  int8 constant Wq  -> DequantizeLinear -> layer
//   activation x (the layer's data input)
//                                ->  Clip -> QuantizeLinear -> DequantizeLinear -> layer
//
// with the quantizer of docs/METHOD.md: q = clamp(round_half_to_even(x / scale), q_min, q_max),
// x_hat = q * scale, scale = t / (2^(b-1) - 1) for a threshold t, [q_min, q_max] =
// [-2^(b-1), 2^(b-1) - 1] (unsigned activations: scale = t / (2^b - 1), [0, 2^b - 1]).
// A weight constant read by several layers of the plan with the same grid (the unrolled LSTM's
// recurrent weight, one MatMul per time step) gets one quantized constant and one
// DequantizeLinear that all of them read; each layer's input gets its own chain.
// Bit widths 2..16; above 8 bits ONNX 1.12 has no integer type for QuantizeLinear, so the grid is
// emulated in float (see insert_qdq.cpp). The algebra, and the proof that Clip makes b < 8 exact,
// is in insert_qdq.cpp.
//
// Two layouts (docs/QUANTIZE.md, "Two layouts"):
//   Inputs  the paper's simulation: the chain above on each layer's input only, int8 codes
//           (uint8 for an unsigned grid), the layer's own input (an OCS Gather stays float).
//   Deploy  what runtimes fuse into 8-bit kernels: the quantized tensors are the layers' inputs
//           plus `tensors` (layer outputs, tensors between layers: analysis/int8_tensors.h), each
//           quantized once right after its producer and read by all its readers through one
//           DequantizeLinear; codes always uint8 (a signed b-bit grid with zero point 2^(b-1),
//           q_u8 = q_s8 + 2^(b-1), the same values); a Gather with constant indices in front of
//           a layer (weight OCS's channel duplication) moves between QuantizeLinear and
//           DequantizeLinear, onto the codes, when its indices are [0, ..., C-1, d_1, ...]: as a
//           1x1 Conv with one-hot int8 rows for a Conv's input (passes/copy_convs.h), else as
//           Concat(x, Slice(x, d_1), ...); and a layer with both grids at <= 8 bits gets its
//           bias as int32 codes on the scale s_x * s_w behind a DequantizeLinear (the form
//           QLinearConv and QGemm take; b_q = round(b / (s_x s_w)), float when it overflows).
#pragma once

#include "ir/graph.h"

#include <optional>
#include <string>
#include <vector>

namespace ocs {

struct QdqWeight {
  int bits = 8;               // 2..16
  bool per_channel = false;   // one scale per output channel (needs opset 13; raised if possible)
  // Clip thresholds, precomputed by the caller: empty -> max|W| (of the tensor, or of each
  // output channel); one value per tensor; C_out values per channel. Must be finite and >= 0.
  std::vector<float> thresholds;
};

struct QdqActivation {
  int bits = 8;              // 2..16
  float threshold = 0.0f;    // t > 0 (t == 0, a dead activation, quantizes everything to 0)
  // Only when the caller knows the activation is non-negative (after ReLU): uint8 grid on
  // [0, t] with 2^b - 1 steps instead of a signed grid on [-t, t] with 2^(b-1) - 1 steps.
  bool is_unsigned = false;
};

struct QdqLayer {
  std::string node;                         // a Conv, Gemm or MatMul node name
  std::optional<QdqWeight> weight;          // absent: the weight stays float
  std::optional<QdqActivation> activation;  // absent: the input activation stays float
};

// A tensor quantized on its own (Deploy layout): a value name and its grid.
struct QdqTensor {
  std::string value;
  QdqActivation grid;
};

enum class QdqLayout { Inputs, Deploy };

struct QdqPlan {
  std::vector<QdqLayer> layers;
  std::vector<QdqTensor> tensors = {};  // Deploy only
  QdqLayout layout = QdqLayout::Inputs;
};

// What the pass did (for reports and tests).
struct QdqReport {
  int weights_quantized = 0;       // DequantizeLinear nodes (or float grids for bits > 8); a
                                   // weight read by several layers (same grid) counts once
  int activation_chains = 0;       // distinct chains inserted (shared by layers reading one x;
                                   // Deploy: every quantized tensor)
  int gathers_on_codes = 0;        // Deploy: Gathers moved onto the uint8 codes
  int biases_int32 = 0;            // Deploy: biases written as int32 codes
  int64_t opset_before = 0;
  int64_t opset_after = 0;
  struct Layer {
    std::string node;
    std::vector<float> weight_scales;  // empty when the weight stays float
    float activation_scale = 0.0f;     // 0 when the activation stays float
  };
  std::vector<Layer> layers;
};

// Rewrites `graph` in place. Throws UserError (naming the node) when the plan names a node that
// is not a Conv/Gemm/MatMul with a constant float weight, asks for bits outside 2..16, gives the
// wrong number of thresholds, or asks for per-channel scales in a model whose opset is below 13
// and whose ops cannot be moved to opset 13 unchanged. Float weights left without consumers are
// removed. graph.verify() holds afterwards.
QdqReport insert_qdq(Graph& graph, const QdqPlan& plan);

}  // namespace ocs
