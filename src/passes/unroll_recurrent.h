// unroll_recurrent: replaces ONNX LSTM (and GRU) nodes by the same computation in ordinary ops, one group of
// nodes per time step, so that the quantizer's machinery (weight OCS, QDQ on weights and on the
// layer inputs) reaches the recurrent weights and the hidden state (docs/RECURRENT.md).
//
// For an LSTM with W [1, 4H, I], R [1, 4H, H], B [1, 8H] (gate order i, o, f, c), X of static
// sequence length T (layout 0: [T, N, I]; layout 1: [N, T, I]):
//
//   XW   = MatMul(X, W^T) + (Wb + Rb)             all steps at once: [T, N, 4H] (layout 1 [N, T, 4H])
//   per step t (0 .. T-1; T-1 .. 0 for direction "reverse"):
//     gates = Gather(XW, t, seq axis) + MatMul(h_prev, R^T)          [N, 4H]
//     i, o, f, c = Split(gates, 4, axis 1)
//     c_t = Sigmoid(f) * c_prev + Sigmoid(i) * Tanh(c)
//     h_t = Sigmoid(o) * Tanh(c_t)
//   Y   = Concat_t Unsqueeze(h_t)       [T, 1, N, H] (layout 1: [N, T, 1, H])
//   Y_h = Unsqueeze(h_last), Y_c = Unsqueeze(c_last)   [1, N, H] (layout 1: [N, 1, H])
//
// h_prev, c_prev of the first step are Gather(initial_h / initial_c, 0, direction axis), or
// absent when the input is absent or all zeros (a constant, or ConstantOfShape of 0 as PyTorch
// exports it): the first step then has no R MatMul and no f * c term,
// which is exact (0 * anything = 0 before and after quantization).
// W^T [I, 4H] and R^T [H, 4H] are one constant each, read by every step's MatMul: weight OCS
// splits each once and insert_qdq quantizes each once (both handle shared weights).
// The input projection runs once over the whole sequence rather than once per step: the same
// numbers (MatMul is row-wise), one MatMul instead of T, and its input X is quantized by one
// Quantize/Dequantize pair (a per-tensor grid is element-wise, so this equals quantizing each X_t
// with that grid).
//
// GRU (gate order z, r, h) follows the same pattern (unroll_recurrent.cpp, gru_steps): the input
// projection once, per step one MatMul with R^T [H, 3H] (linear_before_reset 1) or two, with
// R_zr^T [H, 2H] on h and R_h^T [H, H] on r * h (linear_before_reset 0), each a shared constant.
//
// Supported: direction forward or reverse, default activations (Sigmoid, Tanh, Tanh, given or
// not), no clip, input_forget 0, W/R/B constant float32, P absent or all zero, sequence_lens
// absent or a constant with every entry equal to T, T known from X's shape. Any other LSTM is
// left in place and the reason is returned. Only the top-level graph is rewritten (an LSTM inside
// an If/Loop body stays).
#pragma once

#include "ir/graph.h"

#include <string>
#include <vector>

namespace ocs {

// Returns the number of LSTM and GRU nodes unrolled. Each LSTM left alone adds "LSTM 'name': reason" to
// `skipped` when given (LSTMs inside subgraphs too, which are never unrolled). graph.verify() holds afterwards.
int64_t unroll_recurrent(Graph& graph, std::vector<std::string>* skipped = nullptr);

}  // namespace ocs
