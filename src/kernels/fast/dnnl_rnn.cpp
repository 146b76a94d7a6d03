// LSTM and GRU on oneDNN's RNN primitives (float32, inference).
//
// The ONNX and oneDNN formulations are the same cell; what differs is the storage:
//  - gate order: ONNX LSTM stores i, o, f, c and oneDNN wants i, f, c, o; ONNX GRU z, r, h is
//    oneDNN's u, r, o. Peepholes: ONNX i, o, f; oneDNN i, f, o.
//  - ONNX keeps separate input and recurrent biases (Wb, Rb). oneDNN takes their sum per gate,
//    except the linear-before-reset GRU, whose fourth bias gate is Rb of the candidate (it is
//    multiplied by r_t together with R_h h_{t-1}).
//  - weights are [D, G*H, C] (a row per gate unit); oneDNN's ldigo is [1, D, C, G, H].
// X, the states and Y are copied between the ONNX layouts (0 and 1) and oneDNN's tnc / ldnc with
// plain loops: O(T*N*C) next to the O(T*N*G*H*(C+H)) cell.
//
// Outside the fast path (the reference kernel runs): element types other than float32,
// activations other than the defaults, `clip`, `input_forget`, a sequence_lens entry other
// than seq_length, and any shape the reference would reject (it then reports the error).
#include "kernels/fast/dnnl_common.h"
#include "kernels/fast/plan_cache.h"
#include "kernels/reference/recurrent_common.h"

#include <optional>
#include <tuple>

namespace ocs {

namespace {

enum class Cell { Lstm, Gru, LbrGru };

int64_t cell_gates(Cell cell) { return cell == Cell::Lstm ? 4 : 3; }
int64_t cell_bias_gates(Cell cell) { return cell == Cell::Lstm ? 4 : cell == Cell::Gru ? 3 : 4; }

// oneDNN gate g is ONNX gate kGateOrder[g] (rows g*H .. g*H+H-1 of W, R, Wb, Rb).
int64_t onnx_gate(Cell cell, int64_t dnnl_gate) {
  static constexpr int64_t kLstm[] = {0, 2, 3, 1};  // i f c o  <-  i o f c
  return cell == Cell::Lstm ? kLstm[dnnl_gate] : dnnl_gate;
}
constexpr int64_t kPeepholeOrder[] = {0, 2, 1};  // i f o  <-  i o f

using dims = dnnl::memory::dims;
using tag = dnnl::memory::format_tag;

dnnl::memory::desc plain(const dims& d, tag t) { return dnnl::memory::desc(d, dnnl::memory::data_type::f32, t); }
dnnl::memory::desc any(const dims& d) { return plain(d, tag::any); }

struct RnnProblem {
  int64_t T = 0, N = 0, C = 0, H = 0, D = 1;
  bool operator<(const RnnProblem& o) const {
    return std::tie(T, N, C, H, D) < std::tie(o.T, o.N, o.C, o.H, o.D);
  }
};

struct RnnPlan {
  dnnl::primitive primitive;
  dnnl::memory src_layer, src_iter, src_iter_c, dst_layer, dst_iter, dst_iter_c;
  dnnl::memory::desc weights_layer_desc, weights_iter_desc, weights_peephole_desc;
  dnnl::memory weights_layer, weights_iter, weights_peephole, bias;
  bool weights_ready = false;
};

class DnnlRecurrentKernel final : public FastKernel {
 public:
  DnnlRecurrentKernel(Cell cell, dnnl::rnn_direction direction, int64_t layout, bool constant_weights)
      : cell_(cell), direction_(direction), layout_(layout), constant_weights_(constant_weights) {}

  void run(KernelContext& ctx) override {
    const std::optional<RnnProblem> problem = read_problem(ctx);
    if (!problem) return fall_back(ctx);
    const auto lock = plans_.lock();
    RnnPlan* found = plans_.get(*problem, [&] { return build_plan(*problem); });
    if (!found) return fall_back(ctx);
    RnnPlan& plan = *found;
    if (!plan.weights_ready || !constant_weights_) {
      prepare_weights(plan, *problem, ctx);
      plan.weights_ready = true;
    }
    execute(plan, *problem, ctx);
  }

