// ONNX RNN (opsets 7 and 14; 14 adds `layout`), reference kernel.
//
// Per direction, per batch entry, for t over the entry's valid steps (reversed for the reverse
// direction), with f the direction's activation (default Tanh):
//   Ht = f(Xt*(Wi^T) + Ht-1*(Ri^T) + Wbi + Rbi)
// `clip` bounds the activation input to [-clip, clip].
// Y[t] = Ht for valid steps and 0 past a batch entry's sequence length. Y_h holds the state
// after the entry's last valid step, and zeros for an entry of length 0 (as ONNX Runtime does).
#include "kernels/reference/recurrent_common.h"

namespace ocs {

void recurrent_rnn(KernelContext& ctx) {
  const RecurrentInputs in = recurrent_read_inputs(ctx, 1);
  const RecurrentShape& shape = in.shape;
  const int64_t H = shape.hidden_size;
  const int64_t D = shape.num_directions;
  const auto activations = recurrent_read_activations(ctx.node, {"Tanh"}, D);
  constexpr int64_t kGate = 0;  // the only gate

  std::vector<double> Y(static_cast<size_t>(shape_numel(shape.y_shape())), 0.0);
  std::vector<double> Y_h(static_cast<size_t>(shape_numel(shape.state_shape())), 0.0);

  for (int64_t dir = 0; dir < D; ++dir) {
    const RecurrentWeights w = in.weights(dir);
    const RecurrentActivation& f = activations[dir][0];

    for (int64_t b = 0; b < shape.batch_size; ++b) {
      const int64_t length = in.sequence_lens[b];
      const int64_t state = shape.state_offset(dir, b);
      std::vector<double> H_prev(in.initial_h.begin() + state, in.initial_h.begin() + state + H);
      std::vector<double> H_t(H);

      for (int64_t step = 0; step < length; ++step) {
        const int64_t t = recurrent_time_index(in.directions[dir], step, length);
        const double* x = in.x_at(t, b);
        for (int64_t j = 0; j < H; ++j)
          H_t[j] = f(in.clipped(w.input_term(kGate, j, x) + w.recurrent_term(kGate, j, H_prev.data())));
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
