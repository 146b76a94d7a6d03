// The quantizer of docs/METHOD.md: symmetric, signed, linear, b bits, round half to even.
//
//   s     = (2^(b-1) - 1) / t          grid units per unit of x, t the clip threshold
//   step  = 1 / s                      the ONNX QuantizeLinear scale (as float32)
//   q     = clamp(round(x / step), -2^(b-1), 2^(b-1) - 1)
//   x_hat = q * step
//
// The arithmetic is the one ONNX QuantizeLinear/DequantizeLinear do (core/round.h): x divided
// by the float32 step, rounded half to even, then q times the step in float32. So a value
// fake-quantized here equals the value an exported Q/DQ pair produces, bit for bit.
//
// Granularity: one threshold for the whole tensor (axis = -1, the paper's setting) or one per
// slice along `axis` (per output channel, our extension).
//
// A threshold t <= 0 (an all-zero tensor or channel) maps everything to q = 0 with step 1, a
// valid ONNX scale; such a slice has nothing to represent.
#pragma once

#include "core/tensor.h"

#include <vector>

namespace ocs {

// Bit widths the quantizer supports (the range QuantizeOptions accepts). Codes are int8 up to 8
// bits (what ONNX QuantizeLinear stores before opset 21), int16 above.
inline constexpr int kQuantMinBits = 2;
inline constexpr int kQuantMaxBits = 16;

// s = (2^(b-1) - 1) / t. Infinite for t = 0 (use quant_step, which handles it).
double quant_scale(double threshold, int bits);
// The float32 step 1 / s the quantizer divides by (1 for t <= 0).
float quant_step(double threshold, int bits);
// Largest and smallest code: 2^(b-1) - 1 and -2^(b-1).
int32_t quant_max_code(int bits);
int32_t quant_min_code(int bits);

// The grid of b bits: signed, q in [-2^(b-1), 2^(b-1) - 1]; unsigned (non-negative data, e.g.
// after ReLU), q in [0, 2^b - 1]. Largest code: 2^(b-1) - 1, or 2^b - 1 unsigned.
int64_t grid_max_code(int bits, bool is_unsigned);
// The float32 step of a grid with `max_code` steps over [0, t]: fl(t / max_code), computed in
// double and rounded once (1 for t <= 0). quant_step(t, b) = grid_step(t, quant_max_code(b)).
float grid_step(double threshold, int64_t max_code);
// The unsigned-grid rule: an unsigned b-bit grid on [0, t] has 2^b - 1 steps, exactly the
// non-negative half of the signed (b+1)-bit grid on [-t, t]; so a clip method made for signed
// grids chooses its threshold at b + 1 bits (capped at kQuantMaxBits). Signed: b itself.
int threshold_bits(int bits, bool is_unsigned);

// max |x| over the whole tensor, and per slice along `axis`.
double max_abs(const Tensor& x);
std::vector<double> max_abs_per_channel(const Tensor& x, int64_t axis);

// Codes (int8 tensor for bits <= 8, else int16; same shape) for float32 `x`. `thresholds` has one entry (axis = -1) or
// x.dim(axis) entries.
Tensor quantize_symmetric(const Tensor& x, const std::vector<double>& thresholds, int64_t axis,
                          int bits);
// Float32 values q * step for int8/int16 codes `q`, same granularity rules.
Tensor dequantize_symmetric(const Tensor& q, const std::vector<double>& thresholds, int64_t axis,
                            int bits);
// dequantize(quantize(x)).
Tensor fake_quantize(const Tensor& x, const std::vector<double>& thresholds, int64_t axis,
                     int bits);
// Per-tensor shorthand with t = max|x| (no clipping).
Tensor fake_quantize_max(const Tensor& x, int bits);

// Signal-to-quantization-noise ratio in dB: 10 log10(sum x^2 / sum (x - x_hat)^2), summed in
// double. +inf when x_hat == x exactly; -inf when x is all zero but x_hat is not.
double sqnr_db(const Tensor& x, const Tensor& x_hat);

}  // namespace ocs
