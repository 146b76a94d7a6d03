#include "engine/int8_plan.h"

#include <algorithm>
#include <optional>
#include <set>

namespace ocs {

namespace {

using Disabled = Int8Disabled;

// `reader` is the one node reading `v`, which is not a graph output.
bool only_reader(const Graph& graph, ValueId v, NodeId reader) {
  const std::vector<NodeId> readers = graph.consumers(v);
  return !graph.is_graph_output(v) && readers.size() == 1 && readers[0] == reader;
}

// Quantized Convs: the chain grows by the nodes in front of its head that the int8 step
// computes itself (the quantization of its input), and runs as an int8 convolution.
Int8Steps plan_int8_steps(const Graph& graph, const Graph* original, std::vector<FusedChain>& chains,
                          std::vector<bool>& in_chain) {
  Int8Steps int8;
  int8.hidden.assign(graph.nodes.size(), false);
  if (!original) return int8;
  for (size_t c = 0; c < chains.size(); ++c) {
    FusedChain& chain = chains[c];
    std::optional<Int8ConvInput> input = int8_match_conv_input(graph, *original, chain.head, in_chain);
    if (!input) continue;
    std::unique_ptr<LayoutKernel> kernel = dnnl_make_layout_int8_conv(graph.nodes[chain.head], graph, input->spec,
                                                                      chain.post_ops, chain.scale, chain.shift);
    if (!kernel) continue;
    for (NodeId n : input->hidden) {
      in_chain[n] = int8.hidden[n] = true;
      int8.chain_of_hidden[n] = c;
    }
    chain.nodes.insert(chain.nodes.end(), input->hidden.begin(), input->hidden.end());
    std::sort(chain.nodes.begin(), chain.nodes.end());
    int8.steps[c] = {std::move(kernel), input->x, std::move(*input), {}};
  }
  return int8;
}

// Q -> DQ pairs that round-trip a float tensor (engine/int8_layers.h), with the element-wise
// functions after them (engine/fusion.h), as one step where its last node was. Int8 steps that
// hide other readers of the codes rerun the QuantizeLinear when they fall back.
FakeQuantPlan plan_fake_quant(const Graph& graph, int64_t opset, std::vector<bool>& in_chain, Int8Steps& int8,
                              const Disabled& disabled) {
  FakeQuantPlan planned;
  if (disabled("qdq")) return planned;
  for (const FakeQuantPair& pair : int8_match_fake_quant_pairs(graph, in_chain, int8.hidden)) {
    auto rerun_in_fallbacks = [&] {
      for (NodeId reader : graph.consumers(graph.nodes[pair.quantize].outputs[0]))
        if (int8.hidden[reader]) int8.fallback_extra[int8.chain_of_hidden.at(reader)].push_back(pair.quantize);
    };
    if (pair.dequantize < 0) {  // its codes are needed only if an int8 step falls back
      in_chain[pair.quantize] = true;
      rerun_in_fallbacks();
      continue;
    }
    const Node& dq = graph.nodes[pair.dequantize];
    in_chain[pair.quantize] = in_chain[pair.dequantize] = true;
    EltwiseTail tail = fusion_eltwise_tail(graph, opset, dq.outputs[0], in_chain);
    std::unique_ptr<LayoutKernel> kernel =
        dnnl_make_layout_fake_quant(pair.scale, pair.zero_point, pair.type, tail.ops);
    if (!kernel) {
      in_chain[pair.quantize] = in_chain[pair.dequantize] = false;
      continue;
    }
    const ValueId x = graph.nodes[pair.quantize].inputs[0];
    FakeQuantStep step{{pair.quantize, pair.dequantize}, std::move(kernel), x, tail.output, {x},
                       "dnnl QuantizeLinear+DequantizeLinear", pair, tail.ops};
    for (NodeId n : tail.nodes) {
      in_chain[n] = true;
      step.nodes.push_back(n);
      step.label += "+" + graph.nodes[n].op_type;
    }
    std::sort(step.nodes.begin(), step.nodes.end());
    rerun_in_fallbacks();
    for (NodeId n : step.nodes) planned.step_of[n] = planned.steps.size();
    planned.steps.push_back(std::move(step));
  }
  return planned;
}

// What an int8 chain computes after its post-ops (dnnl_int8.h, Int8Requantize), and the nodes
// it takes over for that: a fake-quantize step (with its functions), a Clip and a QuantizeLinear.
struct Requantizing {
  NodeId quantize = -1, clip = -1;
  std::optional<size_t> fake_quant;
  Int8Requantize requantize;
};

// The chains of plan_codes and what each takes over (the kernel is known to accept it).
std::map<size_t, Requantizing> find_requantizing(const Graph& graph, const std::vector<FusedChain>& chains,
                                                 const Int8Steps& int8, const FakeQuantPlan& fake_quant,
                                                 const Disabled& disabled) {
  std::map<ValueId, size_t> int8_output, fake_quant_output;  // value -> the int8 chain / step computing it
  for (const auto& [c, step] : int8.steps) int8_output[chains[c].output] = c;
  for (size_t f = 0; f < fake_quant.steps.size(); ++f) fake_quant_output[fake_quant.steps[f].output] = f;
  auto round_trip_after = [&](ValueId x) -> std::optional<std::pair<size_t, size_t>> {  // (step, chain)
    auto f = fake_quant_output.find(x);
    if (f == fake_quant_output.end()) return std::nullopt;
    const FakeQuantStep& pair = fake_quant.steps[f->second];
    auto producer = int8_output.find(pair.x);
    if (producer == int8_output.end() || !only_reader(graph, pair.x, pair.pair.quantize) ||
        !only_reader(graph, graph.nodes[pair.pair.quantize].outputs[0], pair.pair.dequantize))
      return std::nullopt;
    return std::make_pair(f->second, producer->second);
  };
  auto round_trip_of = [&](size_t f) {
    const FakeQuantPair& p = fake_quant.steps[f].pair;
    return Int8Requantize::RoundTrip{p.scale, p.zero_point, p.type, fake_quant.steps[f].after};
  };
  auto accepts = [&](size_t c, const Int8Requantize& r) {  // post-ops the requantization cannot follow
    const FusedChain& chain = chains[c];
    return dnnl_make_layout_int8_conv(graph.nodes[chain.head], graph, int8.steps.at(c).input.spec, chain.post_ops,
                                      chain.scale, chain.shift, r) != nullptr;
  };
  std::map<size_t, Requantizing> found;
  std::set<NodeId> written;
  for (const auto& [reader, step] : int8.steps) {
    const Int8ConvInput& in = step.input;
    if (in.quantize < 0 || in.gathered_before_quantize || written.count(in.quantize) ||
        fake_quant.step_of.count(in.quantize))
      continue;
    const ValueId clipped = in.clip >= 0 ? graph.nodes[in.clip].outputs[0] : kNoValue;
    if (in.clip >= 0 ? !only_reader(graph, in.x, in.clip) || !only_reader(graph, clipped, in.quantize)
                     : !only_reader(graph, in.x, in.quantize))
      continue;
    Requantizing r{in.quantize, in.clip, std::nullopt, {}};
    std::optional<size_t> c;
    if (auto producer = int8_output.find(in.x); producer != int8_output.end()) {
      c = producer->second;
    } else if (auto trip = round_trip_after(in.x)) {
      r.fake_quant = trip->first;
      r.requantize.round_trip = round_trip_of(trip->first);
      c = trip->second;
    }
    if (!c || found.count(*c)) continue;
    r.requantize.codes =
        Int8Requantize::Codes{in.spec.clip_low, in.spec.clip_high, in.spec.scale, in.spec.zero_point, in.spec.type};
    if (!accepts(*c, r.requantize)) continue;
    written.insert(r.quantize);
    found[*c] = std::move(r);
  }
  if (disabled("roundtrip")) return found;
  for (size_t f = 0; f < fake_quant.steps.size(); ++f) {
    const auto trip = round_trip_after(fake_quant.steps[f].output);
    if (!trip || found.count(trip->second)) continue;  // it writes codes through this round trip
    Requantizing r{-1, -1, f, {}};
    r.requantize.round_trip = round_trip_of(f);
    if (accepts(trip->second, r.requantize)) found[trip->second] = std::move(r);
  }
  return found;
}

// Moves the nodes `r` takes over into chain c, out of the int8 chain that hid them and out of
// the fake-quantize steps and the fallbacks' reruns.
void take_over(const Graph& graph, size_t c, const Requantizing& r, std::vector<bool>& in_chain,
                      std::vector<FusedChain>& chains, Int8Steps& int8, FakeQuantPlan& fake_quant) {
  FusedChain& chain = chains[c];
  std::vector<NodeId> taken;
  if (r.quantize >= 0) taken.push_back(r.quantize);
  if (r.clip >= 0) taken.push_back(r.clip);
  if (r.fake_quant) {
    const FakeQuantStep& pair = fake_quant.steps[*r.fake_quant];
    for (NodeId n : pair.nodes) fake_quant.step_of.erase(n);
    taken.insert(taken.end(), pair.nodes.begin(), pair.nodes.end());
  }
  for (NodeId n : taken) {
    if (auto hidden_in = int8.chain_of_hidden.find(n); hidden_in != int8.chain_of_hidden.end()) {
      std::vector<NodeId>& nodes = chains[hidden_in->second].nodes;
      nodes.erase(std::remove(nodes.begin(), nodes.end(), n), nodes.end());
    }
    in_chain[n] = int8.hidden[n] = true;
    int8.chain_of_hidden[n] = c;
    chain.nodes.push_back(n);
  }
  std::sort(chain.nodes.begin(), chain.nodes.end());
  chain.output = r.quantize >= 0 ? graph.nodes[r.quantize].outputs[0] : fake_quant.steps[*r.fake_quant].output;
  for (auto& [chain_id, extra] : int8.fallback_extra)
    extra.erase(std::remove(extra.begin(), extra.end(), r.quantize), extra.end());
}

// Builds int8 step c's kernel again after the plan changed what it reads (`input.spec.codes_in`)
// or what it computes after its post-ops (`requantize`).
void remake_int8_kernel(const Graph& graph, const std::vector<FusedChain>& chains, size_t c, Int8Step& step) {
  const FusedChain& chain = chains[c];
  step.kernel = dnnl_make_layout_int8_conv(graph.nodes[chain.head], graph, step.input.spec, chain.post_ops,
                                           chain.scale, chain.shift, step.requantize);
  OCS_CHECK(step.kernel, "{}: the int8 step was planned but has no kernel", graph.nodes[chain.head].describe());
}

// Int8 Convs that write the codes the next int8 Convs read: where an int8 step's
// QuantizeLinear (and its Clip) reads the output of an int8 Conv, directly or through a
// fake-quantize step whose input the Conv's output is, and nothing else reads those values, the
// Conv's step takes over the fake-quantize step, the Clip and the QuantizeLinear and writes the
// codes; every int8 step behind that QuantizeLinear reads them (a step that falls back runs its
// nodes from the DequantizeLinear on, on the codes made plain). The other fake-quantize steps
// right after an int8 Conv run inside it too (the Conv's output stays float).
void plan_codes(const Graph& graph, std::vector<FusedChain>& chains, std::vector<bool>& in_chain, Int8Steps& int8,
                FakeQuantPlan& fake_quant, const Disabled& disabled) {
  if (disabled("codes") || int8.steps.empty()) return;
  std::map<size_t, Requantizing> by_chain = find_requantizing(graph, chains, int8, fake_quant, disabled);
  std::set<NodeId> written;  // QuantizeLinears whose codes int8 chains write
  for (auto& [c, r] : by_chain) {
    take_over(graph, c, r, in_chain, chains, int8, fake_quant);
    if (r.quantize >= 0) written.insert(r.quantize);
  }
  for (auto& [c, step] : int8.steps) {
    const bool reads = written.count(step.input.quantize) > 0;
    auto found = by_chain.find(c);
    if (!reads && found == by_chain.end()) continue;
    step.input.spec.codes_in = reads;
    if (reads) step.x = graph.nodes[step.input.quantize].outputs[0];
    if (found != by_chain.end()) step.requantize = found->second.requantize;
    remake_int8_kernel(graph, chains, c, step);
  }
}

// The layout kernel of `node` followed by `then` in its primitive, and the values it reads: a
// binary op (Add, Mul, Sub, Div), a pooling or a nearest Resize, or a Concat writing codes; no
// kernel for other ops or where the kernel cannot take it.
struct WithRoundTrip {
  std::unique_ptr<LayoutKernel> kernel;
  std::vector<ValueId> inputs;
};
WithRoundTrip with_round_trip(const Graph& graph, const Node& node, int64_t opset, const RoundTripOps& then) {
  const std::string& op = node.op_type;
  if (op == "Add" || op == "Mul" || op == "Sub" || op == "Div") return {dnnl_make_layout_binary(node, then), node.inputs};
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool")
    return {dnnl_make_layout_pool(node, graph, then), {node.inputs[0]}};
  if (op == "Resize") return {dnnl_make_layout_resize(node, graph, opset, then), {node.inputs[0]}};
  if (op == "Concat") return {dnnl_make_layout_concat(node, graph, then), node.inputs};  // codes only
  return {};
}

// The op in front of `x` (read only by `reader`) whose oneDNN primitive computes x, with the
// element-wise functions between them as post-ops (at most 3) and `then` after them
// (with_round_trip); no kernel when there is none. `nodes`: the functions, then the op (walking
// back).
struct LayerInFront {
  std::unique_ptr<LayoutKernel> kernel;
  std::vector<ValueId> inputs;
  std::vector<NodeId> nodes;
};
LayerInFront layer_in_front(const Graph& graph, int64_t opset, ValueId x, NodeId reader,
                            const std::vector<bool>& in_chain, RoundTripOps then) {
  LayerInFront found;
  ValueId v = x;
  while (found.nodes.size() < 4 && only_reader(graph, v, reader)) {
    const std::optional<NodeId> p = graph.producer(v);
    if (!p || in_chain[*p] || !graph.nodes[*p].domain.empty() || graph.nodes[*p].inputs.empty()) break;
    const Node& node = graph.nodes[*p];
    found.nodes.push_back(*p);
    std::optional<std::vector<EltwiseOp>> ops = dnnl_node_as_eltwise(graph, node, node.inputs[0], opset);
    if (!ops) {
      WithRoundTrip made = with_round_trip(graph, node, opset, then);
      found.kernel = std::move(made.kernel);
      found.inputs = std::move(made.inputs);
      break;
    }
    then.before.insert(then.before.begin(), ops->begin(), ops->end());
    reader = *p;
    v = node.inputs[0];
  }
  return found;
}

// A binary op (Add, Mul, Sub, Div), a pooling or a nearest Resize, with element-wise functions
// after it, whose result only a fake-quantize step reads: one step, the functions and the round
// trip as post-ops of its primitive (with_round_trip). Int8 steps that quantize that result themselves (through
// the same QuantizeLinear, no Clip) read the round trip's output instead, which quantizes to the
// same codes ((q - z) * s / s rounds back to q - z); when they fall back they quantize that
// output (`requantized`: the QuantizeLinear rewired to it).
void plan_layer_round_trips(const Graph& graph, int64_t opset, std::vector<bool>& in_chain, Int8Steps& int8,
                             FakeQuantPlan& fake_quant, const Disabled& disabled) {
  if (disabled("binary") || disabled("roundtrip")) return;
  for (size_t f = 0; f < fake_quant.steps.size(); ++f) {
    FakeQuantStep& step = fake_quant.steps[f];
    if (!fake_quant.step_of.count(step.pair.quantize)) continue;  // an int8 chain took it
    RoundTripOps then{{}, step.pair.scale, step.pair.zero_point, step.pair.type, step.after};
    LayerInFront made = layer_in_front(graph, opset, step.x, step.pair.quantize, in_chain, then);
    if (!made.kernel) continue;
    std::vector<NodeId>& front = made.nodes;
    std::vector<size_t> quantizing;  // int8 steps reading step.x
    bool rewirable = step.after.empty();
    for (const auto& [c, s] : int8.steps)
      if (s.x == step.x) {
        quantizing.push_back(c);
        rewirable = rewirable && s.input.quantize == step.pair.quantize && s.input.clip < 0;
      }
    if (!quantizing.empty() && !rewirable) continue;
    step.kernel = std::move(made.kernel);
    step.inputs = std::move(made.inputs);
    for (NodeId n : front) {
      in_chain[n] = true;
      fake_quant.step_of[n] = f;
      step.nodes.push_back(n);
    }
    std::sort(step.nodes.begin(), step.nodes.end());
    step.label = "dnnl";
    for (NodeId n : step.nodes) step.label += (n == step.nodes.front() ? " " : "+") + graph.nodes[n].op_type;
    if (quantizing.empty()) continue;
    auto rewired = std::make_shared<Node>(graph.nodes[step.pair.quantize]);
    rewired->inputs[0] = step.output;
    int8.requantized[step.pair.quantize] = std::move(rewired);
    for (size_t c : quantizing) int8.steps[c].x = step.output;
  }
}

// A binary op, a pooling, a nearest Resize (with element-wise functions after it) or a Concat whose
// result only the QuantizeLinear of int8 steps reads (no Clip, no OCS Gather in front of it) and whose
// codes only those steps read: one step computes the op and writes the codes (RoundTripOps::codes,
// a fake-quantize step without DequantizeLinear), and the int8 steps read them (codes_in) instead
// of quantizing a float tensor; the QuantizeLinear leaves their fallbacks. PP-OCR det's FPN Add
// in front of a 3x3 Conv: 2.5 M values written as one byte instead of four, and no quantizing
// pass (docs/PERFORMANCE.md). A step that falls back runs its nodes one by one.
void plan_layer_codes(const Graph& graph, int64_t opset, std::vector<FusedChain>& chains, std::vector<bool>& in_chain,
                      Int8Steps& int8, FakeQuantPlan& fake_quant, const Disabled& disabled) {
  if (disabled("codes") || disabled("layercodes")) return;
  std::map<NodeId, std::vector<size_t>> readers_of;  // QuantizeLinear -> the int8 steps quantizing through it
  for (const auto& [c, step] : int8.steps)
    if (step.input.quantize >= 0) readers_of[step.input.quantize].push_back(c);
  for (const auto& entry : readers_of) {
    const NodeId quantize = entry.first;
    const std::vector<size_t>& readers = entry.second;  // a lambda cannot capture a structured binding in C++17
    const Int8ConvInput& first = int8.steps.at(readers[0]).input;
    const ValueId codes = graph.nodes[quantize].outputs[0];
    auto quantizes_x = [&](size_t c) {
      const Int8Step& step = int8.steps.at(c);
      return step.input.clip < 0 && !step.input.gathered_before_quantize && !step.input.spec.codes_in &&
             step.x == first.x && step.input.x == first.x;
    };
    auto read_by_them = [&](NodeId reader) {
      auto in = int8.chain_of_hidden.find(reader);
      return in != int8.chain_of_hidden.end() &&
             std::find(readers.begin(), readers.end(), in->second) != readers.end();
    };
    const std::vector<NodeId> code_readers = graph.consumers(codes);
    if (!std::all_of(readers.begin(), readers.end(), quantizes_x) || fake_quant.step_of.count(quantize) ||
        int8.requantized.count(quantize) || graph.is_graph_output(codes) ||
        !std::all_of(code_readers.begin(), code_readers.end(), read_by_them))
      continue;
    const Int8ConvSpec& spec = first.spec;
    RoundTripOps then{{}, spec.scale, spec.zero_point, spec.type, {}, true};
    LayerInFront made = layer_in_front(graph, opset, first.x, quantize, in_chain, then);
    if (!made.kernel) continue;

    const size_t f = fake_quant.steps.size();
    FakeQuantStep step{made.nodes, std::move(made.kernel), first.x, codes, std::move(made.inputs), "dnnl", {}, {}};
    step.pair.quantize = quantize;
    step.pair.scale = spec.scale;
    step.pair.zero_point = spec.zero_point;
    step.pair.type = spec.type;
    step.nodes.push_back(quantize);
    std::sort(step.nodes.begin(), step.nodes.end());
    for (NodeId n : step.nodes) {
      step.label += (n == step.nodes.front() ? " " : "+") + graph.nodes[n].op_type;
      in_chain[n] = true;
      fake_quant.step_of[n] = f;
    }
    fake_quant.steps.push_back(std::move(step));
    // The QuantizeLinear now runs in this step: out of the chain that hid it and of the fallbacks.
    if (auto hidden_in = int8.chain_of_hidden.find(quantize); hidden_in != int8.chain_of_hidden.end()) {
      std::vector<NodeId>& nodes = chains[hidden_in->second].nodes;
      nodes.erase(std::remove(nodes.begin(), nodes.end(), quantize), nodes.end());
      int8.chain_of_hidden.erase(hidden_in);
    }
    for (auto& [chain_id, extra] : int8.fallback_extra)
      extra.erase(std::remove(extra.begin(), extra.end(), quantize), extra.end());
    for (size_t c : readers) {
      Int8Step& reader = int8.steps.at(c);
      reader.input.spec.codes_in = true;
      reader.x = codes;
      remake_int8_kernel(graph, chains, c, reader);
    }
  }
}

}  // namespace

Int8Plan plan_int8(const Graph& graph, const Graph* original, int64_t opset, std::vector<FusedChain>& chains,
                   std::vector<bool>& in_chain, const Int8Disabled& disabled) {
  Int8Plan plan;
  plan.int8 = plan_int8_steps(graph, original, chains, in_chain);
  plan.fake_quant = plan_fake_quant(graph, opset, in_chain, plan.int8, disabled);
  plan_codes(graph, chains, in_chain, plan.int8, plan.fake_quant, disabled);
  plan_layer_round_trips(graph, opset, in_chain, plan.int8, plan.fake_quant, disabled);
  plan_layer_codes(graph, opset, chains, in_chain, plan.int8, plan.fake_quant, disabled);
  return plan;
}

}  // namespace ocs
