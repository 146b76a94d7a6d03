// unroll_recurrent: see unroll_recurrent.h for the unrolled form and what is supported.
#include "passes/unroll_recurrent.h"

#include "passes/graph_edit.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

namespace ocs {

namespace {

// Everything the rewrite needs, checked before anything changes.
struct RecurrentPlan {
  NodeId node = -1;
  int64_t steps = 0;        // T
  int64_t batch = -1;       // N, -1 when unknown
  int64_t hidden = 0;       // H
  int64_t layout = 0;
  bool reverse = false;
  int64_t gates = 4;        // LSTM 4 (i, o, f, c), GRU 3 (z, r, h)
  bool linear_before_reset = false;  // GRU
  Tensor w_t;               // W^T [I, G*H]
  Tensor r_t;               // R^T [H, G*H]
  std::optional<Tensor> bias;    // Wb + Rb [G*H]
  std::optional<Tensor> wb, rb;  // Wb, Rb [G*H] each (GRU needs Rbh apart)
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

const Tensor* float_constant(const Graph& graph, const Node& node, size_t index) {
  if (node.inputs.size() <= index || node.inputs[index] == kNoValue) return nullptr;
  const Value& v = graph.values[node.inputs[index]];
  return v.constant && v.constant->dtype() == DType::Float32 ? &*v.constant : nullptr;
}

bool has_input(const Node& node, size_t index) {
  return node.inputs.size() > index && node.inputs[index] != kNoValue;
}

// W [1, rows, cols] -> W[0]^T [cols, rows].
Tensor transpose_direction(const Tensor& w) {
  const int64_t rows = w.dim(1), cols = w.dim(2);
  Tensor t(DType::Float32, {cols, rows});
  const float* in = w.data<float>();
  float* out = t.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
  return t;
}

// Fills `plan` and returns "" when the LSTM (gates 4) or GRU (gates 3) can be unrolled, else the
// reason it cannot.
std::string check_recurrent(const Graph& graph, NodeId id, int64_t gates, RecurrentPlan& plan) {
  const Node& node = graph.nodes[id];
  const bool lstm = gates == 4;
  plan.node = id;
  plan.gates = gates;
  const std::string direction = node.attr_string("direction", "forward");
  if (direction == "bidirectional") return "direction bidirectional is not unrolled";
  if (direction != "forward" && direction != "reverse") return "unknown direction '" + direction + "'";
  plan.reverse = direction == "reverse";
  if (node.has_attr("activations")) {
    const std::vector<std::string>& names = node.attr("activations").strings;
    const std::vector<std::string> defaults =
        lstm ? std::vector<std::string>{"sigmoid", "tanh", "tanh"} : std::vector<std::string>{"sigmoid", "tanh"};
    std::vector<std::string> given;
    for (const auto& n : names) given.push_back(lower(n));
    if (given != defaults) return "activations other than the defaults (Sigmoid, Tanh[, Tanh])";
  }
  if (node.has_attr("clip")) return "attribute clip is not unrolled";
  if (lstm && node.attr_int("input_forget", 0) != 0) return "input_forget is not unrolled";
  plan.linear_before_reset = !lstm && node.attr_int("linear_before_reset", 0) != 0;
  plan.layout = node.attr_int("layout", 0);
  if (plan.layout != 0 && plan.layout != 1) return "unknown layout";

  if (!has_input(node, 0)) return "no input X";
  const Value& x = graph.values[node.inputs[0]];
  if (x.dtype != DType::Float32) return "X is not float32";
  if (!x.shape || x.shape->size() != 3) return "the rank of X is not known to be 3";
  plan.steps = (*x.shape)[plan.layout == 0 ? 0 : 1];
  plan.batch = (*x.shape)[plan.layout == 0 ? 1 : 0];
  if (plan.steps <= 0) return "the sequence length of X is not static";
  const int64_t input_size = (*x.shape)[2];

  const Tensor* w = float_constant(graph, node, 1);
  const Tensor* r = float_constant(graph, node, 2);
  if (!w || !r) return "W or R is not a float32 constant";
  if (w->rank() != 3 || w->dim(0) != 1 || r->rank() != 3 || r->dim(0) != 1) return "W or R is not [1, G*H, *]";
  plan.hidden = r->dim(2);
  if (node.attr_int("hidden_size", plan.hidden) != plan.hidden) return "hidden_size disagrees with R";
  const int64_t H = plan.hidden;
  const int64_t G = gates;
  if (H <= 0 || w->dim(1) != G * H || r->dim(1) != G * H) return "W or R is not [1, G*H, *]";
  if (input_size >= 0 && w->dim(2) != input_size) return "W's input size disagrees with X";
  if (has_input(node, 3)) {
    const Tensor* b = float_constant(graph, node, 3);
    if (!b) return "B is not a float32 constant";
    if (b->shape() != Shape{1, 2 * G * H}) return "B is not [1, 2*G*H]";
    Tensor wb(DType::Float32, {G * H}), rb(DType::Float32, {G * H}), sum(DType::Float32, {G * H});
    for (int64_t k = 0; k < G * H; ++k) {
      wb.data<float>()[k] = b->data<float>()[k];
      rb.data<float>()[k] = b->data<float>()[G * H + k];
      sum.data<float>()[k] = wb.data<float>()[k] + rb.data<float>()[k];
    }
    plan.bias = std::move(sum);
    plan.wb = std::move(wb);
    plan.rb = std::move(rb);
  }
  if (has_input(node, 4)) {
    const Value& lens = graph.values[node.inputs[4]];
    if (!lens.constant) return "sequence_lens is a runtime input (the unrolled form needs every sequence to have length T)";
    for (int64_t len : lens.constant->to_int64_vector())
      if (len != plan.steps) return "sequence_lens has an entry other than the sequence length";
  }
  if (lstm && has_input(node, 7)) {
    const Value& p = graph.values[node.inputs[7]];
    if (!p.constant) return "peepholes P are a runtime input";
    for (double v : p.constant->to_double_vector())
      if (v != 0.0) return "peepholes (P) are not unrolled";
  }
  for (size_t k = 0; k < node.outputs.size() && k < (lstm ? 3u : 2u); ++k)
    if (node.outputs[k] != kNoValue && graph.values[node.outputs[k]].dtype != DType::Float32 &&
        graph.values[node.outputs[k]].dtype != DType::Undefined)
      return "an output is not float32";
  plan.w_t = transpose_direction(*w);
  plan.r_t = transpose_direction(*r);
  return "";
}

// Emits the nodes of one unrolled LSTM, in order.
class Emitter {
 public:
  Emitter(Graph& graph, NameTable& names, const std::string& base)
      : graph_(graph), names_(names), base_(base), opset_(graph.opset()) {}

