// A ConvTranspose whose strides equal its kernel (no padding, dilation, groups or output padding)
// writes each input pixel's kh x kw patch of the output and nothing else:
//     y[n, h kh + i, w kw + j, m] = sum_c x[n, h, w, c] W[c, m, i, j] (+ b[m]),
// a matrix product [pixels, C] x [C, kw M] per kernel row i. In channels-last memory the kw M
// outputs of one (n, h, w, i) are contiguous, so one oneDNN matmul over the batch (n h, i) writes
// y directly: src [N H, 1, W, C] (x channels-last, broadcast over i), weights [1, kh, C, kw M],
// dst [N H, kh, W, kw M] (y channels-last), bias [1, 1, 1, kw M] (b repeated kw times), with the
// chain's element-wise post-ops. With few outputs per row (one channel: a heat map) those
// products are too narrow for oneDNN; then one transposed product [kh kw M, C] x [C, pixels] is
// scattered into y by a reorder, and the bias and post-ops run on y as one binary primitive.
// oneDNN 2.6's deconvolution took 1.4 ms (plus 0.6 ms of bias epilogue) for PP-OCR det's
// 24-channel 2x2 upsampling, and a reorder plus a gemm for the last one (docs/PERFORMANCE.md).
#include "kernels/fast/dnnl_deconv_patches.h"

#include "kernels/fast/dnnl_post_ops.h"
#include "kernels/fast/plan_cache.h"

namespace ocs {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

class LayoutPatchDeconv final : public LayoutKernel {
 public:
  LayoutPatchDeconv(Tensor weights, Tensor bias, std::vector<PostOp> post_ops)
      : weights_(std::move(weights)), bias_(std::move(bias)), post_ops_(std::move(post_ops)) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !dnnl_value_is_float(x)) return false;
    const Shape x_shape = x.shape();
    if (x_shape.size() != 4 || x_shape[1] != weights_.dim(0)) return false;
    const auto lock = plans_.lock();
    Plan* plan = plans_.get(x_shape, [&] { return build_plan(x_shape); });
    if (!plan) return false;
    std::shared_ptr<void> x_owner, products_owner;
    void* x_nhwc = dnnl_reordered(dnnl_memory_of(x), plan->x_nhwc, x_owner).get_data_handle();
    dnnl_allocate_value(plan->y_nhwc, output);
    void* products = output.memory.get_data_handle();
    if (plan->scatter) products = (products_owner = dnnl_pool_alloc(plan->dst.get_size())).get();
    const dnnl::memory x_operand(plan->src, dnnl_cpu_engine(), x_nhwc);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, plan->scatter ? plan->weights : x_operand},
                                               {DNNL_ARG_WEIGHTS, plan->scatter ? x_operand : plan->weights},
                                               {DNNL_ARG_DST, dnnl::memory(plan->dst, dnnl_cpu_engine(), products)}};
    if (!plan->scatter) args[DNNL_ARG_BIAS] = plan->bias;
    plan->primitive.execute(dnnl_cpu_stream(), args);
    if (plan->scatter) {
      dnnl_reorder_into(dnnl::memory(plan->patches, dnnl_cpu_engine(), products),
                        dnnl::memory(plan->patches_in_y, dnnl_cpu_engine(), output.memory.get_data_handle()));
      plan->epilogue.execute(dnnl_cpu_stream(), {{DNNL_ARG_SRC_0, output.memory},
                                                 {DNNL_ARG_SRC_1, plan->channel_bias_memory},
                                                 {DNNL_ARG_DST, output.memory}});
    }
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  struct Plan {
    dnnl::matmul primitive;
    dnnl::memory::desc x_nhwc, y_nhwc, src, dst;
    dnnl::memory weights, bias;  // may be views of the two tensors (no bias when scattering)
    Tensor patch_weights, patch_bias;
    // Few outputs per pixel (kw M < kMinRow): one product per pixel into a buffer, then scattered
    // into y by a reorder: the patches [N H, W, kh, kw M] as y holds them.
    bool scatter = false;
    dnnl::memory::desc patches, patches_in_y;
    dnnl::binary epilogue;  // y + bias[m], then the post-ops
    Tensor channel_bias;
    dnnl::memory channel_bias_memory;
  };

  // Below this many outputs per kernel row, oneDNN's matmul over the (n h, i) batch is slow (2 per
  // row: 7 ms for PP-OCR det's last upsampling); one product per pixel and a scatter is not.
  static constexpr int64_t kMinRow = 16;

  std::optional<Plan> build_plan(const Shape& x_shape) const {
    const int64_t n = x_shape[0], c = x_shape[1], h = x_shape[2], w = x_shape[3];
    const int64_t m = weights_.dim(1), kh = weights_.dim(2), kw = weights_.dim(3);
    if (n * h * w == 0) return std::nullopt;
    Plan plan;
    plan.scatter = kw * m < kMinRow;
    plan.x_nhwc = dnnl::memory::desc({n, c, h, w}, dt::f32, tag::nhwc);
    // (One channel: the same bytes as plain, for which oneDNN's binary is 80x faster.)
    plan.y_nhwc = dnnl::memory::desc({n, m, h * kh, w * kw}, dt::f32, m == 1 ? tag::nchw : tag::nhwc);
    const int64_t pixels = n * h * w, outputs = kh * kw * m;
    dnnl::memory::desc constant_md, bias_md, constant_any;
    if (plan.scatter) {
      // (W as [i j m, C]) x (x as [C, pixels]) into [i j m, pixels], then scattered into y.
      constant_md = dnnl::memory::desc({1, 1, outputs, c}, dt::f32, tag::abcd);
      constant_any = constant_md;
      plan.src = dnnl::memory::desc({1, 1, c, pixels}, dt::f32, tag::abdc);  // x channels-last, seen transposed
      plan.dst = dnnl::memory::desc({1, 1, outputs, pixels}, dt::f32, tag::abcd);
      plan.patches = dnnl::memory::desc({kh, kw * m, n * h, w}, dt::f32, tag::abcd);
      plan.patches_in_y = dnnl::memory::desc({kh, kw * m, n * h, w}, dt::f32,
                                             dnnl::memory::dims{w * kw * m, 1, kh * w * kw * m, kw * m});
    } else {
      // Per (n h, i): a row of pixels [W, C] x [C, (j m)], written where y holds it.
      constant_md = dnnl::memory::desc({1, kh, c, kw * m}, dt::f32, tag::abcd);
      constant_any = dnnl::memory::desc({1, kh, c, kw * m}, dt::f32, tag::any);
      plan.src = dnnl::memory::desc({n * h, 1, w, c}, dt::f32, tag::abcd);
      plan.dst = dnnl::memory::desc({n * h, kh, w, kw * m}, dt::f32, tag::abcd);
      bias_md = dnnl::memory::desc({1, 1, 1, kw * m}, dt::f32, tag::abcd);
    }
    const dnnl::memory::dims constant_dims = constant_md.dims();
    plan.patch_weights = Tensor(DType::Float32, Shape(constant_dims.begin(), constant_dims.end()));
    if (!plan.scatter) plan.patch_bias = Tensor(DType::Float32, {1, 1, 1, kw * m});
    const float* from = weights_.data<float>();
    float* to = plan.patch_weights.data<float>();
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j)
        for (int64_t mi = 0; mi < m; ++mi) {
          for (int64_t ci = 0; ci < c; ++ci) {
            const float v = from[((ci * m + mi) * kh + i) * kw + j];  // W[ci, mi, i, j]
            if (plan.scatter) to[((i * kw + j) * m + mi) * c + ci] = v;
            else to[(i * c + ci) * kw * m + j * m + mi] = v;
          }
          if (!plan.scatter) plan.patch_bias.data<float>()[j * m + mi] = bias_.defined() ? bias_.data<float>()[mi] : 0.0f;
        }
    // The transposed product's bias is per row, which oneDNN's fast matmul does not take (as a
    // bias or before other post-ops it runs its reference implementation): the bias and the
    // post-ops then run on y as one binary primitive, in place.
    dnnl::primitive_attr attr, product_attr;
    attr.set_post_ops(dnnl_post_ops_of(dnnl_post_ops_from(post_ops_)));
    if (!plan.scatter) product_attr = attr;
    try {
      if (plan.scatter) {
        const dnnl::memory::desc channel_md({1, m, 1, 1}, dt::f32, tag::abcd);
        plan.epilogue = dnnl::binary(dnnl::binary::primitive_desc(
            dnnl::binary::desc(dnnl::algorithm::binary_add, plan.y_nhwc, channel_md, plan.y_nhwc), attr,
            dnnl_cpu_engine()));
        plan.channel_bias = Tensor(DType::Float32, {1, m, 1, 1});
        for (int64_t mi = 0; mi < m; ++mi)
          plan.channel_bias.data<float>()[mi] = bias_.defined() ? bias_.data<float>()[mi] : 0.0f;
        plan.channel_bias_memory = dnnl_view(channel_md, plan.channel_bias);
      }
      const dnnl::matmul::desc desc = plan.scatter ? dnnl::matmul::desc(constant_md, plan.src, dnnl::memory::desc(), plan.dst)
                                                   : dnnl::matmul::desc(plan.src, constant_any, bias_md, plan.dst);
      const dnnl::matmul::primitive_desc pd(desc, product_attr, dnnl_cpu_engine());
      if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return std::nullopt;
      plan.primitive = dnnl::matmul(pd);
      plan.weights = dnnl_reorder_now(dnnl_view(constant_md, plan.patch_weights),
                                      plan.scatter ? constant_md : pd.weights_desc());
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
    if (!plan.scatter) plan.bias = dnnl_view(bias_md, plan.patch_bias);
    return plan;
  }

  const Tensor weights_, bias_;  // ONNX's [C, M, kh, kw] and [M] (bias may be undefined)
  const std::vector<PostOp> post_ops_;
  PlanCache<Shape, Plan> plans_;
};

}  // namespace