 private:
  const Cell cell_;
  const dnnl::rnn_direction direction_;
  const int64_t layout_;
  const bool constant_weights_;
  PlanCache<RnnProblem, RnnPlan> plans_;

  bool is_lstm() const { return cell_ == Cell::Lstm; }
  bool has_peepholes(const KernelContext& ctx) const { return is_lstm() && ctx.has_input(7); }

  void fall_back(KernelContext& ctx) const {
    dnnl_note_fallback();
    is_lstm() ? recurrent_lstm(ctx) : recurrent_gru(ctx);
  }

  // The problem size when every input fits the fast path; nullopt sends the node to the
  // reference kernel (which also reports malformed inputs).
  std::optional<RnnProblem> read_problem(const KernelContext& ctx) const {
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      if (ctx.has_input(i) && i != 4 && ctx.input(i).dtype() != DType::Float32) return std::nullopt;
    const Tensor& X = ctx.input(0);
    const Tensor& W = ctx.input(1);
    const Tensor& R = ctx.input(2);
    if (X.rank() != 3 || W.rank() != 3 || R.rank() != 3) return std::nullopt;
    RnnProblem p;
    p.D = direction_ == dnnl::rnn_direction::bidirectional_concat ? 2 : 1;
    p.T = layout_ == 0 ? X.dim(0) : X.dim(1);
    p.N = layout_ == 0 ? X.dim(1) : X.dim(0);
    p.C = X.dim(2);
    p.H = ctx.node.attr_int("hidden_size", R.dim(2));
    const int64_t G = cell_gates(cell_);
    if (p.T == 0 || p.N == 0 || p.C == 0 || p.H == 0) return std::nullopt;
    if (W.shape() != Shape{p.D, G * p.H, p.C} || R.shape() != Shape{p.D, G * p.H, p.H}) return std::nullopt;
    if (ctx.has_input(3) && ctx.input(3).shape() != Shape{p.D, 2 * G * p.H}) return std::nullopt;
    if (ctx.has_input(4)) {
      const Tensor& lens = ctx.input(4);
      if (lens.dtype() != DType::Int32 || lens.shape() != Shape{p.N}) return std::nullopt;
      for (int32_t length : lens.span<int32_t>())
        if (length != p.T) return std::nullopt;
    }
    const Shape state = layout_ == 0 ? Shape{p.D, p.N, p.H} : Shape{p.N, p.D, p.H};
    if (ctx.has_input(5) && ctx.input(5).shape() != state) return std::nullopt;
    if (is_lstm() && ctx.has_input(6) && ctx.input(6).shape() != state) return std::nullopt;
    if (has_peepholes(ctx) && ctx.input(7).shape() != Shape{p.D, 3 * p.H}) return std::nullopt;
    return p;
  }

