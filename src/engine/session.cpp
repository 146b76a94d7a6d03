#include "engine/session.h"

#include <omp.h>

#include <set>
#include <unordered_map>

namespace ocs {

namespace {

// Names of outer-scope values a subgraph (and its own subgraphs) read.
void collect_outer_reads(const Graph& graph, std::set<std::string>& names) {
  for (const Value& v : graph.values)
    if (v.outer_scope) names.insert(v.name);
  for (const Node& node : graph.nodes)
    for (const auto& [key, attr] : node.attributes)
      if (attr.g) collect_outer_reads(*attr.g, names);
}

// Values visible to a running graph: its own table, then its parents'.
struct Frame {
  const Graph* graph = nullptr;
  std::vector<Tensor> values;
  const Frame* parent = nullptr;

  const Tensor* lookup_outer(const std::string& name) const {
    for (const Frame* f = parent; f; f = f->parent) {
      ValueId id = f->graph->find_value(name);
      if (id != kNoValue && f->values[id].defined()) return &f->values[id];
    }
    return nullptr;
  }
};

}  // namespace

struct Session::Plan {
  struct Step {
    const Node* node = nullptr;
    const KernelEntry* entry = nullptr;          // nullptr for control flow (If)
    std::unique_ptr<FastKernel> fast;
    std::vector<ValueId> release_after;          // values whose last use is this step
  };
  struct GraphPlan {
    const Graph* graph = nullptr;
    std::vector<Step> steps;
    int64_t opset = 0;
  };
  std::unordered_map<const Graph*, GraphPlan> graphs;

  void build(const Graph& graph, int64_t opset, const SessionOptions& options) {
    GraphPlan& plan = graphs[&graph];
    plan.graph = &graph;
    plan.opset = opset;
    const auto& registry = KernelRegistry::global();
    std::vector<int64_t> last_use(graph.values.size(), -1);
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      const Node& node = graph.nodes[i];
      for (ValueId in : node.inputs)
        if (in != kNoValue) last_use[in] = static_cast<int64_t>(i);
      std::set<std::string> outer;
      for (const auto& [key, attr] : node.attributes)
        if (attr.g) collect_outer_reads(*attr.g, outer);
      for (const auto& name : outer)
        if (ValueId id = graph.find_value(name); id != kNoValue) last_use[id] = static_cast<int64_t>(i);
    }
    for (ValueId out : graph.outputs) last_use[out] = static_cast<int64_t>(graph.nodes.size());
    plan.steps.resize(graph.nodes.size());
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      const Node& node = graph.nodes[i];
      Step& step = plan.steps[i];
      step.node = &node;
      if (!(node.domain.empty() && node.op_type == "If")) {
        step.entry = registry.find(node.domain, node.op_type);
        OCS_CHECK(step.entry, "no kernel for {} (import should have refused it)", node.describe());
        if (step.entry->fast && !options.reference_kernels_only)
          step.fast = step.entry->fast(node, graph);
      }
      for (const auto& [key, attr] : node.attributes)
        if (attr.g) build(*attr.g, opset, options);
    }
    for (size_t v = 0; v < graph.values.size(); ++v) {
      const Value& value = graph.values[v];
      if (last_use[v] >= 0 && last_use[v] < static_cast<int64_t>(graph.nodes.size()) &&
          !value.constant && !value.outer_scope)
        plan.steps[last_use[v]].release_after.push_back(static_cast<ValueId>(v));
    }
  }

  void run_graph(const GraphPlan& plan, Frame& frame, const Observer& observer);
  void run_if(const Step& step, Frame& frame, const Observer& observer, std::vector<Tensor>& outputs);
};

void Session::Plan::run_if(const Step& step, Frame& frame, const Observer& observer,
                           std::vector<Tensor>& outputs) {
  const Node& node = *step.node;
  const Tensor& cond = frame.values[node.inputs.at(0)];
  if (cond.numel() != 1)
    user_error("{}: the condition must hold one element, got shape {}", node.describe(),
               shape_str(cond.shape()));
  bool take_then = cond.to_int64_vector()[0] != 0;
  const Graph& branch = *node.attr(take_then ? "then_branch" : "else_branch").g;
  Frame inner;
  inner.graph = &branch;
  inner.parent = &frame;
  run_graph(graphs.at(&branch), inner, observer);
  if (branch.outputs.size() != node.outputs.size())
    user_error("{}: the branch returns {} values but the node has {} outputs", node.describe(),
               branch.outputs.size(), node.outputs.size());
  for (size_t i = 0; i < branch.outputs.size(); ++i) outputs[i] = inner.values[branch.outputs[i]];
}

