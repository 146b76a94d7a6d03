// pool_before_relu: Relu -> MaxPool becomes MaxPool -> Relu in the deployable QDQ layout, where
// the pooled result is quantized (docs/QUANTIZE.md step 7; measured in docs/PERFORMANCE.md,
// issue #11).
//
// The two orders compute the same values: max commutes with every non-decreasing function, and
// MaxPool pads with -infinity, which Relu leaves below every value. ONNX Runtime cares: it moves
// a QuantizeLinear up through a MaxPool that reads a Relu, and then runs the MaxPool on uint8
// codes channels-first with a generic loop (ResNet-50's stem: 1.7 ms of 16 per run, against
// 0.08 ms for its float MaxPool, which it fuses into its blocked layout). A Relu between the
// MaxPool and the QuantizeLinear keeps the QuantizeLinear where it is.
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// Swaps every Relu whose only reader is a MaxPool (one output, no indices) with that MaxPool;
// returns how many.
int64_t pool_before_relu(Graph& graph);

}  // namespace ocs
