// Fast QuantizeLinear and DequantizeLinear: the loops of quant_loops.h over each run of elements
// that shares one scale and zero point (the whole tensor, or each [o, c, :] row of a per-axis
// layout). Anything else (int32 input to QuantizeLinear, mismatched or invalid scales and zero
// points, opset < 13 with a per-axis scale) goes to the reference kernel, which also reports the
// errors, so the fast path never changes what a model computes.
#include "kernels/fast/dnnl_common.h"
#include "kernels/fast/quant_loops.h"
#include "core/axis_split.h"

#include <optional>
#include <vector>

namespace ocs {

namespace {

// Scales and zero points per channel of `split`, or nullopt when the reference should run.
struct QuantRuns {
  AxisSplit split;  // per tensor: one channel covering everything
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
};

std::optional<QuantRuns> quant_runs(const KernelContext& ctx, const Tensor& x, const Tensor& scale,
                                    const Tensor& zero_point, DType zero_point_type) {
  if (scale.dtype() != DType::Float32 || scale.numel() < 1) return std::nullopt;
  if (zero_point.defined() && (zero_point.dtype() != zero_point_type || zero_point.numel() != scale.numel()))
    return std::nullopt;
  QuantRuns runs;
  if (scale.numel() == 1 && scale.rank() <= 1) {
    runs.split.inner = x.numel();
  } else {
    if (ctx.opset < 13 || scale.rank() != 1 || x.rank() == 0) return std::nullopt;
    int64_t axis = ctx.node.attr_int("axis", 1);
    if (axis < 0) axis += x.rank();
    if (axis < 0 || axis >= x.rank() || x.dim(axis) != scale.numel()) return std::nullopt;
    runs.split = split_at_axis(x.shape(), axis);
  }
  const float* s = scale.data<float>();
  runs.scales.assign(s, s + scale.numel());
  if (zero_point.defined()) {
    for (int64_t z : zero_point.to_int64_vector()) runs.zero_points.push_back(static_cast<int32_t>(z));
  } else {
    runs.zero_points.assign(runs.scales.size(), 0);
  }
  return runs;
}

// Calls body(offset, count, channel) for every run of `runs`, rows in parallel when there are
// many small ones (one large run parallelises inside the loop itself).
template <typename Body>
void for_runs(const QuantRuns& runs, Body body) {
  const AxisSplit& s = runs.split;
  const int64_t rows = s.outer * s.channels;
  if (rows == 1) return body(int64_t{0}, s.inner, int64_t{0});
  const bool parallel = rows * s.inner >= kQuantParallelMin && s.inner < kQuantParallelMin;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < rows; ++r) body(r * s.inner, s.inner, r % s.channels);
}

void run_reference(KernelContext& ctx) {
  const KernelEntry* entry = KernelRegistry::global().find(ctx.node.domain, ctx.node.op_type);
  OCS_CHECK(entry && entry->reference, "no reference kernel for {}", ctx.node.describe());
  entry->reference(ctx);
}

class FastQuantize final : public FastKernel {
 public:
  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& zero_point = ctx.input(2);
    const DType out_type = zero_point.defined() ? zero_point.dtype() : DType::UInt8;
    if (x.dtype() != DType::Float32 || (out_type != DType::UInt8 && out_type != DType::Int8)) return run_reference(ctx);
    const std::optional<QuantRuns> runs = quant_runs(ctx, x, ctx.input(1), zero_point, out_type);
    if (!runs) return run_reference(ctx);
    Tensor y(out_type, x.shape());
    const float* in = x.data<float>();
    if (out_type == DType::UInt8) {
      uint8_t* out = y.data<uint8_t>();
      for_runs(*runs, [&](int64_t at, int64_t n, int64_t c) {
        fast_quantize(in + at, n, runs->scales[c], runs->zero_points[c], out + at);
      });
    } else {
      int8_t* out = y.data<int8_t>();
      for_runs(*runs, [&](int64_t at, int64_t n, int64_t c) {
        fast_quantize(in + at, n, runs->scales[c], runs->zero_points[c], out + at);
      });
    }
    ctx.outputs[0] = std::move(y);
  }
};

class FastDequantize final : public FastKernel {
 public:
  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const DType type = x.dtype();
    if (type != DType::UInt8 && type != DType::Int8 && type != DType::Int32) return run_reference(ctx);
    const std::optional<QuantRuns> runs = quant_runs(ctx, x, ctx.input(1), ctx.input(2), type);
    if (!runs) return run_reference(ctx);
    if (type == DType::Int32)
      for (int32_t z : runs->zero_points)
        if (z != 0) return run_reference(ctx);  // refused there, with the message
    Tensor y(DType::Float32, x.shape());
    float* out = y.data<float>();
    for_runs(*runs, [&](int64_t at, int64_t n, int64_t c) {
      const float scale = runs->scales[c];
      const int32_t zero_point = runs->zero_points[c];
      if (type == DType::UInt8) fast_dequantize(x.data<uint8_t>() + at, n, scale, zero_point, out + at);
      else if (type == DType::Int8) fast_dequantize(x.data<int8_t>() + at, n, scale, zero_point, out + at);
      else fast_dequantize(x.data<int32_t>() + at, n, scale, zero_point, out + at);
    });
    ctx.outputs[0] = std::move(y);
  }
};

}  // namespace

std::unique_ptr<FastKernel> fast_make_quantize_linear(const Node& node, const Graph& graph) {
  return std::make_unique<FastQuantize>();
}

std::unique_ptr<FastKernel> fast_make_dequantize_linear(const Node& node, const Graph& graph) {
  return std::make_unique<FastDequantize>();
}

}  // namespace ocs
