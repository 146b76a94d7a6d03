#include "engine/session.h"

#include "core/memory_budget.h"
#include "passes/channels_last_upsampling.h"
#include "passes/constant_folding.h"
#include "passes/copy_convs.h"
#include "engine/fusion.h"
#include "engine/int8_plan.h"
#include "kernels/fast/dnnl_layout.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
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
  // Fast fused runs: where each value lives in oneDNN memory (see kernels/fast/dnnl_layout.h).
  // values[v] is undefined while v exists only there; plain() materializes it.
  std::vector<DnnlValue> side;

  const Tensor& plain(ValueId id) {
    if (!values[id].defined() && !side.empty() && side[id].has_memory) values[id] = dnnl_materialize(side[id]);
    return values[id];
  }
  void materialize_all() {
    for (size_t v = 0; v < side.size(); ++v) plain(static_cast<ValueId>(v));
  }

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
    const Node* node = nullptr;                  // for a fused step: the head Conv
    const KernelEntry* entry = nullptr;          // nullptr for control flow (If)
    std::unique_ptr<FastKernel> fast;
    std::unique_ptr<LayoutKernel> layout;        // layout-aware oneDNN kernel (fast runs only)
    std::vector<ValueId> layout_inputs;          // what `layout` reads (kNoValue: absent)
    ValueId layout_output = kNoValue;
    std::vector<Step> parts;                     // a fused step's nodes, run plainly if `layout` declines
    std::vector<ValueId> release_after;          // values whose last use is this step
    std::vector<bool> layout_input_dies;         // per layout input: in release_after
    std::string label;                           // for OCS_PROFILE
  };
  struct GraphPlan {
    const Graph* graph = nullptr;
    std::vector<Step> steps;
    int64_t opset = 0;
  };
  std::unordered_map<const Graph*, GraphPlan> graphs;
  bool layouts = false;  // fused, with oneDNN layouts between steps
  // The graph as given, when the planned top-level graph is its constant-folded copy: the int8
  // path reads the quantized weights there (engine/int8_layers.h).
  const Graph* original = nullptr;
  const Graph* planned_top = nullptr;
  bool profile = false;
  bool profile_nodes = false;  // OCS_PROFILE=nodes: one row per step, named by its node
  std::map<std::string, std::pair<double, int64_t>> profile_totals;  // label -> ms, count
  std::vector<std::shared_ptr<const Node>> kept_nodes;  // nodes of steps that are not in a graph (int8_plan.h)

  Step plain_step(const Node& node, const Graph& graph, const SessionOptions& options) {
    Step step;
    step.node = &node;
    step.label = node.op_type;
    if (!(node.domain.empty() && node.op_type == "If")) {
      step.entry = KernelRegistry::global().find(node.domain, node.op_type);
      OCS_CHECK(step.entry, "no kernel for {} (import should have refused it)", node.describe());
      if (step.entry->fast && !options.reference_kernels_only) step.fast = step.entry->fast(node, graph);
    }
    return step;
  }

  // OCS_NO_LAYOUT=pool,eltwise,binary,resize,concat,depth_to_space,chain,conv,int8,qdq,codes,roundtrip,
  // layercodes turns kinds of layout steps off (to bisect).
  static bool disabled(const std::string& kind) {
    const char* env = std::getenv("OCS_NO_LAYOUT");
    return env && std::string(",") .append(env).append(",").find(std::string(",") + kind + ",") != std::string::npos;
  }

  // The layout kernel registered for a single node whose inputs may come in oneDNN layouts, if
  // one takes it. `from_layout[v]`: v is produced by a layout step.
  void try_layout_step(Step& step, const Graph& graph, int64_t opset, const std::vector<bool>& from_layout) {
    const Node& node = *step.node;
    if (!step.entry || !node.domain.empty() || node.outputs.size() < 1 || node.inputs.empty()) return;
    LayoutSite site{node, graph, opset, {}};
    for (ValueId in : node.inputs) site.from_layout.push_back(in != kNoValue && from_layout[in]);
    for (const LayoutFactory& factory : step.entry->layout) {
      if (disabled(factory.kind)) continue;
      LayoutStep made = factory.make(site);
      if (!made.kernel) continue;
      step.layout = std::move(made.kernel);
      step.layout_inputs = std::move(made.inputs);
      step.layout_output = node.outputs[0];
      step.label = "dnnl " + node.op_type;
      return;
    }
  }

  Step fake_quant_step(const Graph& graph, FakeQuantStep& planned, std::vector<bool>& from_layout,
                       const SessionOptions& options) {
    Step step;
    step.node = &graph.nodes[planned.pair.dequantize >= 0 ? planned.pair.dequantize : planned.pair.quantize];
    step.layout = std::move(planned.kernel);
    step.layout_inputs = planned.inputs;
    step.layout_output = planned.output;
    for (NodeId n : planned.nodes) step.parts.push_back(plain_step(graph.nodes[n], graph, options));
    step.label = planned.label;
    from_layout[step.layout_output] = true;
    return step;
  }

  // A chain's nodes in graph order, with the QuantizeLinears its fallback must rerun.
  static std::vector<NodeId> with_fallback_quantizers(std::vector<NodeId> nodes, const std::vector<NodeId>& extra) {
    nodes.insert(nodes.end(), extra.begin(), extra.end());
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    return nodes;
  }

  void build(const Graph& graph, int64_t opset, const SessionOptions& options) {
    GraphPlan& plan = graphs[&graph];
    plan.graph = &graph;
    plan.opset = opset;
    // Fusion chains (engine/fusion.h), then the int8 plan on top of them (engine/int8_plan.h).
    std::vector<FusedChain> chains;
    std::vector<bool> in_chain(graph.nodes.size(), false);
    if (layouts && !disabled("conv")) {
      chains = fusion_find_chains(graph, opset, [&](const Node& conv) {
        return dnnl_layout_conv_channels(conv, graph);
      });
      if (disabled("chain"))
        for (FusedChain& chain : chains) {
          chain.nodes = {chain.head};
          chain.post_ops.clear();
          chain.scale = {1.0f};
          chain.shift = {0.0f};
          chain.sum_operand = kNoValue;
          chain.output = graph.nodes[chain.head].outputs[0];
        }
      for (const FusedChain& chain : chains)
        for (NodeId n : chain.nodes) in_chain[n] = true;
    }
    const bool int8_on = options.int8 && original && &graph == planned_top && !disabled("int8");
    Int8Plan planned = layouts ? plan_int8(graph, int8_on ? original : nullptr, opset, chains, in_chain, disabled)
                               : Int8Plan{};
    auto& [int8, fake_quant] = planned;
    for (const auto& [quantize, node] : int8.requantized) kept_nodes.push_back(node);
    // Fusion chains, keyed by the node where each runs (its last node, after the int8 plan).
    std::map<NodeId, size_t> chain_at_tail;
    for (size_t c = 0; c < chains.size(); ++c) chain_at_tail[chains[c].tail()] = c;
    std::vector<bool> from_layout(graph.values.size(), false);
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      const Node& node = graph.nodes[i];
      for (const auto& [key, attr] : node.attributes)
        if (attr.g) build(*attr.g, opset, options);
      if (auto member = fake_quant.step_of.find(static_cast<NodeId>(i)); member != fake_quant.step_of.end()) {
        FakeQuantStep& planned = fake_quant.steps[member->second];
        if (planned.nodes.back() == static_cast<NodeId>(i))
          plan.steps.push_back(fake_quant_step(graph, planned, from_layout, options));
        continue;  // the step runs where its last node was
      }
      if (in_chain[i]) {
        auto it = chain_at_tail.find(static_cast<NodeId>(i));
        if (it == chain_at_tail.end()) continue;  // runs inside its chain's step
        const FusedChain& chain = chains[it->second];
        const Node& head = graph.nodes[chain.head];
        Step step;
        step.node = &head;
        auto int8_step = int8.steps.find(it->second);
        if (int8_step != int8.steps.end()) {
          step.layout = std::move(int8_step->second.kernel);
          step.layout_inputs = {int8_step->second.x};
          step.label = "int8 " + head.op_type;
        } else {
          step.layout = dnnl_make_layout_conv(head, graph, chain.post_ops, chain.scale, chain.shift);
          OCS_CHECK(step.layout, "{} was eligible for fusion but has no layout kernel", head.describe());
          step.layout_inputs = head.inputs;
          step.layout_inputs.resize(3, kNoValue);
          step.label = "dnnl " + head.op_type;
        }
        if (chain.sum_operand != kNoValue) step.layout_inputs.push_back(chain.sum_operand);
        step.layout_output = chain.output;
        const std::vector<NodeId>& extra = int8.fallback_extra[it->second];
        for (NodeId n : with_fallback_quantizers(chain.nodes, extra)) {
          const bool rerun = std::count(extra.begin(), extra.end(), n) > 0 && int8.requantized.count(n) > 0;
          step.parts.push_back(plain_step(rerun ? *int8.requantized.at(n) : graph.nodes[n], graph, options));
          if (n > chain.head) step.label += "+" + graph.nodes[n].op_type;
        }
        from_layout[chain.output] = true;
        plan.steps.push_back(std::move(step));
        continue;
      }
      Step step = plain_step(node, graph, options);
      if (layouts) try_layout_step(step, graph, opset, from_layout);
      if (step.layout) from_layout[step.layout_output] = true;
      plan.steps.push_back(std::move(step));
    }

    // Release each value after the last step that reads it.
    const int64_t end = static_cast<int64_t>(plan.steps.size());
    std::vector<int64_t> last_use(graph.values.size(), -1);
    auto note_reads = [&](const Node& node, int64_t s) {
      for (ValueId in : node.inputs)
        if (in != kNoValue) last_use[in] = s;
      std::set<std::string> outer;
      for (const auto& [key, attr] : node.attributes)
        if (attr.g) collect_outer_reads(*attr.g, outer);
      for (const auto& name : outer)
        if (ValueId id = graph.find_value(name); id != kNoValue) last_use[id] = s;
    };
    for (int64_t s = 0; s < end; ++s) {
      const Step& step = plan.steps[s];
      if (step.parts.empty()) note_reads(*step.node, s);
      for (const Step& part : step.parts) note_reads(*part.node, s);
    }
    for (ValueId out : graph.outputs) last_use[out] = end;
    for (size_t v = 0; v < graph.values.size(); ++v) {
      const Value& value = graph.values[v];
      if (last_use[v] >= 0 && last_use[v] < end && !value.constant && !value.outer_scope)
        plan.steps[last_use[v]].release_after.push_back(static_cast<ValueId>(v));
    }
    for (Step& step : plan.steps)
      for (ValueId in : step.layout_inputs)
        step.layout_input_dies.push_back(
            in != kNoValue && std::count(step.release_after.begin(), step.release_after.end(), in) > 0);
  }

  void run_graph(const GraphPlan& plan, Frame& frame, const Observer& observer);
  void run_named_step(const Step& step, const GraphPlan& plan, Frame& frame, const Observer& observer);
  void run_step(const Step& step, const GraphPlan& plan, Frame& frame, const Observer& observer);
  void run_plain(const Step& step, const GraphPlan& plan, Frame& frame, const Observer& observer);
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

