// specialize_inputs: fixes some graph inputs to constants (and some input shapes to static ones),
// then simplifies what that makes constant, so that the passes that only rewrite the top-level
// graph (unroll_recurrent, OCS, insert_qdq) reach the layers a model keeps inside `If` branches.
//
// Silero VAD v4 is the motivating case: `If(Equal(sr, 16000))` selects one of two copies of the
// network, and inside it further Ifs test shapes (`Shape(h)[0]`, the rank of a spectrogram) and
// hold the LSTMs. With sr = 16000 and input of shape 1x512, every condition becomes a constant.
//
// Rounds, until nothing changes:
//   1. shapes: ONNX shape inference over the whole graph (an export/import round trip through
//      libonnx), so values computed from the fixed shapes get static shapes;
//   2. Shape / Size of a value whose shape is fully static -> an int64 constant, and so is a
//      Gather of static dims from a Shape (Shape(h)[0] with h of shape [2, ?, 64]);
//   3. constant folding of the top-level graph (passes/constant_folding.h, the engine's own);
//   4. every top-level `If` whose condition is now a constant is replaced by the nodes of the
//      branch it takes (inline_constant_ifs below); its nested Ifs are top-level afterwards and
//      are considered in the next round.
// Nodes and values nothing reads any more are removed at the end and graph.verify() holds.
//
// The result only accepts the fixed shapes (a quantized Silero runs on 512-sample chunks), which
// is what unrolling an LSTM needs anyway (a static sequence length).
#pragma once

#include "data/fixed_inputs.h"
#include "ir/graph.h"

#include <map>
#include <string>
#include <vector>

namespace ocs {

struct SpecializeOptions {
  std::map<std::string, std::string> values;  // input name -> one number, e.g. sr -> "16000"
  std::map<std::string, Shape> shapes;        // input name -> static shape, e.g. input -> {1, 512}
};

struct SpecializeStats {
  int64_t inputs_fixed = 0;
  int64_t shapes_fixed = 0;
  int64_t shapes_folded = 0;  // Shape / Size nodes replaced by constants
  int64_t nodes_folded = 0;   // by constant folding
  int64_t ifs_inlined = 0;
  int64_t rounds = 0;
};

// Throws UserError naming the input when a name is not a graph input, a value does not parse for
// the input's type, the input holds more than one element, or a shape contradicts the declared one.
SpecializeStats specialize_inputs(Graph& graph, const SpecializeOptions& options);

// Step 4 alone: inlines every top-level If whose condition is a constant. The chosen branch's
// nodes and constants move into `graph` (renamed where a name is taken; the nested subgraphs'
// reads by name follow the renames), the branch's outputs become the If's outputs (an Identity
// when the branch returns an outer value or a constant). Returns the number of Ifs inlined.
int64_t inline_constant_ifs(Graph& graph);

}  // namespace ocs