  std::vector<Node> nodes;

  ValueId constant(const std::string& what, Tensor t) { return add_constant(graph_, names_, base_ + "_" + what, std::move(t)); }

  // A scalar int64 index, one constant per value.
  ValueId index(int64_t i) {
    auto it = indices_.find(i);
    if (it == indices_.end()) it = indices_.emplace(i, constant("index" + std::to_string(i), Tensor::scalar<int64_t>(i))).first;
    return it->second;
  }

  // Node `op` with a fresh output (or `output` when given); returns the output.
  ValueId op(const std::string& op, const std::string& what, std::vector<ValueId> inputs, Shape shape,
             std::map<std::string, Attribute> attributes = {}, ValueId output = kNoValue) {
    Node n = make_node(names_, op, base_ + "_" + what, std::move(inputs), {});
    if (output == kNoValue) output = add_activation(graph_, names_, n.name + "_out", DType::Float32, shape);
    n.outputs = {output};
    n.attributes = std::move(attributes);
    nodes.push_back(std::move(n));
    return output;
  }

  // Unsqueeze: axes an attribute before opset 13, an input from 13.
  ValueId unsqueeze(const std::string& what, ValueId x, std::vector<int64_t> axes, Shape shape,
                    ValueId output = kNoValue) {
    if (opset_ >= 13) {
      const int64_t count = static_cast<int64_t>(axes.size());
      const ValueId a = constant(what + "_axes", Tensor::from_vector<int64_t>({count}, axes));
      return op("Unsqueeze", what, {x, a}, std::move(shape), {}, output);
    }
    return op("Unsqueeze", what, {x}, std::move(shape), {{"axes", ints_attribute(std::move(axes))}}, output);
  }

