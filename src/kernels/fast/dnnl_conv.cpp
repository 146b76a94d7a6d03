// Conv and ConvTranspose on oneDNN (float32, 1-3 spatial axes, any groups, strides, dilations
// and pads). Source and destination use the layout the primitive prefers (format_tag::any) with
// reorders from and to plain NCHW; weights that are graph constants are reordered once per plan.
#include "kernels/fast/dnnl_common.h"
#include "kernels/fast/dnnl_conv_geometry.h"
#include "kernels/fast/plan_cache.h"
#include "kernels/reference/nn_common.h"

#include <optional>

namespace ocs {

namespace {

using tag = dnnl::memory::format_tag;

struct ConvPlan {
  dnnl::primitive primitive;
  Shape y_shape;
  dnnl::memory::desc src_user, weights_user, dst_user, bias_desc;
  DnnlStaging src, weights, dst;
  Tensor constant_weights_tensor;  // keeps the viewed buffer alive
  std::optional<dnnl::memory> constant_weights;  // already in the primitive's layout
};

class DnnlConvKernel final : public FastKernel {
 public:
  DnnlConvKernel(bool transposed, bool constant_weights)
      : transposed_(transposed), constant_weights_(constant_weights) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor& b = ctx.input(2);
    const ReferenceKernel reference = transposed_ ? nn_conv_transpose : nn_conv;
    if (x.dtype() != DType::Float32 || w.dtype() != DType::Float32 ||
        (b.defined() && b.dtype() != DType::Float32))
      return dnnl_note_fallback(), reference(ctx);
    std::vector<int64_t> key = x.shape();
    key.push_back(-1);
    key.insert(key.end(), w.shape().begin(), w.shape().end());
    key.push_back(b.defined() ? 1 : 0);
    const auto lock = plans_.lock();
    ConvPlan* found = plans_.get(key, [&] { return build_plan(ctx); });
    if (!found) return dnnl_note_fallback(), reference(ctx);
    ConvPlan& plan = *found;

    Tensor y(DType::Float32, plan.y_shape);
    const dnnl::memory src_user = dnnl_view(plan.src_user, x);
    const dnnl::memory dst_user = dnnl_view(plan.dst_user, y);
    std::unordered_map<int, dnnl::memory> args;
    args[DNNL_ARG_SRC] = plan.src.input(src_user);
    args[DNNL_ARG_WEIGHTS] =
        plan.constant_weights ? *plan.constant_weights : plan.weights.input(dnnl_view(plan.weights_user, w));
    if (b.defined()) args[DNNL_ARG_BIAS] = dnnl_view(plan.bias_desc, b);
    args[DNNL_ARG_DST] = plan.dst.output(dst_user);
    plan.primitive.execute(dnnl_cpu_stream(), args);
    plan.dst.output_done(dst_user);
    dnnl_cpu_stream().wait();
    ctx.outputs[0] = std::move(y);
  }

 private:
  // nullopt when this shape is outside the fast path (the reference kernel then runs and
  // reports any error in the model).
  std::optional<ConvPlan> build_plan(const KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const bool has_bias = ctx.has_input(2);
    if (x.rank() < 3 || x.rank() > 5) return std::nullopt;
    const std::optional<DnnlConvGeometry> g = dnnl_conv_geometry(ctx.node, x.shape(), w.shape(), transposed_);
    if (!g) return std::nullopt;

    ConvPlan plan;
    plan.y_shape = g->y_shape;
    plan.src_user = dnnl_plain_desc(x.shape());
    plan.dst_user = dnnl_plain_desc(plan.y_shape);
    plan.weights_user = dnnl_strided_desc(g->weight_dims, g->weight_strides);
    plan.bias_desc = has_bias ? dnnl_plain_desc({g->out_channels}) : dnnl::memory::desc();

    const auto f32 = dnnl::memory::data_type::f32;
    const dnnl::memory::desc src_any(dnnl_dims(x.shape()), f32, tag::any);
    const dnnl::memory::desc weights_any(dnnl_dims(g->weight_dims), f32, tag::any);
    const dnnl::memory::desc dst_any(dnnl_dims(plan.y_shape), f32, tag::any);
    dnnl::memory::desc src_md, weights_md, dst_md;
    try {
      if (!transposed_) {
        dnnl::convolution_forward::desc desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any, weights_any,
            plan.bias_desc, dst_any, g->strides, g->dilates, g->pads_begin, g->pads_end);
        dnnl::convolution_forward::primitive_desc pd(desc, dnnl_cpu_engine());
        src_md = pd.src_desc(), weights_md = pd.weights_desc(), dst_md = pd.dst_desc();
        plan.primitive = dnnl::convolution_forward(pd);
      } else {
        dnnl::deconvolution_forward::desc desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct, src_any, weights_any,
            plan.bias_desc, dst_any, g->strides, g->dilates, g->pads_begin, g->pads_end);
        dnnl::deconvolution_forward::primitive_desc pd(desc, dnnl_cpu_engine());
        src_md = pd.src_desc(), weights_md = pd.weights_desc(), dst_md = pd.dst_desc();
        plan.primitive = dnnl::deconvolution_forward(pd);
      }
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
    plan.src = DnnlStaging(plan.src_user, src_md, true);
    plan.dst = DnnlStaging(plan.dst_user, dst_md, false);
    if (constant_weights_) {
      plan.constant_weights_tensor = w;
      plan.constant_weights = dnnl_reorder_now(dnnl_view(plan.weights_user, w), weights_md);
    } else {
      plan.weights = DnnlStaging(plan.weights_user, weights_md, true);
    }
    return plan;
  }

  const bool transposed_;
  const bool constant_weights_;
  PlanCache<std::vector<int64_t>, ConvPlan> plans_;  // key: x shape, -1, w shape, has bias
};

bool conv_node_in_fast_path(const Node& node, const Graph& graph) {
  for (size_t i = 0; i < std::min<size_t>(node.inputs.size(), 3); ++i)
    if (!dnnl_input_may_be_float(node, graph, i)) return false;
  const int64_t rank = dnnl_input_rank(node, graph, 0);
  return rank == -1 || (rank >= 3 && rank <= 5);
}

}  // namespace

std::unique_ptr<FastKernel> dnnl_make_conv(const Node& node, const Graph& graph) {
  if (!conv_node_in_fast_path(node, graph)) return nullptr;
  return std::make_unique<DnnlConvKernel>(false, dnnl_input_is_constant(node, graph, 1));
}

std::unique_ptr<FastKernel> dnnl_make_conv_transpose(const Node& node, const Graph& graph) {
  if (!conv_node_in_fast_path(node, graph)) return nullptr;
  return std::make_unique<DnnlConvKernel>(true, dnnl_input_is_constant(node, graph, 1));
}

}  // namespace ocs
