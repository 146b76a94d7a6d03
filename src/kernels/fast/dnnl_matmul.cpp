// MatMul and Gemm on oneDNN's matmul primitive (float32).
//  - MatMul: NumPy semantics. 1-D operands are promoted as in the reference, ranks are aligned
//    by prepending ones, and oneDNN broadcasts batch axes of size 1.
//  - Gemm: transA/transB become strided descriptors (no copies). C joins as the primitive's
//    bias when alpha = beta = 1; otherwise Y = alpha * AB + beta * C is finished in a plain loop,
//    which is O(M*N) next to the O(M*N*K) product.
// A constant B is reordered once into the layout the primitive prefers (format_tag::any).
#include "kernels/fast/dnnl_common.h"
#include "kernels/fast/plan_cache.h"
#include "kernels/reference/broadcast.h"
#include "kernels/reference/nn_common.h"

#include <optional>

namespace ocs {

namespace {

struct MatMulPlan {
  dnnl::matmul primitive;
  Shape y_shape;
  dnnl::memory::desc a_user, b_user, dst_user, bias_desc;
  DnnlStaging b_staging;
  Tensor constant_b_tensor;  // keeps the viewed buffer alive
  std::optional<dnnl::memory> constant_b;
  bool c_as_bias = false;
  std::vector<int64_t> c_index;  // epilogue: Y element -> C element
};

// Creates the primitive for a_user x b_user -> dst_user, choosing B's layout when it is constant.
bool build_matmul_primitive(MatMulPlan& plan, const Tensor& b, bool constant_b) {
  try {
    const dnnl::memory::desc b_any(plan.b_user.dims(), dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
    dnnl::matmul::desc desc(plan.a_user, constant_b ? b_any : plan.b_user, plan.bias_desc, plan.dst_user);
    dnnl::matmul::primitive_desc pd(desc, dnnl_cpu_engine());
    plan.primitive = dnnl::matmul(pd);
    if (constant_b) {
      plan.constant_b_tensor = b;
      plan.constant_b = dnnl_reorder_now(dnnl_view(plan.b_user, b), pd.weights_desc());
    } else {
      plan.b_staging = DnnlStaging(plan.b_user, pd.weights_desc(), true);
    }
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

void execute_matmul(MatMulPlan& plan, const Tensor& a, const Tensor& b, const Tensor* bias, Tensor& y) {
  std::unordered_map<int, dnnl::memory> args;
  args[DNNL_ARG_SRC] = dnnl_view(plan.a_user, a);
  args[DNNL_ARG_WEIGHTS] = plan.constant_b ? *plan.constant_b : plan.b_staging.input(dnnl_view(plan.b_user, b));
  if (bias) args[DNNL_ARG_BIAS] = dnnl_view(plan.bias_desc, *bias);
  args[DNNL_ARG_DST] = dnnl_view(plan.dst_user, y);
  plan.primitive.execute(dnnl_cpu_stream(), args);
  dnnl_cpu_stream().wait();
}

// Shared bookkeeping: plans keyed by input shapes, one run at a time per node.
class DnnlMatMulKernelBase : public FastKernel {
 protected:
  explicit DnnlMatMulKernelBase(bool constant_b) : constant_b_(constant_b) {}
  const bool constant_b_;
  PlanCache<std::vector<int64_t>, MatMulPlan> plans_;  // key: shapes_key

  static std::vector<int64_t> shapes_key(const KernelContext& ctx) {
    std::vector<int64_t> key;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor& t = ctx.input(i);
      key.push_back(t.defined() ? t.rank() : -1);
      if (t.defined()) key.insert(key.end(), t.shape().begin(), t.shape().end());
    }
    return key;
  }
  static bool all_float(const KernelContext& ctx) {
    for (size_t i = 0; i < ctx.num_inputs(); ++i)
      if (ctx.has_input(i) && ctx.input(i).dtype() != DType::Float32) return false;
    return true;
  }
};

class DnnlMatMulKernel final : public DnnlMatMulKernelBase {
 public:
  explicit DnnlMatMulKernel(bool constant_b) : DnnlMatMulKernelBase(constant_b) {}

  void run(KernelContext& ctx) override {
    if (!all_float(ctx)) return dnnl_note_fallback(), nn_matmul(ctx);
    const auto lock = plans_.lock();
    MatMulPlan* found = plans_.get(shapes_key(ctx), [&] { return build_plan(ctx); });
    if (!found) return dnnl_note_fallback(), nn_matmul(ctx);
    MatMulPlan& plan = *found;
    Tensor y(DType::Float32, plan.y_shape);
    execute_matmul(plan, ctx.input(0), ctx.input(1), nullptr, y);
    ctx.outputs[0] = std::move(y);
  }

 private:
  std::optional<MatMulPlan> build_plan(const KernelContext& ctx) {
    const Shape& a_in = ctx.input(0).shape();
    const Shape& b_in = ctx.input(1).shape();
    if (a_in.empty() || b_in.empty()) return std::nullopt;
    Shape a = a_in.size() == 1 ? Shape{1, a_in[0]} : a_in;
    Shape b = b_in.size() == 1 ? Shape{b_in[0], 1} : b_in;
    const size_t rank = std::max(a.size(), b.size());
    if (rank > DNNL_MAX_NDIMS) return std::nullopt;
    a.insert(a.begin(), rank - a.size(), 1);
    b.insert(b.begin(), rank - b.size(), 1);
    if (a[rank - 1] != b[rank - 2]) return std::nullopt;
    Shape dst(rank);
    for (size_t i = 0; i + 2 < rank; ++i) {
      if (a[i] != b[i] && a[i] != 1 && b[i] != 1) return std::nullopt;
      dst[i] = std::max(a[i], b[i]);
    }
    dst[rank - 2] = a[rank - 2];
    dst[rank - 1] = b[rank - 1];
    for (int64_t d : dst)
      if (d == 0) return std::nullopt;
    if (a[rank - 1] == 0) return std::nullopt;

    MatMulPlan plan;
    // The output drops the axes that 1-D promotion added.
    plan.y_shape.assign(dst.begin(), dst.end() - 2);
    if (a_in.size() > 1) plan.y_shape.push_back(dst[rank - 2]);
    if (b_in.size() > 1) plan.y_shape.push_back(dst[rank - 1]);
    plan.a_user = dnnl_plain_desc(a);
    plan.b_user = dnnl_plain_desc(b);
    plan.dst_user = dnnl_plain_desc(dst);
    if (!build_matmul_primitive(plan, ctx.input(1), constant_b_)) return std::nullopt;
    return plan;
  }
};

class DnnlGemmKernel final : public DnnlMatMulKernelBase {
 public:
  explicit DnnlGemmKernel(bool constant_b) : DnnlMatMulKernelBase(constant_b) {}

  void run(KernelContext& ctx) override {
    if (!all_float(ctx)) return dnnl_note_fallback(), nn_gemm(ctx);
    const auto lock = plans_.lock();
    MatMulPlan* found = plans_.get(shapes_key(ctx), [&] { return build_plan(ctx); });
    if (!found) return dnnl_note_fallback(), nn_gemm(ctx);
    MatMulPlan& plan = *found;
    const Tensor& c = ctx.input(2);
    Tensor y(DType::Float32, plan.y_shape);
    execute_matmul(plan, ctx.input(0), ctx.input(1), plan.c_as_bias ? &c : nullptr, y);
    const float alpha = ctx.node.attr_float("alpha", 1.0f);
    const float beta = ctx.node.attr_float("beta", 1.0f);
    if (!plan.c_as_bias) {
      float* out = y.data<float>();
      const float* c_data = c.defined() ? c.data<float>() : nullptr;
      for (int64_t i = 0; i < y.numel(); ++i)
        out[i] = alpha * out[i] + (c_data ? beta * c_data[plan.c_index[i]] : 0.0f);
    }
    ctx.outputs[0] = std::move(y);
  }

 private:
  std::optional<MatMulPlan> build_plan(const KernelContext& ctx) {
    const Node& node = ctx.node;
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const Tensor& c = ctx.input(2);
    if (a.rank() != 2 || b.rank() != 2) return std::nullopt;
    const bool trans_a = node.attr_int("transA", 0) != 0;
    const bool trans_b = node.attr_int("transB", 0) != 0;
    const int64_t m = trans_a ? a.dim(1) : a.dim(0);
    const int64_t k = trans_a ? a.dim(0) : a.dim(1);
    const int64_t n = trans_b ? b.dim(0) : b.dim(1);
    if ((trans_b ? b.dim(1) : b.dim(0)) != k || m == 0 || n == 0 || k == 0) return std::nullopt;

    MatMulPlan plan;
    plan.y_shape = {m, n};
    // A transposed matrix is the same buffer read with swapped strides.
    plan.a_user = trans_a ? dnnl_strided_desc({m, k}, {1, m}) : dnnl_plain_desc({m, k});
    plan.b_user = trans_b ? dnnl_strided_desc({k, n}, {1, k}) : dnnl_plain_desc({k, n});
    plan.dst_user = dnnl_plain_desc({m, n});
    if (c.defined()) {
      const auto shape = broadcast_shapes(c.shape(), plan.y_shape);
      if (!shape || *shape != plan.y_shape || c.rank() > 2) return std::nullopt;
      const bool unit_scales = node.attr_float("alpha", 1.0f) == 1.0f && node.attr_float("beta", 1.0f) == 1.0f;
      if (unit_scales) {
        Shape c2 = c.shape();
        c2.insert(c2.begin(), 2 - c2.size(), 1);
        plan.bias_desc = dnnl_plain_desc(c2);
        plan.c_as_bias = true;
      } else {
        plan.c_index = broadcast_index_map(c.shape(), plan.y_shape);
      }
    }
    if (!build_matmul_primitive(plan, b, constant_b_)) {
      if (!plan.c_as_bias) return std::nullopt;
      // Some bias broadcasts may be unsupported; retry with the epilogue.
      plan.c_as_bias = false;
      plan.bias_desc = dnnl::memory::desc();
      plan.c_index = broadcast_index_map(c.shape(), plan.y_shape);
      if (!build_matmul_primitive(plan, b, constant_b_)) return std::nullopt;
    }
    return plan;
  }
};

}  // namespace

std::unique_ptr<FastKernel> dnnl_make_matmul(const Node& node, const Graph& graph) {
  if (!dnnl_input_may_be_float(node, graph, 0) || !dnnl_input_may_be_float(node, graph, 1)) return nullptr;
  return std::make_unique<DnnlMatMulKernel>(dnnl_input_is_constant(node, graph, 1));
}

std::unique_ptr<FastKernel> dnnl_make_gemm(const Node& node, const Graph& graph) {
  for (size_t i = 0; i < std::min<size_t>(node.inputs.size(), 3); ++i)
    if (!dnnl_input_may_be_float(node, graph, i)) return nullptr;
  return std::make_unique<DnnlGemmKernel>(dnnl_input_is_constant(node, graph, 1));
}

}  // namespace ocs
