// Int8 layers on oneDNN: a Conv whose data input is quantized on the fly (the QDQ layouts of
// docs/INT8.md) runs as one oneDNN int8 convolution: u8 or s8 source, s8 weights, s32
// accumulation, float32 output scaled by s_x * s_w[m] plus the bias, followed by the fused
// chain's post-ops (engine/fusion.h).
//
// The step reads the float tensor x in front of the quantization and computes, per conv input
// channel c, q[n, c] = QuantizeLinear(Clip(x[n, gather[c]], lo, hi), s_x, zp) with the loops of
// quant_loops.h (bit for bit the reference QuantizeLinear), so the OCS Gather and the Clip of
// the export are done here, on the way into int8. The only difference from the reference
// (dequantize, float conv, float bias) is the order of the float rounding in the sum: the
// integer sum is exact, then one float scale and add.
#pragma once

#include "kernels/fast/dnnl_layout.h"

#include <optional>
#include <vector>

namespace ocs {

struct Int8ConvSpec {
  std::vector<int64_t> gather;  // conv input channel c reads x's channel gather[c]; empty: c itself
  std::optional<float> clip_low, clip_high;
  float scale = 1.0f;              // s_x
  int32_t zero_point = 0;          // 0 (int8 or uint8) or 128 (uint8)
  DType type = DType::Int8;        // QuantizeLinear's output type
  Tensor weights;                  // int8 [M, C/group, kh, kw], zero point 0
  std::vector<float> weight_scales;  // 1 (per tensor) or M (per output channel)
  // The step reads the QuantizeLinear's codes (of `type`, `zero_point`) instead of x: an int8
  // Conv in front wrote them (Int8Requantize). The Clip is then behind them already.
  bool codes_in = false;
};

// What an int8 Conv computes after its post-ops, inside the primitive: a Q -> DQ pair that
// round-trips its output and the element-wise functions f after it (the deployable layout's
// quantized tensors between layers), and/or the next layer's quantization:
//     y -> [Q1 -> DQ1 -> f] -> [Clip -> Q]
// The scale 1 / s of the first quantization is folded into the output scales, the round trip
// is a clip and a round post-op (times s1), f are post-ops, and the codes are Q's zero point as
// a final linear post-op and the rounding and saturation of a uint8/int8 destination (kept
// channels-last in oneDNN memory for the next int8 Conv, which reads them as they are:
// codes_in); without codes the destination is float32. Numbers: x / s becomes x * (1 / s) and a
// zero point is added before the rounding, so a code may differ from the nodes' only where the
// value lies within float rounding of a rounding boundary (docs/INT8.md).
struct Int8Requantize {
  struct RoundTrip {  // Q1 -> DQ1 and the functions after DQ1
    float scale = 1.0f;
    int32_t zero_point = 0;
    DType type = DType::UInt8;
    std::vector<EltwiseOp> after;
  };
  struct Codes {  // [Clip ->] Q
    std::optional<float> clip_low, clip_high;
    float scale = 1.0f;
    int32_t zero_point = 0;
    DType type = DType::UInt8;
  };
  std::optional<RoundTrip> round_trip;
  std::optional<Codes> codes;
};

// The Conv `conv` (2-D, constant float bias or none) on int8 data as above, times `scale` plus
// `shift` (one element or one per output channel), then `post_ops`, then `requantize`. Inputs: x
// (float32, any layout) or its codes (uint8/int8, any layout), then the sum operand when a
// post-op is a sum. nullptr when the spec is outside this kernel (another zero point, weights
// that are not int8, a ConvTranspose), or `requantize` is: a sum post-op in front of codes, a
// post-op in front of it that does not commute with the scale 1 / s (anything but Relu,
// LeakyRelu, Clip, linear functions and a sum), or two post-ops of one oneDNN algorithm (see
// engine/fusion.h).
std::unique_ptr<LayoutKernel> dnnl_make_layout_int8_conv(const Node& conv, const Graph& graph, Int8ConvSpec spec,
                                                         std::vector<PostOp> post_ops,
                                                         const std::vector<float>& scale = {1.0f},
                                                         const std::vector<float>& shift = {0.0f},
                                                         const Int8Requantize& requantize = {});

// DequantizeLinear(QuantizeLinear(x)) of a float tensor in any layout, per tensor (scale,
// zero point, and the code type Int8 or UInt8), then the element-wise functions `after`, in one
// pass: the output keeps x's layout, so the ops around a quantized tensor of the deployable layout
// stay in oneDNN's layouts (engine/int8_layers.h). The quantization is bit for bit the two
// reference kernels. nullptr for another type or an invalid scale.
std::unique_ptr<LayoutKernel> dnnl_make_layout_fake_quant(float scale, int32_t zero_point, DType type,
                                                          std::vector<EltwiseOp> after = {});

}  // namespace ocs
