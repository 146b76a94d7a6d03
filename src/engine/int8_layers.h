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
};

// `planned`: the graph the plan runs (constants folded, same ValueIds as `original`).
// `claimed[n]`: node n already belongs to a fused chain.
std::optional<Int8ConvInput> int8_match_conv_input(const Graph& planned, const Graph& original, NodeId conv,
                                                   const std::vector<bool>& claimed);

}  // namespace ocs