  // Split into equal parts along axis 1, one per name (equal parts are the default from opset 2
  // to 17; 18 asks for num_outputs).
  std::vector<ValueId> split(const std::string& what, ValueId x, Shape part, const std::vector<std::string>& parts) {
    Node n = make_node(names_, "Split", base_ + "_" + what, {x}, {});
    for (const std::string& gate : parts)
      n.outputs.push_back(add_activation(graph_, names_, n.name + "_" + gate, DType::Float32, part));
    const std::vector<ValueId> outs = n.outputs;
    n.attributes["axis"] = int_attribute(1);
    if (opset_ >= 18) n.attributes["num_outputs"] = int_attribute(static_cast<int64_t>(parts.size()));
    nodes.push_back(std::move(n));
    return outs;
  }

 private:
  Graph& graph_;
  NameTable& names_;
  std::string base_;
  int64_t opset_;
  std::map<int64_t, ValueId> indices_;
};

bool is_used(const Graph& graph, ValueId v) {
  return v != kNoValue && (graph.is_graph_output(v) || !graph.consumers(v).empty());
}

// Y = the hidden states stacked along the sequence axis, Y_h = the last one.
void emit_outputs(Emitter& e, const Graph& graph, const RecurrentPlan& plan, const std::vector<ValueId>& hidden,
                  ValueId last, ValueId y, ValueId y_h) {
  const int64_t T = plan.steps, N = plan.batch, H = plan.hidden;
  const bool batch_major = plan.layout == 1;
  if (is_used(graph, y)) {
    // [N, H] -> [1, 1, N, H] (layout 1: [N, 1, 1, H]), stacked along the sequence axis.
    const std::vector<int64_t> axes = batch_major ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{0, 1};
    const Shape one = batch_major ? Shape{N, 1, 1, H} : Shape{1, 1, N, H};
    std::vector<ValueId> parts;
    for (int64_t t = 0; t < T; ++t)
      parts.push_back(e.unsqueeze("t" + std::to_string(t) + "_y", hidden[static_cast<size_t>(t)], axes, one));
    const Shape y_shape = batch_major ? Shape{N, T, 1, H} : Shape{T, 1, N, H};
    e.op("Concat", "Y", parts, y_shape, {{"axis", int_attribute(batch_major ? 1 : 0)}}, y);
  }
  const Shape state_out = batch_major ? Shape{N, 1, H} : Shape{1, N, H};
  if (is_used(graph, y_h)) e.unsqueeze("Y_h", last, {batch_major ? 1 : 0}, state_out, y_h);
}

// GRU steps (ONNX gate order z, r, h), after the input projection `xw`:
//   z = Sigmoid(xz + h Rz^T + Rbz), r = Sigmoid(xr + h Rr^T + Rbr)      (Rbz, Rbr are in xw)
//   n = Tanh(xh + (r * h) Rh^T + Rbh)          linear_before_reset 0    (Rbh is in xw)
//   n = Tanh(xh + r * (h Rh^T + Rbh))          linear_before_reset 1
//   h' = (1 - z) * n + z * h = n + z * (h - n)
// linear_before_reset 1 reads one R^T [H, 3H]; 0 reads R_zr^T [H, 2H] and R_h^T [H, H] (the
// second MatMul's input is r * h). Each is one constant shared by every step.
void gru_steps(Emitter& e, const RecurrentPlan& plan, ValueId xw, ValueId& h, std::vector<ValueId>& hidden) {
  const int64_t T = plan.steps, N = plan.batch, H = plan.hidden;
  const Shape state{N, H};
  const int64_t seq_axis = plan.layout == 1 ? 1 : 0;
  auto columns = [&](int64_t from, int64_t to) {  // R^T[:, from:to]
    Tensor part(DType::Float32, {H, to - from});
    for (int64_t row = 0; row < H; ++row)
      for (int64_t col = from; col < to; ++col)
        part.data<float>()[row * (to - from) + col - from] = plan.r_t.data<float>()[row * 3 * H + col];
    return part;
  };
  ValueId r_all = kNoValue, r_zr = kNoValue, r_h = kNoValue, rb_h = kNoValue;
  if (plan.linear_before_reset) r_all = e.constant("R_T", plan.r_t);
  else {
    r_zr = e.constant("R_zr_T", columns(0, 2 * H));
    r_h = e.constant("R_h_T", columns(2 * H, 3 * H));
  }
  if (plan.linear_before_reset && plan.rb) {
    Tensor rbh(DType::Float32, {H});
    for (int64_t k = 0; k < H; ++k) rbh.data<float>()[k] = plan.rb->data<float>()[2 * H + k];
    rb_h = e.constant("Rb_h", rbh);
  }
  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = plan.reverse ? T - 1 - step : step;
    const std::string s = "t" + std::to_string(t);
    const ValueId x_gates = e.op("Gather", s + "_input", {xw, e.index(t)}, {N, 3 * H}, {{"axis", int_attribute(seq_axis)}});
    const std::vector<ValueId> x = e.split(s + "_input_split", x_gates, state, {"z", "r", "h"});
    ValueId z_in = x[0], r_in = x[1], h_in = x[2];
    ValueId hh = kNoValue;  // the recurrent part of the h gate, before r (linear_before_reset)
    if (h != kNoValue) {
      std::vector<ValueId> rec;
      if (plan.linear_before_reset) {
        const ValueId all = e.op("MatMul", s + "_MatMul", {h, r_all}, {N, 3 * H});
        rec = e.split(s + "_recurrent_split", all, state, {"z", "r", "h"});
        hh = rec[2];
      } else {
        const ValueId zr = e.op("MatMul", s + "_MatMul", {h, r_zr}, {N, 2 * H});
        rec = e.split(s + "_recurrent_split", zr, state, {"z", "r"});
      }
      z_in = e.op("Add", s + "_z_in", {z_in, rec[0]}, state);
      r_in = e.op("Add", s + "_r_in", {r_in, rec[1]}, state);
    }
    const ValueId z = e.op("Sigmoid", s + "_z", {z_in}, state);
    if (plan.linear_before_reset) {
      if (rb_h != kNoValue) hh = hh == kNoValue ? rb_h : e.op("Add", s + "_hh_bias", {hh, rb_h}, state);
      if (hh != kNoValue) {
        const ValueId r = e.op("Sigmoid", s + "_r", {r_in}, state);
        h_in = e.op("Add", s + "_h_in", {h_in, e.op("Mul", s + "_r_hh", {r, hh}, state)}, state);
      }
    } else if (h != kNoValue) {
      const ValueId r = e.op("Sigmoid", s + "_r", {r_in}, state);
      const ValueId rh = e.op("Mul", s + "_rh", {r, h}, state);
      h_in = e.op("Add", s + "_h_in", {h_in, e.op("MatMul", s + "_MatMul_h", {rh, r_h}, state)}, state);
    }
    const ValueId n = e.op("Tanh", s + "_n", {h_in}, state);
    // h' = n + z * (h - n); with a zero state h' = n - z * n.
    h = h == kNoValue ? e.op("Sub", s + "_h", {n, e.op("Mul", s + "_zn", {z, n}, state)}, state)
                      : e.op("Add", s + "_h", {n, e.op("Mul", s + "_zd", {z, e.op("Sub", s + "_d", {h, n}, state)}, state)}, state);
    hidden[static_cast<size_t>(t)] = h;
  }
}

std::vector<Node> unrolled_nodes(Graph& graph, NameTable& names, const RecurrentPlan& plan) {
  const Node node = graph.nodes[plan.node];  // copy: values may grow below
  const std::string base = node.name.empty() ? node.op_type : node.name;
  Emitter e(graph, names, base);
  const int64_t T = plan.steps, N = plan.batch, H = plan.hidden, G = plan.gates;
  const bool lstm = G == 4;
  const bool batch_major = plan.layout == 1;
  const int64_t seq_axis = batch_major ? 1 : 0;   // of X and XW
  const int64_t dir_axis = batch_major ? 1 : 0;   // of initial_h / initial_c
  const Shape state{N, H}, gates_shape{N, G * H};

  const ValueId w_t = e.constant("W_T", plan.w_t);
  const Shape xw_shape = batch_major ? Shape{N, T, G * H} : Shape{T, N, G * H};
  ValueId xw = e.op("MatMul", "input_MatMul", {node.inputs[0], w_t}, xw_shape);
  // The biases that add to the input projection: LSTM Wb + Rb; GRU Wb + Rb except Rbh when
  // linear_before_reset (it is multiplied by r there).
  std::optional<Tensor> x_bias = plan.bias;
  if (!lstm && plan.bias && plan.linear_before_reset) {
    x_bias = plan.bias->clone();
    for (int64_t k = 2 * H; k < 3 * H; ++k) x_bias->data<float>()[k] = plan.wb->data<float>()[k];
  }
  if (x_bias) xw = e.op("Add", "input_bias", {xw, e.constant("B", *x_bias)}, xw_shape);

  // An all-zero initial state is the same as an absent one: a constant of zeros, or
  // ConstantOfShape with value 0 (PyTorch exports that when no state is passed).
  auto all_zero = [](const Tensor& t) {
    const std::vector<double> values = t.to_double_vector();
    return std::all_of(values.begin(), values.end(), [](double v) { return v == 0.0; });
  };
  auto initial = [&](size_t index, const char* what) -> ValueId {
    if (!has_input(node, index)) return kNoValue;
    const ValueId state_value = node.inputs[index];
    if (graph.values[state_value].constant && all_zero(*graph.values[state_value].constant)) return kNoValue;
    if (auto producer = graph.producer(state_value)) {
      const Node& p = graph.nodes[*producer];
      if (p.op_type == "ConstantOfShape" && p.domain.empty() && (!p.has_attr("value") || all_zero(p.attr("value").t)))
        return kNoValue;
    }
    return e.op("Gather", what, {node.inputs[index], e.index(0)}, state, {{"axis", int_attribute(dir_axis)}});
  };
  ValueId h = initial(5, "initial_h0");
  ValueId c = initial(6, "initial_c0");

  const ValueId y = node.outputs.size() > 0 ? node.outputs[0] : kNoValue;
  const ValueId y_h = node.outputs.size() > 1 ? node.outputs[1] : kNoValue;
  const ValueId y_c = node.outputs.size() > 2 ? node.outputs[2] : kNoValue;
  std::vector<ValueId> hidden(static_cast<size_t>(T), kNoValue);

  if (!lstm) {
    gru_steps(e, plan, xw, h, hidden);
    emit_outputs(e, graph, plan, hidden, h, y, y_h);
    return std::move(e.nodes);
  }
  const ValueId r_t = e.constant("R_T", plan.r_t);
  for (int64_t step = 0; step < T; ++step) {
    const int64_t t = plan.reverse ? T - 1 - step : step;
    const std::string s = "t" + std::to_string(t);
    ValueId gates = e.op("Gather", s + "_input", {xw, e.index(t)}, gates_shape, {{"axis", int_attribute(seq_axis)}});
    if (h != kNoValue) {
      const ValueId recurrent = e.op("MatMul", s + "_MatMul", {h, r_t}, gates_shape);
      gates = e.op("Add", s + "_gates", {gates, recurrent}, gates_shape);
    }
    const std::vector<ValueId> parts = e.split(s + "_split", gates, state, {"i", "o", "f", "c"});
    const ValueId i_gate = e.op("Sigmoid", s + "_i", {parts[0]}, state);
    const ValueId o_gate = e.op("Sigmoid", s + "_o", {parts[1]}, state);
    const ValueId candidate = e.op("Tanh", s + "_g", {parts[3]}, state);
    ValueId c_next = e.op("Mul", s + "_ig", {i_gate, candidate}, state);
    if (c != kNoValue) {
      const ValueId f_gate = e.op("Sigmoid", s + "_f", {parts[2]}, state);
      const ValueId kept = e.op("Mul", s + "_fc", {f_gate, c}, state);
      c_next = e.op("Add", s + "_c", {kept, c_next}, state);
    }
    const ValueId c_tanh = e.op("Tanh", s + "_c_tanh", {c_next}, state);
    h = e.op("Mul", s + "_h", {o_gate, c_tanh}, state);
    c = c_next;
    hidden[static_cast<size_t>(t)] = h;
  }

  emit_outputs(e, graph, plan, hidden, h, y, y_h);
  const Shape state_out = batch_major ? Shape{N, 1, H} : Shape{1, N, H};
  if (is_used(graph, y_c)) e.unsqueeze("Y_c", c, {dir_axis}, state_out, y_c);
  return std::move(e.nodes);
}

// LSTM/GRU nodes inside If/Loop/Scan bodies, which this pass does not reach.
void note_nested(const Graph& graph, const std::string& where, std::vector<std::string>& skipped) {
  for (const Node& node : graph.nodes)
    for (const auto& [key, attr] : node.attributes) {
      if (!attr.g) continue;
      const std::string inside = where + node.describe() + " (" + key + ") > ";
      for (const Node& inner : attr.g->nodes)
        if (inner.op_type == "LSTM" || inner.op_type == "GRU")
          skipped.push_back(inner.describe() + ": inside the subgraph " + inside.substr(0, inside.size() - 3) +
                            "; only top-level LSTM/GRU nodes are unrolled");
      note_nested(*attr.g, inside, skipped);
    }
}

}  // namespace

int64_t unroll_recurrent(Graph& graph, std::vector<std::string>* skipped) {
  std::vector<RecurrentPlan> plans;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    const Node& node = graph.nodes[id];
    if ((node.op_type != "LSTM" && node.op_type != "GRU") || !(node.domain.empty() || node.domain == "ai.onnx")) continue;
    RecurrentPlan plan;
    const std::string reason = check_recurrent(graph, id, node.op_type == "LSTM" ? 4 : 3, plan);
    if (reason.empty()) plans.push_back(std::move(plan));
    else if (skipped) skipped->push_back(node.describe() + ": " + reason);
  }
  if (skipped) note_nested(graph, "", *skipped);
  if (plans.empty()) return 0;

  NameTable names(graph);
  std::map<NodeId, std::vector<Node>> replacement;
  std::set<ValueId> old_inputs;
  for (const RecurrentPlan& plan : plans) {
    for (ValueId in : graph.nodes[plan.node].inputs)
      if (in != kNoValue && graph.values[in].constant) old_inputs.insert(in);
    replacement[plan.node] = unrolled_nodes(graph, names, plan);
  }
  std::vector<Node> nodes;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    auto it = replacement.find(id);
    if (it == replacement.end()) nodes.push_back(std::move(graph.nodes[id]));
    else for (Node& n : it->second) nodes.push_back(std::move(n));
  }
  graph.nodes = std::move(nodes);
  drop_unused_constants(graph, old_inputs);
  graph.verify();
  return static_cast<int64_t>(plans.size());
}

}  // namespace ocs
