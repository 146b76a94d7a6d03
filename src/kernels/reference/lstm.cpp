// ONNX LSTM (opsets 7 and 14; 14 adds `layout`), reference kernel.
//
// Per direction, per batch entry, for t over the entry's valid steps (reversed for the reverse
// direction), with f, g, h the direction's activations (default Sigmoid, Tanh, Tanh):
//   it = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Pi (.) Ct-1 + Wbi + Rbi)
//   ft = f(Xt*(Wf^T) + Ht-1*(Rf^T) + Pf (.) Ct-1 + Wbf + Rbf)      ft = 1 - it with input_forget
//   ct = g(Xt*(Wc^T) + Ht-1*(Rc^T) + Wbc + Rbc)
//   Ct = ft (.) Ct-1 + it (.) ct
//   ot = f(Xt*(Wo^T) + Ht-1*(Ro^T) + Po (.) Ct + Wbo + Rbo)
//   Ht = ot (.) h(Ct)
// W, R and B hold the gates in the order i, o, f, c; P holds i, o, f.
// `clip` bounds every activation input to [-clip, clip], including the Ct fed to h (the state
// Ct itself is not clipped).
// Y[t] = Ht for valid steps and 0 past a batch entry's sequence length. Y_h, Y_c hold the state
// after the entry's last valid step, and zeros for an entry of length 0 (as ONNX Runtime does).
#include "kernels/reference/recurrent_common.h"

namespace ocs {

namespace {

// Gate rows in W, R, B.
constexpr int64_t kGateInput = 0;
constexpr int64_t kGateOutput = 1;
constexpr int64_t kGateForget = 2;
constexpr int64_t kGateCell = 3;
// Peephole vectors in P.
constexpr int64_t kPeepholeInput = 0;
constexpr int64_t kPeepholeOutput = 1;
constexpr int64_t kPeepholeForget = 2;

}  // namespace

void recurrent_lstm(KernelContext& ctx) {
  const RecurrentInputs in = recurrent_read_inputs(ctx, 4);
  const RecurrentShape& shape = in.shape;
  const int64_t H = shape.hidden_size;
  const int64_t D = shape.num_directions;
  const std::vector<double> initial_c = recurrent_read_state(ctx, 6, "initial_c", in);
  const bool input_forget = ctx.node.attr_int("input_forget", 0) != 0;
  const auto activations = recurrent_read_activations(ctx.node, {"Sigmoid", "Tanh", "Tanh"}, D);

  std::vector<double> P(static_cast<size_t>(D * 3 * H), 0.0);
  if (ctx.has_input(7)) {
    const Tensor& peepholes = ctx.input(7);
    if (peepholes.dtype() != in.dtype || peepholes.shape() != Shape{D, 3 * H})
      user_error("{}: input P is {} {}; expected {} {}", ctx.node.describe(),
                 dtype_name(peepholes.dtype()), shape_str(peepholes.shape()),
                 dtype_name(in.dtype), shape_str({D, 3 * H}));
    P = peepholes.to_double_vector();
  }

  std::vector<double> Y(static_cast<size_t>(shape_numel(shape.y_shape())), 0.0);
  std::vector<double> Y_h(static_cast<size_t>(shape_numel(shape.state_shape())), 0.0);
  std::vector<double> Y_c(Y_h.size(), 0.0);

  for (int64_t dir = 0; dir < D; ++dir) {
    const RecurrentWeights w = in.weights(dir);
    const RecurrentActivation& f = activations[dir][0];
    const RecurrentActivation& g = activations[dir][1];
    const RecurrentActivation& h = activations[dir][2];
    const double* Pi = P.data() + (dir * 3 + kPeepholeInput) * H;
    const double* Po = P.data() + (dir * 3 + kPeepholeOutput) * H;
    const double* Pf = P.data() + (dir * 3 + kPeepholeForget) * H;

    for (int64_t b = 0; b < shape.batch_size; ++b) {
      const int64_t length = in.sequence_lens[b];
      const int64_t state = shape.state_offset(dir, b);
      std::vector<double> H_prev(in.initial_h.begin() + state, in.initial_h.begin() + state + H);
      std::vector<double> C_prev(initial_c.begin() + state, initial_c.begin() + state + H);
      std::vector<double> H_t(H), C_t(H);

      for (int64_t step = 0; step < length; ++step) {
        const int64_t t = recurrent_time_index(in.directions[dir], step, length);
        const double* x = in.x_at(t, b);
        for (int64_t j = 0; j < H; ++j) {
          auto gate_sum = [&](int64_t gate) {
            return w.input_term(gate, j, x) + w.recurrent_term(gate, j, H_prev.data());
          };
          const double i_gate = f(in.clipped(gate_sum(kGateInput) + Pi[j] * C_prev[j]));
          const double f_gate = input_forget
                                    ? 1.0 - i_gate
                                    : f(in.clipped(gate_sum(kGateForget) + Pf[j] * C_prev[j]));
          const double c_gate = g(in.clipped(gate_sum(kGateCell)));
          C_t[j] = f_gate * C_prev[j] + i_gate * c_gate;
          const double o_gate = f(in.clipped(gate_sum(kGateOutput) + Po[j] * C_t[j]));
          H_t[j] = o_gate * h(in.clipped(C_t[j]));
        }
        std::copy(H_t.begin(), H_t.end(), Y.begin() + shape.y_offset(t, dir, b));
        H_prev.swap(H_t);
        C_prev.swap(C_t);
      }

      if (length > 0) {
        std::copy(H_prev.begin(), H_prev.end(), Y_h.begin() + state);
        std::copy(C_prev.begin(), C_prev.end(), Y_c.begin() + state);
      }
    }
  }

  recurrent_write_output(ctx, 0, in.dtype, shape.y_shape(), Y);
  recurrent_write_output(ctx, 1, in.dtype, shape.state_shape(), Y_h);
  recurrent_write_output(ctx, 2, in.dtype, shape.state_shape(), Y_c);
}

}  // namespace ocs
