// MaxPool, AveragePool and GlobalAveragePool on oneDNN's pooling_v2 primitive (float32, 1-3
// spatial axes, plain NCHW in and out: pooling is memory-bound, so reorders would cost more
// than a blocked layout saves).
//
// oneDNN relates sizes by out = (in + pad_l + pad_r - extent) / stride + 1 (rounded down). For
// ceil_mode the end padding is widened until that holds; the extra padding never holds a
// maximum and is not counted by exclude-padding averages. AveragePool with
// count_include_pad=1 would count it, so that one case runs the reference kernel.
#include "kernels/fast/dnnl_common.h"
#include "kernels/fast/plan_cache.h"
#include "kernels/reference/nn_common.h"

#include <optional>

namespace ocs {

namespace {

enum class PoolKind { Max, Average, GlobalAverage };

struct PoolPlan {
  dnnl::pooling_v2_forward primitive;
  Shape y_shape;
  dnnl::memory::desc src_user, dst_user;
};

class DnnlPoolKernel final : public FastKernel {
 public:
  explicit DnnlPoolKernel(PoolKind kind) : kind_(kind) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::Float32) return dnnl_note_fallback(), reference(ctx);
    if (kind_ == PoolKind::Max && dnnl_holds_nan(x.data<float>(), x.numel())) return dnnl_note_fallback(), reference(ctx);
    const auto lock = plans_.lock();
    PoolPlan* found = plans_.get(x.shape(), [&] { return build_plan(ctx); });
    if (!found) return dnnl_note_fallback(), reference(ctx);
    PoolPlan& plan = *found;
    Tensor y(DType::Float32, plan.y_shape);
    std::unordered_map<int, dnnl::memory> args;
    args[DNNL_ARG_SRC] = dnnl_view(plan.src_user, x);
    args[DNNL_ARG_DST] = dnnl_view(plan.dst_user, y);
    plan.primitive.execute(dnnl_cpu_stream(), args);
    dnnl_cpu_stream().wait();
    ctx.outputs[0] = std::move(y);
  }

 private:
  void reference(KernelContext& ctx) const {
    switch (kind_) {
      case PoolKind::Max: return nn_max_pool(ctx);
      case PoolKind::Average: return nn_average_pool(ctx);
      case PoolKind::GlobalAverage: return nn_global_average_pool(ctx);
    }
  }

  std::optional<PoolPlan> build_plan(const KernelContext& ctx) const {
    const Node& node = ctx.node;
    const Tensor& x = ctx.input(0);
    if (x.rank() < 3 || x.rank() > 5 || x.numel() == 0) return std::nullopt;
    const Shape spatial = nn_spatial_dims(x.shape());
    WindowGeometry g;
    dnnl::algorithm algorithm = dnnl::algorithm::pooling_max;
    if (kind_ == PoolKind::GlobalAverage) {
      g.input = g.kernel = g.output = spatial;
      g.output.assign(spatial.size(), 1);
      g.strides.assign(spatial.size(), 1);
      g.dilations.assign(spatial.size(), 1);
      g.pads_begin.assign(spatial.size(), 0);
      g.pads_end.assign(spatial.size(), 0);
      algorithm = dnnl::algorithm::pooling_avg_exclude_padding;
    } else {
      const Shape kernel = node.attr("kernel_shape").ints;
      const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
      g = nn_window_geometry(node, spatial, kernel, ceil_mode);
      if (kind_ == PoolKind::Average)
        algorithm = node.attr_int("count_include_pad", 0) != 0 ? dnnl::algorithm::pooling_avg_include_padding
                                                              : dnnl::algorithm::pooling_avg_exclude_padding;
    }
    std::vector<int64_t> pad_end(g.spatial_rank());
    for (size_t i = 0; i < g.spatial_rank(); ++i) {
      // The smallest end padding >= pads_end for which oneDNN's size relation gives g.output.
      const int64_t needed = (g.output[i] - 1) * g.strides[i] + g.dilated_kernel(i) - g.input[i] - g.pads_begin[i];
      pad_end[i] = std::max(g.pads_end[i], needed);
      const int64_t span = g.input[i] + g.pads_begin[i] + pad_end[i] - g.dilated_kernel(i);
      if (span < 0 || span / g.strides[i] + 1 != g.output[i]) return std::nullopt;
      if (pad_end[i] > g.pads_end[i] && algorithm == dnnl::algorithm::pooling_avg_include_padding)
        return std::nullopt;
      // oneDNN wants every window to overlap the input-plus-padding; tiny inputs with huge
      // kernels are left to the reference.
      if (g.pads_begin[i] >= g.dilated_kernel(i) || pad_end[i] >= g.dilated_kernel(i)) return std::nullopt;
    }

    PoolPlan plan;
    plan.y_shape = {x.dim(0), x.dim(1)};
    plan.y_shape.insert(plan.y_shape.end(), g.output.begin(), g.output.end());
    plan.src_user = dnnl_plain_desc(x.shape());
    plan.dst_user = dnnl_plain_desc(plan.y_shape);
    std::vector<int64_t> dilates;  // oneDNN counts dilation from 0
    for (int64_t d : g.dilations) dilates.push_back(d - 1);
    auto dims = [](const std::vector<int64_t>& v) { return dnnl::memory::dims(v.begin(), v.end()); };
    try {
      dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, plan.src_user,
                                          plan.dst_user, dims(g.strides), dims(g.kernel), dims(dilates),
                                          dims(g.pads_begin), dims(pad_end));
      plan.primitive = dnnl::pooling_v2_forward(dnnl::pooling_v2_forward::primitive_desc(desc, dnnl_cpu_engine()));
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
    return plan;
  }

  const PoolKind kind_;
  PlanCache<Shape, PoolPlan> plans_;  // key: x shape
};

bool pool_node_in_fast_path(const Node& node, const Graph& graph) {
  if (!dnnl_input_may_be_float(node, graph, 0)) return false;
  const int64_t rank = dnnl_input_rank(node, graph, 0);
  return rank == -1 || (rank >= 3 && rank <= 5);
}

}  // namespace

std::unique_ptr<FastKernel> dnnl_make_max_pool(const Node& node, const Graph& graph) {
  // The Indices output is computed by the reference kernel only.
  if (node.outputs.size() > 1 && node.outputs[1] != kNoValue) return nullptr;
  if (!pool_node_in_fast_path(node, graph)) return nullptr;
  return std::make_unique<DnnlPoolKernel>(PoolKind::Max);
}

std::unique_ptr<FastKernel> dnnl_make_average_pool(const Node& node, const Graph& graph) {
  if (!pool_node_in_fast_path(node, graph)) return nullptr;
  return std::make_unique<DnnlPoolKernel>(PoolKind::Average);
}

std::unique_ptr<FastKernel> dnnl_make_global_average_pool(const Node& node, const Graph& graph) {
  if (!pool_node_in_fast_path(node, graph)) return nullptr;
  return std::make_unique<DnnlPoolKernel>(PoolKind::GlobalAverage);
}

}  // namespace ocs