void Session::Plan::run_graph(const GraphPlan& plan, Frame& frame, const Observer& observer) {
  const Graph& graph = *plan.graph;
  frame.values.resize(graph.values.size());
  for (size_t v = 0; v < graph.values.size(); ++v) {
    const Value& value = graph.values[v];
    if (value.constant) {
      frame.values[v] = *value.constant;
    } else if (value.outer_scope) {
      const Tensor* outer = frame.lookup_outer(value.name);
      OCS_CHECK(outer, "outer-scope value '{}' is not available", value.name);
      frame.values[v] = *outer;
    }
  }
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  for (const Step& step : plan.steps) {
    const Node& node = *step.node;
    inputs.clear();
    for (ValueId in : node.inputs) inputs.push_back(in == kNoValue ? Tensor() : frame.values[in]);
    outputs.assign(node.outputs.size(), Tensor());
    if (!step.entry) {
      run_if(step, frame, observer, outputs);
    } else {
      KernelContext ctx{node, inputs, outputs, plan.opset};
      if (step.fast) step.fast->run(ctx);
      else step.entry->reference(ctx);
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      ValueId out = node.outputs[o];
      if (out == kNoValue) continue;
      OCS_CHECK(o < outputs.size() && outputs[o].defined(), "{} did not produce output {}",
                node.describe(), o);
      frame.values[out] = std::move(outputs[o]);
      if (observer) observer(graph, out, frame.values[out]);
    }
    for (ValueId dead : step.release_after) frame.values[dead] = Tensor();
  }
}

Session::Session(std::shared_ptr<const Graph> graph, SessionOptions options)
    : graph_(std::move(graph)), options_(options), plan_(std::make_unique<Plan>()) {
  if (options_.threads > 0) omp_set_num_threads(options_.threads);
  plan_->build(*graph_, graph_->opset(""), options_);
}

Session::~Session() = default;

static void check_input(const Value& declared, const Tensor& given) {
  if (declared.dtype != DType::Undefined && given.dtype() != declared.dtype)
    user_error("input '{}' must be {}, but the given tensor is {}", declared.name,
               dtype_name(declared.dtype), dtype_name(given.dtype()));
  if (!declared.shape) return;
  const Shape& want = *declared.shape;
  bool ok = want.size() == given.shape().size();
  for (size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || want[i] == given.shape()[i];
  if (!ok) {
    std::string pattern = "[";
    for (size_t i = 0; i < want.size(); ++i)
      pattern += (i ? ", " : "") + (want[i] < 0 ? std::string("?") : std::to_string(want[i]));
    user_error("input '{}' must have shape {} (? = any), but the given tensor has shape {}",
               declared.name, pattern + "]", shape_str(given.shape()));
  }
}

std::vector<Tensor> Session::run(const std::map<std::string, Tensor>& inputs, const Observer& observer) {
  const Graph& graph = *graph_;
  Frame frame;
  frame.graph = &graph;
  frame.values.resize(graph.values.size());
  std::string expected;
  for (ValueId id : graph.inputs) expected += (expected.empty() ? "" : ", ") + graph.values[id].name;
  for (const auto& [name, tensor] : inputs) {
    ValueId id = graph.find_value(name);
    bool is_input = id != kNoValue && std::find(graph.inputs.begin(), graph.inputs.end(), id) != graph.inputs.end();
    if (!is_input) user_error("the model has no input named '{}'; its inputs are: {}", name, expected);
  }
  for (ValueId id : graph.inputs) {
    const Value& value = graph.values[id];
    auto it = inputs.find(value.name);
    if (it == inputs.end())
      user_error("input '{}' was not given; the model's inputs are: {}", value.name, expected);
    check_input(value, it->second);
    frame.values[id] = it->second;
    if (observer) observer(graph, id, it->second);
  }
  plan_->run_graph(plan_->graphs.at(&graph), frame, observer);
  std::vector<Tensor> outputs;
  for (ValueId id : graph.outputs) outputs.push_back(frame.values[id]);
  return outputs;
}

}  // namespace ocs
