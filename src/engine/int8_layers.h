// Plan-time recognition of quantized layers for the int8 path (docs/INT8.md).
//
// A Conv whose data input is, walking back from the Conv,
//     [Gather] <- DequantizeLinear <- [Gather] <- QuantizeLinear <- [Clip] <- [Gather] <- x
// (per-tensor scale and zero point, the same constants on Q and DQ; a Gather along the channel
// axis with constant indices, at most one, or its deployable form Concat(x, Slice(x, c), ...)
// of passes/insert_qdq.h; a Clip with constant bounds) and whose weight is, in
// the graph as given (before the engine folds constants), DequantizeLinear(int8 constant, zero
// point 0, per tensor or per output channel) runs as one oneDNN int8 convolution reading x
// (kernels/fast/dnnl_int8.h). This covers both QDQ layouts: the input-only export (x -> Gather
// -> [Clip] -> Q -> DQ -> Conv, the layer output in float) and the deployable one
// (DQ(x_q uint8) -> Conv -> Q, where x is the float in front of the previous Q).
//
// The nodes between x and the Conv are hidden in the step only where nothing else reads their
// outputs; the others keep running as their own steps (their other readers need them). A node
// already claimed by a fused chain (a Clip fused into the previous Conv) ends the walk: x is
// then that node's output.
#pragma once

#include "ir/graph.h"
#include "kernels/fast/dnnl_int8.h"

#include <optional>
#include <vector>

namespace ocs {

struct Int8ConvInput {
  ValueId x = kNoValue;          // the float tensor the step reads
  std::vector<NodeId> hidden;    // nodes between x and the Conv that run inside the step
  Int8ConvSpec spec;
  NodeId quantize = -1;          // the QuantizeLinear on the way
  NodeId clip = -1;              // the Clip in front of it, or -1
  bool gathered_before_quantize = false;  // the Gather is between x and the QuantizeLinear
};

// `planned`: the graph the plan runs (constants folded, same ValueIds as `original`).
// `claimed[n]`: node n already belongs to a fused chain.
std::optional<Int8ConvInput> int8_match_conv_input(const Graph& planned, const Graph& original, NodeId conv,
                                                   const std::vector<bool>& claimed);

// A QuantizeLinear whose codes only one DequantizeLinear reads (same per-tensor scale and zero
// point): the pair round-trips a float tensor, the deployable layout's quantized tensors between
// layers (passes/insert_qdq.h), and runs as one fake-quantize step in x's oneDNN layout
// (dnnl_make_layout_fake_quant). Other readers of the codes are allowed only where they are
// hidden in an int8 step (`int8_hidden[n]`), which recomputes the codes from x itself; such a
// step must then run the QuantizeLinear first when it falls back to its nodes. A QuantizeLinear
// whose codes only such hidden nodes read comes back with dequantize = -1: it needs no step.
struct FakeQuantPair {
  NodeId quantize = -1, dequantize = -1;
  float scale = 1.0f;
  int32_t zero_point = 0;
  DType type = DType::UInt8;
};

// Pairs among the nodes not `claimed` (by fused chains or int8 steps).
std::vector<FakeQuantPair> int8_match_fake_quant_pairs(const Graph& planned, const std::vector<bool>& claimed,
                                                       const std::vector<bool>& int8_hidden);

}  // namespace ocs
