// Runs a graph on the CPU. Plans once (node order, which values die after which node, one kernel
// per node with its cached state), runs many times.
//
// Fast runs (the default) fuse Conv with the element-wise chain after it and keep values in
// oneDNN's blocked layouts between oneDNN-capable ops (see engine/fusion.h and
// kernels/fast/dnnl_layout.h); values are turned into plain tensors lazily, only where a plain
// kernel, a subgraph or a graph output reads them. A run with an Observer uses a second plan
// without fusion or blocked layouts, so the observer sees every value of the graph (calibration
// needs the activations feeding each Conv/Gemm, including pre-activation Conv outputs).
#pragma once

#include "ir/graph.h"
#include "kernels/kernel.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ocs {

// Sees every value produced during a run (top-level graph and subgraphs), right after the node
// that produced it. The tensor is only valid during the call: copy what you need to keep.
using Observer = std::function<void(const Graph& graph, ValueId value, const Tensor& tensor)>;

struct SessionOptions {
  bool reference_kernels_only = false;  // the oracle: plain loops everywhere
  int threads = 0;                      // 0: oneDNN/OpenMP default (all cores)
  // Fast runs only: fuse Conv + element-wise chains and keep oneDNN layouts between ops. Off:
  // one fast or reference kernel per node on plain tensors (the behaviour before fusion).
  bool fuse = true;
  // Fast fused runs only: quantized Convs run as oneDNN int8 convolutions (engine/int8_layers.h,
  // docs/INT8.md). Off: the same nodes in float (dequantize, float conv, quantize).
  bool int8 = true;
};

class Session {
 public:
  // Throws UserError listing every node whose op has no kernel, before anything runs.
  explicit Session(std::shared_ptr<const Graph> graph, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Inputs by graph input name. Missing, unknown, mistyped or misshapen inputs are UserErrors.
  // Returns the graph outputs in order.
  std::vector<Tensor> run(const std::map<std::string, Tensor>& inputs,
                          const Observer& observer = nullptr);

  const Graph& graph() const { return *graph_; }
  // One label per step of the top-level plan, in run order: the op type for a plain step,
  // "dnnl Op" for a layout-aware oneDNN step, "dnnl Conv+Relu+..." for a fused chain. For tests
  // and diagnostics (OCS_PROFILE=1 prints time per label when the session ends).
  std::vector<std::string> step_labels() const;

 private:
  struct Plan;
  std::shared_ptr<const Graph> graph_;
  // What the fast plan runs: graph_ with constant subgraphs folded (passes/constant_folding.h),
  // or graph_ itself. Same ValueIds; observed runs always use graph_.
  std::shared_ptr<const Graph> planned_graph_;
  SessionOptions options_;
  std::unique_ptr<Plan> plan_;           // fused when options_.fuse (and not reference-only)
  std::unique_ptr<Plan> observed_plan_;  // unfused, built on the first run with an observer
};

}  // namespace ocs