void Session::Plan::run_plain(const Step& step, const GraphPlan& plan, Frame& frame, const Observer& observer) {
  const Node& node = *step.node;
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs(node.outputs.size());
  if (!step.entry) frame.materialize_all();  // the branch reads outer values by name
  for (ValueId in : node.inputs) inputs.push_back(in == kNoValue ? Tensor() : frame.plain(in));
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
    if (!frame.side.empty()) frame.side[out] = DnnlValue();
    if (observer) observer(*plan.graph, out, frame.values[out]);
  }
}

void Session::Plan::run_step(const Step& step, const GraphPlan& plan, Frame& frame, const Observer& observer) {
  if (step.layout) {
    std::vector<DnnlValue*> args;
    DnnlValue absent;
    for (size_t i = 0; i < step.layout_inputs.size(); ++i) {
      const ValueId in = step.layout_inputs[i];
      if (in == kNoValue) {
        args.push_back(&absent);
        continue;
      }
      DnnlValue& side = frame.side[in];
      if (!side.has_memory) side.plain = frame.values[in];
      side.dies_here = step.layout_input_dies[i];
      args.push_back(&side);
    }
    DnnlValue out;
    const bool ran = step.layout->run(args, out);
    for (DnnlValue* arg : args) arg->dies_here = false;
    if (ran) {
      frame.values[step.layout_output] = out.plain;
      frame.side[step.layout_output] = std::move(out);
      return;
    }
    if (step.parts.empty()) return run_plain(step, plan, frame, observer);
    for (const Step& part : step.parts) run_plain(part, plan, frame, observer);
    return;
  }
  run_plain(step, plan, frame, observer);
}

