// Plan-time decisions of the engine's int8 path (docs/INT8.md), on top of the fused chains of
// engine/fusion.h: which Convs run as int8 steps and the nodes in front of them they compute
// themselves (engine/int8_layers.h); the Q -> DQ pairs that run as fake-quantize steps; what an
// int8 Conv computes after its post-ops (the codes the next int8 Conv reads, or a round trip);
// binary ops, poolings and resamplings that run with the round trip after them, or that write the
// codes the int8 Convs after them read.
// engine/session.cpp turns the result into steps: a chain's step runs where its last node is, and
// runs its nodes one by one (plus the QuantizeLinears of `fallback_extra`) when its kernel declines.
#pragma once

#include "engine/fusion.h"
#include "engine/int8_layers.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ocs {

// An int8 Conv step: its kernel, the value it reads, and the match it was planned from.
struct Int8Step {
  std::unique_ptr<LayoutKernel> kernel;
  ValueId x = kNoValue;  // what the step reads: the input's x, or the QuantizeLinear's codes
  Int8ConvInput input;   // as matched
  Int8Requantize requantize;  // what it computes after its post-ops (plan_codes)
};
struct Int8Steps {
  std::map<size_t, Int8Step> steps;                    // by chain
  std::vector<bool> hidden;                            // per node: inside an int8 step
  std::map<NodeId, size_t> chain_of_hidden;            // such a node -> its chain
  std::map<size_t, std::vector<NodeId>> fallback_extra;  // chain -> QuantizeLinears its fallback reruns
  // Of those, the ones a fallback reruns on another input (plan_layer_round_trips): a copy of
  // the node that reads it.
  std::map<NodeId, std::shared_ptr<const Node>> requantized;
};
// A fake-quantize step (Q -> DQ with the functions after it; with a binary op, a pooling or a
// Resize in front, that op's oneDNN step), where its last node is. A step of such an op that
// writes the codes of a QuantizeLinear only int8 steps read has no DequantizeLinear
// (pair.dequantize < 0) and ends in the QuantizeLinear.
struct FakeQuantStep {
  std::vector<NodeId> nodes;  // Q, DQ and the functions, in graph order (and the op in front)
  std::unique_ptr<LayoutKernel> kernel;
  ValueId x = kNoValue, output = kNoValue;  // the QuantizeLinear's input, the last function's output
  std::vector<ValueId> inputs;              // what the kernel reads: x, or the op's data operands
  std::string label;
  FakeQuantPair pair;
  std::vector<EltwiseOp> after;  // the functions
};
struct FakeQuantPlan {
  std::vector<FakeQuantStep> steps;
  std::map<NodeId, size_t> step_of;  // every node of a step -> the step
};

struct Int8Plan {
  Int8Steps int8;
  FakeQuantPlan fake_quant;
};

// OCS_NO_LAYOUT's kinds this plan reads: qdq, codes, roundtrip, binary, layercodes.
using Int8Disabled = std::function<bool(const std::string& kind)>;

// `original`: the graph as given when `graph` is its constant-folded copy and the int8 path is on
// (the int8 weights are read there), else nullptr: then only fake-quantize steps are planned.
// The nodes a step takes become members of its chain in `chains` and are marked in `in_chain`.
Int8Plan plan_int8(const Graph& graph, const Graph* original, int64_t opset, std::vector<FusedChain>& chains,
                   std::vector<bool>& in_chain, const Int8Disabled& disabled);

}  // namespace ocs