  std::optional<RnnPlan> build_plan(const RnnProblem& p) const {
    const int64_t G = cell_gates(cell_);
    const dims layer_src{p.T, p.N, p.C}, layer_dst{p.T, p.N, p.D * p.H};
    const dims iter{1, p.D, p.N, p.H};
    const dims w_layer{1, p.D, p.C, G, p.H}, w_iter{1, p.D, p.H, G, p.H};
    const dims bias{1, p.D, cell_bias_gates(cell_), p.H}, peephole{1, p.D, 3, p.H};
    const auto fwd = dnnl::prop_kind::forward_inference;
    try {
      RnnPlan plan;
      const auto src_layer = plain(layer_src, tag::tnc), dst_layer = plain(layer_dst, tag::tnc);
      const auto state = plain(iter, tag::ldnc), bias_desc = plain(bias, tag::ldgo);
      dnnl::memory::desc w_layer_md, w_iter_md;
      if (is_lstm()) {
        // Peepholes are always given (zeros when absent): one primitive serves both cases.
        dnnl::lstm_forward::desc desc(fwd, direction_, src_layer, state, state, any(w_layer), any(w_iter),
                                      plain(peephole, tag::ldgo), bias_desc, dst_layer, state, state);
        dnnl::lstm_forward::primitive_desc pd(desc, dnnl_cpu_engine());
        plan.primitive = dnnl::lstm_forward(pd);
        w_layer_md = pd.weights_layer_desc();
        w_iter_md = pd.weights_iter_desc();
        plan.weights_peephole_desc = pd.weights_peephole_desc();
      } else if (cell_ == Cell::Gru) {
        dnnl::gru_forward::desc desc(fwd, direction_, src_layer, state, any(w_layer), any(w_iter), bias_desc,
                                     dst_layer, state);
        dnnl::gru_forward::primitive_desc pd(desc, dnnl_cpu_engine());
        plan.primitive = dnnl::gru_forward(pd);
        w_layer_md = pd.weights_layer_desc();
        w_iter_md = pd.weights_iter_desc();
      } else {
        dnnl::lbr_gru_forward::desc desc(fwd, direction_, src_layer, state, any(w_layer), any(w_iter), bias_desc,
                                         dst_layer, state);
        dnnl::lbr_gru_forward::primitive_desc pd(desc, dnnl_cpu_engine());
        plan.primitive = dnnl::lbr_gru_forward(pd);
        w_layer_md = pd.weights_layer_desc();
        w_iter_md = pd.weights_iter_desc();
      }
      auto& engine = dnnl_cpu_engine();
      plan.src_layer = dnnl::memory(src_layer, engine);
      plan.dst_layer = dnnl::memory(dst_layer, engine);
      plan.src_iter = dnnl::memory(state, engine);
      plan.dst_iter = dnnl::memory(state, engine);
      if (is_lstm()) {
        plan.src_iter_c = dnnl::memory(state, engine);
        plan.dst_iter_c = dnnl::memory(state, engine);
        plan.weights_peephole = dnnl::memory(plan.weights_peephole_desc, engine);
      }
      plan.bias = dnnl::memory(bias_desc, engine);
      plan.weights_layer_desc = w_layer_md;
      plan.weights_iter_desc = w_iter_md;
      return plan;
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
  }

  // W or R [D, G*H, K] -> ldigo [1, D, K, G, H] in oneDNN's gate order, then the primitive's layout.
  dnnl::memory gate_weights(const Tensor& onnx, const RnnProblem& p, int64_t K, const dnnl::memory::desc& target) const {
    const int64_t G = cell_gates(cell_);
    const dims shape{1, p.D, K, G, p.H};
    dnnl::memory ldigo(plain(shape, tag::ldigo), dnnl_cpu_engine());
    float* out = static_cast<float*>(ldigo.get_data_handle());
    const float* in = onnx.data<float>();
    for (int64_t d = 0; d < p.D; ++d)
      for (int64_t g = 0; g < G; ++g)
        for (int64_t h = 0; h < p.H; ++h) {
          const float* row = in + (d * G * p.H + onnx_gate(cell_, g) * p.H + h) * K;
          for (int64_t k = 0; k < K; ++k) out[(((d * K) + k) * G + g) * p.H + h] = row[k];
        }
    return dnnl_reorder_now(ldigo, target);
  }

  void prepare_weights(RnnPlan& plan, const RnnProblem& p, const KernelContext& ctx) const {
    plan.weights_layer = gate_weights(ctx.input(1), p, p.C, plan.weights_layer_desc);
    plan.weights_iter = gate_weights(ctx.input(2), p, p.H, plan.weights_iter_desc);

    const int64_t G = cell_gates(cell_);
    const int64_t bias_gates = cell_bias_gates(cell_);
    float* bias = static_cast<float*>(plan.bias.get_data_handle());
    const float* B = ctx.has_input(3) ? ctx.input(3).data<float>() : nullptr;
    for (int64_t d = 0; d < p.D; ++d)
      for (int64_t g = 0; g < bias_gates; ++g)
        for (int64_t h = 0; h < p.H; ++h) {
          float value = 0.0f;
          if (B) {
            const float* Wb = B + d * 2 * G * p.H;
            const float* Rb = Wb + G * p.H;
            if (cell_ == Cell::LbrGru && g == 2) value = Wb[2 * p.H + h];       // candidate: Wb_h only
            else if (cell_ == Cell::LbrGru && g == 3) value = Rb[2 * p.H + h];  // r_t * (R_h h + Rb_h)
            else value = Wb[onnx_gate(cell_, g) * p.H + h] + Rb[onnx_gate(cell_, g) * p.H + h];
          }
          bias[(d * bias_gates + g) * p.H + h] = value;
        }

    if (is_lstm()) {
      // ldgo [1, D, 3, H]; the primitive reported a plain layout for it.
      float* peep = static_cast<float*>(plan.weights_peephole.get_data_handle());
      const float* P = has_peepholes(ctx) ? ctx.input(7).data<float>() : nullptr;
      for (int64_t d = 0; d < p.D; ++d)
        for (int64_t g = 0; g < 3; ++g)
          for (int64_t h = 0; h < p.H; ++h)
            peep[(d * 3 + g) * p.H + h] = P ? P[(d * 3 + kPeepholeOrder[g]) * p.H + h] : 0.0f;
    }
  }

  // ONNX state [D, N, H] (layout 0) or [N, D, H] (layout 1) <-> oneDNN ldnc [1, D, N, H].
  void state_in(const KernelContext& ctx, size_t index, const RnnProblem& p, dnnl::memory& to) const {
    float* out = static_cast<float*>(to.get_data_handle());
    if (!ctx.has_input(index)) {
      std::fill(out, out + p.D * p.N * p.H, 0.0f);
      return;
    }
    const float* in = ctx.input(index).data<float>();
    for (int64_t d = 0; d < p.D; ++d)
      for (int64_t n = 0; n < p.N; ++n) {
        const int64_t from = layout_ == 0 ? (d * p.N + n) * p.H : (n * p.D + d) * p.H;
        std::copy(in + from, in + from + p.H, out + (d * p.N + n) * p.H);
      }
  }

  void state_out(KernelContext& ctx, size_t index, const RnnProblem& p, const dnnl::memory& from) const {
    if (index >= ctx.num_outputs() || ctx.node.outputs[index] == kNoValue) return;
    Tensor state(DType::Float32, layout_ == 0 ? Shape{p.D, p.N, p.H} : Shape{p.N, p.D, p.H});
    const float* in = static_cast<const float*>(from.get_data_handle());
    float* out = state.data<float>();
    for (int64_t d = 0; d < p.D; ++d)
      for (int64_t n = 0; n < p.N; ++n) {
        const int64_t to = layout_ == 0 ? (d * p.N + n) * p.H : (n * p.D + d) * p.H;
        std::copy(in + (d * p.N + n) * p.H, in + (d * p.N + n + 1) * p.H, out + to);
      }
    ctx.outputs[index] = std::move(state);
  }

  void execute(RnnPlan& plan, const RnnProblem& p, KernelContext& ctx) const {
    // X: layout 0 [T, N, C] is tnc already; layout 1 [N, T, C] is transposed.
    float* src = static_cast<float*>(plan.src_layer.get_data_handle());
    const float* x = ctx.input(0).data<float>();
    if (layout_ == 0) {
      std::copy(x, x + p.T * p.N * p.C, src);
    } else {
      for (int64_t t = 0; t < p.T; ++t)
        for (int64_t n = 0; n < p.N; ++n)
          std::copy(x + (n * p.T + t) * p.C, x + (n * p.T + t + 1) * p.C, src + (t * p.N + n) * p.C);
    }
    state_in(ctx, 5, p, plan.src_iter);
    if (is_lstm()) state_in(ctx, 6, p, plan.src_iter_c);

    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC_LAYER, plan.src_layer},         {DNNL_ARG_SRC_ITER, plan.src_iter},
        {DNNL_ARG_WEIGHTS_LAYER, plan.weights_layer}, {DNNL_ARG_WEIGHTS_ITER, plan.weights_iter},
        {DNNL_ARG_BIAS, plan.bias},                   {DNNL_ARG_DST_LAYER, plan.dst_layer},
        {DNNL_ARG_DST_ITER, plan.dst_iter}};
    if (is_lstm()) {
      args[DNNL_ARG_SRC_ITER_C] = plan.src_iter_c;
      args[DNNL_ARG_DST_ITER_C] = plan.dst_iter_c;
      args[DNNL_ARG_WEIGHTS_PEEPHOLE] = plan.weights_peephole;
    }
    plan.primitive.execute(dnnl_cpu_stream(), args);
    dnnl_cpu_stream().wait();