// A tensor that does not fit the memory budget is refused where it is allocated, which does not
// know the model; the message gets the node and the value it computes here, once.
void Session::Plan::run_named_step(const Step& step, const GraphPlan& plan, Frame& frame,
                                   const Observer& observer) {
  try {
    run_step(step, plan, frame, observer);
  } catch (const MemoryLimitError& e) {
    if (e.names_node()) throw;
    const Node& node = step.parts.empty() ? *step.node : *step.parts.back().node;
    std::string values;
    for (ValueId out : node.outputs)
      if (out != kNoValue) values += (values.empty() ? "'" : ", '") + plan.graph->values[out].name + "'";
    throw MemoryLimitError(fmt::format("{} computing {}: {}", node.describe(), values, e.what()), true);
  }
}

void Session::Plan::run_graph(const GraphPlan& plan, Frame& frame, const Observer& observer) {
  const Graph& graph = *plan.graph;
  frame.values.resize(graph.values.size());
  if (layouts) frame.side.resize(graph.values.size());
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
  for (const Step& step : plan.steps) {
    if (profile) {
      const auto start = std::chrono::steady_clock::now();
      run_named_step(step, plan, frame, observer);
      auto& [ms, count] = profile_totals[profile_nodes ? step.label + " @ " + step.node->describe() : step.label];
      ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      ++count;
    } else {
      run_named_step(step, plan, frame, observer);
    }
    for (ValueId dead : step.release_after) {
      frame.values[dead] = Tensor();
      if (!frame.side.empty()) frame.side[dead] = DnnlValue();
    }
  }
  for (ValueId out : graph.outputs) frame.plain(out);
}

