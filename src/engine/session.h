// Runs a graph on the CPU. Plans once (node order, which values die after which node, one kernel
// per node with its cached state), runs many times.
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

 private:
  struct Plan;
  std::shared_ptr<const Graph> graph_;
  SessionOptions options_;
  std::unique_ptr<Plan> plan_;
};

}  // namespace ocs