    // Y: layout 0 [T, D, N, H], layout 1 [N, T, D, H]; oneDNN wrote [T, N, D*H].
    if (ctx.num_outputs() > 0 && ctx.node.outputs[0] != kNoValue) {
      Tensor y(DType::Float32, layout_ == 0 ? Shape{p.T, p.D, p.N, p.H} : Shape{p.N, p.T, p.D, p.H});
      const float* dst = static_cast<const float*>(plan.dst_layer.get_data_handle());
      float* out = y.data<float>();
      for (int64_t t = 0; t < p.T; ++t)
        for (int64_t n = 0; n < p.N; ++n)
          for (int64_t d = 0; d < p.D; ++d) {
            const float* from = dst + ((t * p.N + n) * p.D + d) * p.H;
            const int64_t to = layout_ == 0 ? ((t * p.D + d) * p.N + n) * p.H : ((n * p.T + t) * p.D + d) * p.H;
            std::copy(from, from + p.H, out + to);
          }
      ctx.outputs[0] = std::move(y);
    }
    state_out(ctx, 1, p, plan.dst_iter);
    if (is_lstm()) state_out(ctx, 2, p, plan.dst_iter_c);
  }
};

// Node-level facts: default activations, no clip, no input_forget, a known direction and layout.
std::unique_ptr<FastKernel> make_recurrent(const Node& node, const Graph& graph, Cell cell) {
  for (size_t i = 0; i < node.inputs.size(); ++i)
    if (i != 4 && !dnnl_input_may_be_float(node, graph, i)) return nullptr;
  if (node.has_attr("clip") || node.attr_int("input_forget", 0) != 0) return nullptr;
  const std::string direction = node.attr_string("direction", "forward");
  dnnl::rnn_direction dnnl_direction;
  if (direction == "forward") dnnl_direction = dnnl::rnn_direction::unidirectional_left2right;
  else if (direction == "reverse") dnnl_direction = dnnl::rnn_direction::unidirectional_right2left;
  else if (direction == "bidirectional") dnnl_direction = dnnl::rnn_direction::bidirectional_concat;
  else return nullptr;
  const int64_t layout = node.attr_int("layout", 0);
  if (layout != 0 && layout != 1) return nullptr;
  const int64_t num_directions = direction == "bidirectional" ? 2 : 1;
  const bool lstm = cell == Cell::Lstm;
  const std::vector<RecurrentActivationKind> expected =
      lstm ? std::vector{RecurrentActivationKind::Sigmoid, RecurrentActivationKind::Tanh, RecurrentActivationKind::Tanh}
           : std::vector{RecurrentActivationKind::Sigmoid, RecurrentActivationKind::Tanh};
  try {
    const auto activations = recurrent_read_activations(
        node, lstm ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"} : std::vector<std::string>{"Sigmoid", "Tanh"},
        num_directions);
    for (const auto& per_direction : activations)
      for (size_t i = 0; i < expected.size(); ++i)
        if (per_direction[i].kind != expected[i]) return nullptr;
  } catch (const UserError&) {
    return nullptr;  // the reference kernel reports it
  }
  if (!lstm && node.attr_int("linear_before_reset", 0) != 0) cell = Cell::LbrGru;
  bool constant_weights = true;
  for (size_t i : {1, 2, 3, 7})
    if (i < node.inputs.size() && node.inputs[i] != kNoValue && !dnnl_input_is_constant(node, graph, i))
      constant_weights = false;
  return std::make_unique<DnnlRecurrentKernel>(cell, dnnl_direction, layout, constant_weights);
}

}  // namespace

std::unique_ptr<FastKernel> dnnl_make_lstm(const Node& node, const Graph& graph) {
  return make_recurrent(node, graph, Cell::Lstm);
}

std::unique_ptr<FastKernel> dnnl_make_gru(const Node& node, const Graph& graph) {
  return make_recurrent(node, graph, Cell::Gru);
}

}  // namespace ocs
