// Per-layer fidelity: where a quantized model loses accuracy. For every Conv / Gemm / MatMul
// output of the quantized graph whose value name also exists in the float graph (the passes
// keep a layer's output name; a folded BatchNormalization hands its name to the Conv), the
// SQNR of the quantized value against the float one, accumulated over all batches.
//
// Usage, per batch:
//   session_float.run(feed, fidelity.reference_observer());
//   session_quant.run(feed, fidelity.quantized_observer());
// Observed runs use the unfused plan (every value visible), so they are slower than plain runs.
// Memory: the watched float values of one batch.
#pragma once

#include "engine/session.h"
#include "eval/topk_fidelity.h"
#include "ir/graph.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace ocs {

class LayerFidelity {
 public:
  // Both graphs must be the very objects the sessions run (Session::graph()): observers tell
  // the top-level graph from subgraphs by address. Keep them alive while this is used.
  LayerFidelity(const Graph& reference, const Graph& quantized);
  LayerFidelity(const LayerFidelity&) = delete;
  LayerFidelity& operator=(const LayerFidelity&) = delete;

  Observer reference_observer();
  Observer quantized_observer();
  // Rows in the quantized graph's order: {"layer", "op_type", "value", "sqnr_db", "cosine"}.
  nlohmann::json result() const;
  std::string table() const;
  size_t watched() const { return layers_.size(); }

 private:
  struct Layer {
    std::string node, op_type, value;
    Fidelity fidelity;
  };
  const Graph* reference_;
  const Graph* quantized_;
  std::vector<Layer> layers_;
  std::map<std::string, size_t> by_value_;
  std::map<std::string, Tensor> reference_values_;  // of the current batch
};

}  // namespace ocs