bool dnnl_deconv_is_patchwise(const Node& node, const Shape& w_shape) {
  if (node.op_type != "ConvTranspose" || w_shape.size() != 4) return false;
  if (node.attr_int("group", 1) != 1 || !node.attr_ints("output_shape").empty()) return false;
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return false;
  const std::vector<int64_t> kernel{w_shape[2], w_shape[3]};
  const std::vector<int64_t> given = node.attr_ints("kernel_shape");
  if (!given.empty() && given != kernel) return false;
  if (node.attr_ints("strides") != kernel) return false;
  auto all_equal = [&](const std::string& name, int64_t value) {
    for (int64_t v : node.attr_ints(name))
      if (v != value) return false;
    return true;
  };
  return all_equal("pads", 0) && all_equal("dilations", 1) && all_equal("output_padding", 0);
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_patch_deconv(const Node& node, Tensor weights, Tensor bias,
                                                            std::vector<PostOp> post_ops) {
  if (!dnnl_deconv_is_patchwise(node, weights.shape()) || weights.dtype() != DType::Float32) return nullptr;
  for (const PostOp& p : post_ops)
    if (p.sum) return nullptr;
  if (bias.defined() && (bias.dtype() != DType::Float32 || bias.numel() != weights.dim(1))) return nullptr;
  return std::make_unique<LayoutPatchDeconv>(std::move(weights), std::move(bias), std::move(post_ops));
}

}  // namespace ocs
