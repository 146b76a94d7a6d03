// Conv and ConvTranspose on oneDNN (float32, 1-3 spatial axes, any groups, strides, dilations
// and pads). Source and destination use the layout the primitive prefers (format_tag::any) with
// reorders from and to plain NCHW; weights that are graph constants are reordered once per plan.
#include "kernels/fast/dnnl_common.h"
#include "kernels/reference/nn_common.h"

#include <map>
#include <mutex>
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

dnnl::memory::dims to_dims(const std::vector<int64_t>& v) { return dnnl::memory::dims(v.begin(), v.end()); }

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
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<int64_t> key = x.shape();
    key.push_back(-1);
    key.insert(key.end(), w.shape().begin(), w.shape().end());
    key.push_back(b.defined() ? 1 : 0);
    auto it = plans_.find(key);
    if (it == plans_.end()) it = plans_.emplace(key, build_plan(ctx)).first;
    if (!it->second) return dnnl_note_fallback(), reference(ctx);
    ConvPlan& plan = *it->second;

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
    const Node& node = ctx.node;
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const bool has_bias = ctx.has_input(2);
    if (x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank()) return std::nullopt;
    const int64_t group = node.attr_int("group", 1);
    const int64_t in_channels = x.dim(1);
    if (group < 1 || in_channels % group != 0) return std::nullopt;
    const Shape kernel = nn_spatial_dims(w.shape());
    if (node.attr_ints("kernel_shape", kernel) != kernel) return std::nullopt;

    // Kernel volume and the per-group channel counts; weight dims in oneDNN's order
    // [group,] out_channels, in_channels, kernel...
    int64_t kernel_volume = 1;
    for (int64_t k : kernel) kernel_volume *= k;
    int64_t out_channels = 0;
    Shape weight_dims;
    std::vector<int64_t> weight_strides;
    WindowGeometry g;
    std::vector<int64_t> pad_end;
    if (!transposed_) {
      // ONNX W [M, C/group, k...] is exactly oneDNN's [G, M/G, C/G, k...] in row-major order.
      out_channels = w.dim(0);
      if (w.dim(1) * group != in_channels || out_channels % group != 0) return std::nullopt;
      g = nn_window_geometry(node, nn_spatial_dims(x.shape()), kernel, false);
      pad_end = g.pads_end;
      weight_dims = group == 1 ? Shape{out_channels, in_channels}
                               : Shape{group, out_channels / group, in_channels / group};
      weight_dims.insert(weight_dims.end(), kernel.begin(), kernel.end());
      weight_strides = shape_strides(weight_dims);
    } else {
      // ONNX W [C, M/group, k...] stored as (g, c_g, m_g, k); oneDNN wants dims
      // [G, M/G, C/G, k...], described here with strides over the same buffer.
      if (w.dim(0) != in_channels) return std::nullopt;
      const int64_t out_per_group = w.dim(1);
      const int64_t in_per_group = in_channels / group;
      out_channels = out_per_group * group;
      g = nn_conv_transpose_geometry(node, nn_spatial_dims(x.shape()), kernel);
      // oneDNN relates sizes by in = (out + pad_l + pad_r - extent) / stride + 1; pick pad_r
      // so that this holds exactly (negative when output_padding or output_shape add positions
      // at the end).
      for (size_t i = 0; i < g.spatial_rank(); ++i)
        pad_end.push_back((g.input[i] - 1) * g.strides[i] + g.dilated_kernel(i) - g.pads_begin[i] - g.output[i]);
      const std::vector<int64_t> kernel_strides = shape_strides(kernel);
      if (group == 1) {
        weight_dims = {out_channels, in_channels};
        weight_strides = {kernel_volume, out_per_group * kernel_volume};
      } else {
        weight_dims = {group, out_per_group, in_per_group};
        weight_strides = {in_per_group * out_per_group * kernel_volume, kernel_volume, out_per_group * kernel_volume};
      }
      weight_dims.insert(weight_dims.end(), kernel.begin(), kernel.end());
      weight_strides.insert(weight_strides.end(), kernel_strides.begin(), kernel_strides.end());
    }
    for (int64_t d : g.output)
      if (d < 1) return std::nullopt;

    ConvPlan plan;
    plan.y_shape = {x.dim(0), out_channels};
    plan.y_shape.insert(plan.y_shape.end(), g.output.begin(), g.output.end());
    plan.src_user = dnnl_plain_desc(x.shape());
    plan.dst_user = dnnl_plain_desc(plan.y_shape);
    plan.weights_user = dnnl_strided_desc(weight_dims, weight_strides);
    plan.bias_desc = has_bias ? dnnl_plain_desc({out_channels}) : dnnl::memory::desc();

    const auto f32 = dnnl::memory::data_type::f32;
    const dnnl::memory::desc src_any(dnnl_dims(x.shape()), f32, tag::any);
    const dnnl::memory::desc weights_any(dnnl_dims(weight_dims), f32, tag::any);
    const dnnl::memory::desc dst_any(dnnl_dims(plan.y_shape), f32, tag::any);
    std::vector<int64_t> dilates;  // oneDNN counts dilation from 0
    for (int64_t d : g.dilations) dilates.push_back(d - 1);
    dnnl::memory::desc src_md, weights_md, dst_md;
    try {
      if (!transposed_) {
        dnnl::convolution_forward::desc desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any, weights_any,
            plan.bias_desc, dst_any, to_dims(g.strides), to_dims(dilates), to_dims(g.pads_begin), to_dims(pad_end));
        dnnl::convolution_forward::primitive_desc pd(desc, dnnl_cpu_engine());
        src_md = pd.src_desc(), weights_md = pd.weights_desc(), dst_md = pd.dst_desc();
        plan.primitive = dnnl::convolution_forward(pd);
      } else {
        dnnl::deconvolution_forward::desc desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct, src_any, weights_any,
            plan.bias_desc, dst_any, to_dims(g.strides), to_dims(dilates), to_dims(g.pads_begin), to_dims(pad_end));
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
  std::mutex mutex_;  // plans hold staging buffers: one run at a time per node
  std::map<std::vector<int64_t>, std::optional<ConvPlan>> plans_;
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
