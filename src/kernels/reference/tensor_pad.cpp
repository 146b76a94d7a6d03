// Pad: modes constant, reflect, edge (and wrap, opset 19).
//  - opset 1: attributes `paddings` and `value`; opset 2-10: `pads` and `value`;
//    opset 11+: inputs pads (int64) and constant_value (optional scalar); opset 18 adds axes.
//  - pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...]; a negative pad removes elements.
// Negative pads are applied first (a crop), then the positive ones pad the cropped data, so
// reflect and edge read only elements that survive the crop.
#include "core/memory_budget.h"
#include "kernels/reference/tensor_internal.h"

#include <algorithm>

namespace ocs::tensor_kernels {
namespace {

enum class PadMode { Constant, Reflect, Edge, Wrap };

// Where output coordinate `out` along one axis reads from, in the cropped input [0, size), or -1
// for the constant. `before` is the (non-negative) number of padded elements before the data.
int64_t source_coordinate(int64_t out, int64_t before, int64_t size, PadMode mode) {
  int64_t j = out - before;
  if (j >= 0 && j < size) return j;
  switch (mode) {
    case PadMode::Constant: return -1;
    case PadMode::Edge: return std::clamp<int64_t>(j, 0, size - 1);
    case PadMode::Wrap: return ((j % size) + size) % size;
    case PadMode::Reflect: {
      if (size == 1) return 0;
      // Reflection without repeating the edge has period 2 * (size - 1).
      const int64_t period = 2 * (size - 1);
      j = ((j % period) + period) % period;
      return j < size ? j : period - j;
    }
  }
  return -1;
}

void pad(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int64_t rank = data.rank();
  std::vector<int64_t> pads;
  if (ctx.opset >= 11 || ctx.has_input(1)) {
    pads = input_ints(ctx, 1, "pads");
  } else {
    pads = ctx.node.has_attr("pads") ? ctx.node.attr_ints("pads") : ctx.node.attr_ints("paddings");
  }
  // Opset 18: pads cover only the listed axes.
  if (ctx.has_input(3)) {
    const std::vector<int64_t> axes = input_ints(ctx, 3, "axes");
    if (pads.size() != 2 * axes.size())
      user_error("{}: {} pads for {} axes", ctx.node.describe(), pads.size(), axes.size());
    std::vector<int64_t> full(static_cast<size_t>(2 * rank), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t axis = normalize_axis(ctx, axes[i], rank);
      full[axis] = pads[i];
      full[axis + rank] = pads[i + axes.size()];
    }
    pads = full;
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank)
    user_error("{}: {} pads for an input of rank {} (need {})", ctx.node.describe(), pads.size(),
               rank, 2 * rank);

  const std::string mode_name = ctx.node.attr_string("mode", "constant");
  PadMode mode;
  if (mode_name == "constant") mode = PadMode::Constant;
  else if (mode_name == "reflect") mode = PadMode::Reflect;
  else if (mode_name == "edge") mode = PadMode::Edge;
  else if (mode_name == "wrap") mode = PadMode::Wrap;
  else user_error("{}: unknown mode '{}'", ctx.node.describe(), mode_name);

  // Per axis: the crop [crop_begin, crop_begin + kept) of the input and the output coordinate
  // map into it.
  Shape out_shape(static_cast<size_t>(rank));
  std::vector<int64_t> crop_begin(static_cast<size_t>(rank)), kept(static_cast<size_t>(rank));
  for (int64_t a = 0; a < rank; ++a) {
    const int64_t begin = pads[a], end = pads[a + rank];
    if (begin < -data.dim(a) || end < -data.dim(a))
      user_error("{}: pads {} remove more than the input {} holds", ctx.node.describe(),
                 shape_str(pads), shape_str(data.shape()));
    crop_begin[a] = std::max<int64_t>(0, -begin);
    kept[a] = data.dim(a) - crop_begin[a] - std::max<int64_t>(0, -end);
    if (kept[a] < 0)
      user_error("{}: pads {} remove more than the input {} holds", ctx.node.describe(),
                 shape_str(pads), shape_str(data.shape()));
    const int64_t before = std::max<int64_t>(0, begin), after = std::max<int64_t>(0, end);
    // Hostile pads must not overflow; the allocation below checks the memory budget.
    if (__builtin_add_overflow(kept[a], before, &out_shape[a]) ||
        __builtin_add_overflow(out_shape[a], after, &out_shape[a]))
      memory_refuse(UINT64_MAX, fmt::format("a {} tensor padded by {}", dtype_name(data.dtype()),
                                            shape_str(pads)));
    if (kept[a] == 0 && mode != PadMode::Constant && out_shape[a] > 0)
      user_error("{}: mode '{}' cannot pad an empty axis {}", ctx.node.describe(), mode_name, a);
  }

  Tensor output(data.dtype(), out_shape);
  if (output.numel() == 0) {
    ctx.outputs[0] = output;
    return;
  }
  // Per axis, built once the output is known to fit: each axis is at most the output's size.
  std::vector<std::vector<int64_t>> source(static_cast<size_t>(rank));
  for (int64_t a = 0; a < rank; ++a)
    for (int64_t o = 0; o < out_shape[a]; ++o)
      source[a].push_back(source_coordinate(o, std::max<int64_t>(0, pads[a]), kept[a], mode));
  // The constant, in the data's type: attribute `value` (float) before opset 11, input 2 after.
  Tensor constant(data.dtype(), {});
  dispatch_dtype(data.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (ctx.has_input(2) && ctx.input(2).numel() > 0)
      constant.data<T>()[0] = static_cast<T>(ctx.input(2).to_double_vector()[0]);
    else
      constant.data<T>()[0] = static_cast<T>(ctx.node.attr_float("value", 0.0f));
  });

  const std::vector<int64_t> in_strides = shape_strides(data.shape());
  dispatch_element_bytes(dtype_size(data.dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* src = static_cast<const U*>(data.raw());
    U* dst = static_cast<U*>(output.raw());
    U fill;
    std::memcpy(&fill, constant.raw(), sizeof(U));
    IndexCounter position(out_shape);
    int64_t o = 0;
    do {
      int64_t offset = 0;
      bool inside = true;
      for (int64_t a = 0; a < rank && inside; ++a) {
        const int64_t j = source[a][position.index[a]];
        inside = j >= 0;
        offset += (crop_begin[a] + j) * in_strides[a];
      }
      dst[o++] = inside ? src[offset] : fill;
    } while (position.advance());
  });
  ctx.outputs[0] = output;
}

}  // namespace

void register_pad_kernels(KernelRegistry& registry) { registry.add_reference("Pad", pad); }

}  // namespace ocs::tensor_kernels