namespace {

// The session's thread count, for the duration of one of its calls only: omp_set_num_threads
// sets the calling thread's OpenMP setting, which oneDNN reads when it creates and runs
// primitives; the caller's setting is restored afterwards, so a library call changes no state
// of the process (a Python program's own OpenMP code keeps its thread count).
class ScopedThreads {
 public:
  explicit ScopedThreads(int threads) : saved_(threads > 0 ? omp_get_max_threads() : 0) {
    if (threads > 0) omp_set_num_threads(threads);
  }
  ~ScopedThreads() {
    if (saved_ > 0) omp_set_num_threads(saved_);
  }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int saved_;
};

}  // namespace

Session::Session(std::shared_ptr<const Graph> graph, SessionOptions options)
    : graph_(std::move(graph)), options_(options), plan_(std::make_unique<Plan>()) {
  const ScopedThreads threads(options_.threads);
  plan_->layouts = options_.fuse && !options_.reference_kernels_only;
  const char* profile = std::getenv("OCS_PROFILE");
  plan_->profile = profile && *profile && std::string(profile) != "0";
  plan_->profile_nodes = plan_->profile && std::string(profile) == "nodes";
  planned_graph_ = graph_;
  if (plan_->layouts) {
    auto folded = std::make_shared<Graph>(*graph_);
    int64_t changed = fold_constants(*folded);
    changed += read_channels_last_upsamplings(*folded);
    changed += read_copy_convs(*folded);
    if (changed > 0) planned_graph_ = std::move(folded);
  }
  plan_->original = graph_.get();
  plan_->planned_top = planned_graph_.get();
  plan_->build(*planned_graph_, planned_graph_->opset(""), options_);
}

std::vector<std::string> Session::step_labels() const {
  std::vector<std::string> labels;
  for (const auto& step : plan_->graphs.at(planned_graph_.get()).steps) labels.push_back(step.label);
  return labels;
}

Session::~Session() {
  for (const Plan* plan : {plan_.get(), observed_plan_.get()}) {
    if (!plan || !plan->profile || plan->profile_totals.empty()) continue;
    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    for (const auto& [label, entry] : plan->profile_totals) {
      rows.emplace_back(entry.first, fmt::format("{:9.2f} ms {:7} x  {}", entry.first, entry.second, label));
      total += entry.first;
    }
    std::sort(rows.rbegin(), rows.rend());
    std::cerr << fmt::format("OCS_PROFILE: {:.2f} ms in all steps of all runs\n", total);
    for (const auto& row : rows) std::cerr << "  " << row.second << "\n";
  }
}

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
  const ScopedThreads threads(options_.threads);
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
    // A 16-bit float input takes float32 data too (calibration and evaluation data are
    // float32), rounded as numpy's astype rounds: to nearest even.
    const bool to_half = dtype_is_half(value.dtype) && it->second.dtype() == DType::Float32;
    const Tensor& given = to_half ? tensor_cast(it->second, value.dtype) : it->second;
    check_input(value, given);
    frame.values[id] = given;
    if (observer) observer(graph, id, given);
  }
  Plan* plan = plan_.get();
  const Graph* plan_graph = planned_graph_.get();
  if (observer && plan->layouts) {
    // Fusion hides intermediates and blocked layouts hide values: observe an unfused plan.
    if (!observed_plan_) {
      observed_plan_ = std::make_unique<Plan>();
      observed_plan_->profile = plan_->profile;
      observed_plan_->profile_nodes = plan_->profile_nodes;
      observed_plan_->build(graph, graph.opset(""), options_);
    }
    plan = observed_plan_.get();
    plan_graph = &graph;
  }
  frame.graph = plan_graph;
  plan->run_graph(plan->graphs.at(plan_graph), frame, observer);
  std::vector<Tensor> outputs;
  for (ValueId id : graph.outputs) outputs.push_back(frame.values[id]);
  return outputs;
}

}  // namespace ocs
