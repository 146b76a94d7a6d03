// Vectorised, multi-threaded loops of QuantizeLinear and DequantizeLinear on contiguous runs of
// elements with one scale and zero point, bit for bit what core/round.h computes element by
// element (quantize_value / dequantize_value):
//   q = clamp(round_half_to_even(x / scale) + zero_point, Q's range)   (NaN -> Q's minimum)
//   y = float(q - zero_point) * scale
// Shared by the fast QuantizeLinear/DequantizeLinear kernels (quant_fast.cpp) and the int8 layers
// (dnnl_int8_conv.cpp). Runs of at least kQuantParallelMin elements are split over the OpenMP
// threads (the engine's thread count).
#pragma once

#include <cstdint>

namespace ocs {

constexpr int64_t kQuantParallelMin = 1 << 16;

void fast_quantize(const float* x, int64_t n, float scale, int32_t zero_point, int8_t* y);
void fast_quantize(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* y);
// QuantizeLinear(Clip(x, clip_low, clip_high)) on one thread (the caller parallelises): Clip as
// the reference kernel computes it (min(max(x, low), high), NaN passes through).
void fast_clip_quantize_serial(const float* x, int64_t n, float clip_low, float clip_high, float scale,
                               int32_t zero_point, int8_t* y);
void fast_clip_quantize_serial(const float* x, int64_t n, float clip_low, float clip_high, float scale,
                               int32_t zero_point, uint8_t* y);
// DequantizeLinear(QuantizeLinear(x)) without the codes in between, for a Q -> DQ pair that
// only round-trips a float tensor (engine/quant_pairs.h): y = float(q - zero_point) * scale,
// bit for bit the two kernels one after the other; q's range is [q_min, q_max] (0..255 for
// uint8, -128..127 for int8). On one thread (the caller parallelises).
void fast_fake_quantize_serial(const float* x, int64_t n, float scale, int32_t zero_point, int32_t q_min,
                               int32_t q_max, float* y);
void fast_dequantize(const int8_t* q, int64_t n, float scale, int32_t zero_point, float* y);
void fast_dequantize(const uint8_t* q, int64_t n, float scale, int32_t zero_point, float* y);
void fast_dequantize(const int32_t* q, int64_t n, float scale, int32_t zero_point, float* y);

}  // namespace ocs
