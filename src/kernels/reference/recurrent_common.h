// Pieces shared by the ONNX recurrent operators LSTM, GRU and RNN (private to
// kernels/reference): activation functions named by ONNX strings, direction handling, the two
// tensor layouts, and the validation of the inputs the three operators have in common.
//
// Shapes (H = hidden_size, G = gates: LSTM 4, GRU 3, RNN 1, D = num_directions):
//   X            layout 0: [seq_length, batch, input_size]   layout 1: [batch, seq_length, input_size]
//   W            [D, G*H, input_size]   R [D, G*H, H]   B [D, 2*G*H] (Wb then Rb)
//   sequence_lens [batch] (int32)
//   initial_h, initial_c, Y_h, Y_c   layout 0: [D, batch, H]   layout 1: [batch, D, H]
//   Y            layout 0: [seq_length, D, batch, H]   layout 1: [batch, seq_length, D, H]
// Direction slot 0 is forward (or reverse when direction = "reverse"); slot 1 is reverse.
//
// The kernels compute in double whatever the element type (float32 or float64) and round once
// when they write the outputs; recurrent nets are short enough that this costs nothing here.
#pragma once

#include "kernels/kernel.h"

#include <optional>
#include <string>
#include <vector>

namespace ocs {

// The reference kernels, one per file (lstm.cpp, gru.cpp, rnn.cpp).
void recurrent_lstm(KernelContext& ctx);
void recurrent_gru(KernelContext& ctx);
void recurrent_rnn(KernelContext& ctx);

// ---- Activation functions (the list in the ONNX RNN/GRU/LSTM specs) ----

enum class RecurrentActivationKind {
  Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu,
  Softsign, Softplus,
};

struct RecurrentActivation {
  RecurrentActivationKind kind = RecurrentActivationKind::Tanh;
  double alpha = 0.0;
  double beta = 0.0;
  double operator()(double x) const;
};

// Reads `activations`, `activation_alpha` and `activation_beta`. Returns one list of
// defaults.size() functions per direction slot. Names match case-insensitively. alpha and beta
// values are consumed in order by the functions that take them (Affine, LeakyRelu,
// ThresholdedRelu, ScaledTanh, HardSigmoid, Elu); a function with no value left gets the
// default of the ONNX operator of the same name. A bidirectional node may list the functions
// once for both directions.
std::vector<std::vector<RecurrentActivation>> recurrent_read_activations(
    const Node& node, const std::vector<std::string>& defaults, int64_t num_directions);

// ---- Problem size, layout and direction ----

enum class RecurrentDirection { Forward, Reverse };

struct RecurrentShape {
  int64_t seq_length = 0;
  int64_t batch_size = 0;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_directions = 1;
  int64_t layout = 0;

  // Flat offset of X[t, b, 0] (layout 0) or X[b, t, 0] (layout 1).
  int64_t x_offset(int64_t t, int64_t b) const;
  // Flat offset of the hidden vector Y[t, dir, b, :] (layout 0) or Y[b, t, dir, :] (layout 1).
  int64_t y_offset(int64_t t, int64_t dir, int64_t b) const;
  // Flat offset of the vector state[dir, b, :] (layout 0) or state[b, dir, :] (layout 1).
  int64_t state_offset(int64_t dir, int64_t b) const;
  Shape y_shape() const;
  Shape state_shape() const;
};

// The time index visited at `step` (0, 1, ...) of a sequence with `length` valid steps: forward
// goes 0 .. length-1, reverse goes length-1 .. 0 (padding past `length` is never visited).
inline int64_t recurrent_time_index(RecurrentDirection direction, int64_t step, int64_t length) {
  return direction == RecurrentDirection::Forward ? step : length - 1 - step;
}

// One direction's weights. Gate `gate` of hidden unit `unit` is row gate*H + unit of W and R.
struct RecurrentWeights {
  const double* W = nullptr;   // [G*H, input_size]
  const double* R = nullptr;   // [G*H, H]
  const double* Wb = nullptr;  // [G*H]
  const double* Rb = nullptr;  // [G*H]
  int64_t input_size = 0;
  int64_t hidden_size = 0;

  // Xt*(W_gate^T) + Wb_gate for one hidden unit.
  double input_term(int64_t gate, int64_t unit, const double* x) const;
  // Ht-1*(R_gate^T) + Rb_gate for one hidden unit (`h` is any H-vector).
  double recurrent_term(int64_t gate, int64_t unit, const double* h) const;
};

// Inputs 0..5 (X, W, R, B, sequence_lens, initial_h) and the attributes the three operators
// share (direction, hidden_size, layout, clip), validated and converted to double.
struct RecurrentInputs {
  RecurrentShape shape;
  std::vector<RecurrentDirection> directions;  // one per direction slot
  std::vector<int64_t> sequence_lens;          // [batch]; seq_length when the input is absent
  std::optional<double> clip;                  // bound for activation inputs, when set
  DType dtype = DType::Float32;                // of X, and of every output
  int64_t gate_count = 1;
  std::vector<double> X, W, R, B;              // B is zeros when absent
  std::vector<double> initial_h;               // zeros when absent

  RecurrentWeights weights(int64_t dir) const;
  const double* x_at(int64_t t, int64_t b) const { return X.data() + shape.x_offset(t, b); }
  // clip(x) = min(max(x, -clip), clip) when `clip` is set, else x.
  double clipped(double x) const;
};

RecurrentInputs recurrent_read_inputs(const KernelContext& ctx, int64_t gate_count);

// Reads an optional per-direction state input (initial_h, initial_c) of shape state_shape();
// zeros when absent.
std::vector<double> recurrent_read_state(const KernelContext& ctx, size_t index, const char* name,
                                         const RecurrentInputs& in);

// Writes `values` (computed in double) as output `index` in the input's element type, when the
// node has that output.
void recurrent_write_output(KernelContext& ctx, size_t index, DType dtype, Shape shape,
                            const std::vector<double>& values);

}  // namespace ocs
