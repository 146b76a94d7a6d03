// ONNX GRU (opsets 7 and 14; 14 adds `layout`), reference kernel.
//
// Per direction, per batch entry, for t over the entry's valid steps (reversed for the reverse
// direction), with f, g the direction's activations (default Sigmoid, Tanh):
//   zt = f(Xt*(Wz^T) + Ht-1*(Rz^T) + Wbz + Rbz)
//   rt = f(Xt*(Wr^T) + Ht-1*(Rr^T) + Wbr + Rbr)
//   ht = g(Xt*(Wh^T) + (rt (.) Ht-1)*(Rh^T) + Rbh + Wbh)      linear_before_reset = 0
//   ht = g(Xt*(Wh^T) + (rt (.) (Ht-1*(Rh^T) + Rbh)) + Wbh)    linear_before_reset != 0
//   Ht = (1 - zt) (.) ht + zt (.) Ht-1
// W, R and B hold the gates in the order z, r, h. `clip` bounds every activation input to
// [-clip, clip].
// Y[t] = Ht for valid steps and 0 past a batch entry's sequence length. Y_h holds the state
// after the entry's last valid step, and zeros for an entry of length 0 (as ONNX Runtime does).
#include "kernels/reference/recurrent_common.h"

namespace ocs {

namespace {

// Gate rows in W, R, B.
constexpr int64_t kGateUpdate = 0;  // z
constexpr int64_t kGateReset = 1;   // r
constexpr int64_t kGateHidden = 2;  // h

}  // namespace

void recurrent_gru(KernelContext& ctx) {
  const RecurrentInputs in = recurrent_read_inputs(ctx, 3);
  const RecurrentShape& shape = in.shape;
  const int64_t H = shape.hidden_size;
  const int64_t D = shape.num_directions;
  const bool linear_before_reset = ctx.node.attr_int("linear_before_reset", 0) != 0;
  const auto activations = recurrent_read_activations(ctx.node, {"Sigmoid", "Tanh"}, D);

  std::vector<double> Y(static_cast<size_t>(shape_numel(shape.y_shape())), 0.0);
  std::vector<double> Y_h(static_cast<size_t>(shape_numel(shape.state_shape())), 0.0);

  for (int64_t dir = 0; dir < D; ++dir) {
    const RecurrentWeights w = in.weights(dir);
    const RecurrentActivation& f = activations[dir][0];
    const RecurrentActivation& g = activations[dir][1];

    for (int64_t b = 0; b < shape.batch_size; ++b) {
      const int64_t length = in.sequence_lens[b];
      const int64_t state = shape.state_offset(dir, b);
      std::vector<double> H_prev(in.initial_h.begin() + state, in.initial_h.begin() + state + H);
      std::vector<double> z(H), r(H), reset_H_prev(H), H_t(H);

      for (int64_t step = 0; step < length; ++step) {
        const int64_t t = recurrent_time_index(in.directions[dir], step, length);
        const double* x = in.x_at(t, b);
        // Both gates for every unit first: the default candidate needs all of rt (.) Ht-1.
        for (int64_t j = 0; j < H; ++j) {
          z[j] = f(in.clipped(w.input_term(kGateUpdate, j, x) +
                              w.recurrent_term(kGateUpdate, j, H_prev.data())));
          r[j] = f(in.clipped(w.input_term(kGateReset, j, x) +
                              w.recurrent_term(kGateReset, j, H_prev.data())));
          reset_H_prev[j] = r[j] * H_prev[j];
        }
        for (int64_t j = 0; j < H; ++j) {
          const double candidate_input =
              linear_before_reset
                  ? w.input_term(kGateHidden, j, x) +
                        r[j] * w.recurrent_term(kGateHidden, j, H_prev.data())
                  : w.input_term(kGateHidden, j, x) +
                        w.recurrent_term(kGateHidden, j, reset_H_prev.data());
          const double candidate = g(in.clipped(candidate_input));
          H_t[j] = (1.0 - z[j]) * candidate + z[j] * H_prev[j];
        }
        std::copy(H_t.begin(), H_t.end(), Y.begin() + shape.y_offset(t, dir, b));
        H_prev.swap(H_t);
      }

      if (length > 0) std::copy(H_prev.begin(), H_prev.end(), Y_h.begin() + state);
    }
  }

  recurrent_write_output(ctx, 0, in.dtype, shape.y_shape(), Y);
  recurrent_write_output(ctx, 1, in.dtype, shape.state_shape(), Y_h);
}

}  // namespace ocs
