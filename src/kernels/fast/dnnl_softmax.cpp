// Softmax and LogSoftmax on oneDNN's softmax_v2 primitive (float32, plain layout). The opsets'
// two meanings of `axis` (kernels/reference/softmax.cpp) both become one axis of a view: opset
// >= 13 normalises along `axis` of the input itself; before, the input is viewed as the 2-D
// [prod(shape[:axis]), prod(shape[axis:])] and each row is normalised. oneDNN subtracts the row
// maximum before exp as the reference does, in float32 (the reference accumulates in double), so
// results differ by float rounding. Inputs holding NaN or an infinity, and axes out of range, run
// the registered reference kernel (its handling of them is the ONNX definition, its errors the
// messages).
#include "kernels/fast/dnnl_common.h"
#include "kernels/fast/plan_cache.h"

#include "core/vector_clones.h"

#include <cmath>
#include <optional>

namespace ocs {

namespace {

OCS_VECTOR_CLONES bool all_finite(const float* x, int64_t n) {
  float sum = 0.0f;  // inf - inf and NaN make the sum NaN; finite values stay finite times 0
  for (int64_t i = 0; i < n; ++i) sum += x[i] * 0.0f;
  return sum == 0.0f;
}

class DnnlSoftmaxKernel final : public FastKernel {
 public:
  DnnlSoftmaxKernel(bool log, ReferenceKernel reference) : log_(log), reference_(reference) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::Float32 || x.numel() == 0 || x.rank() == 0 || !all_finite(x.data<float>(), x.numel()))
      return dnnl_note_fallback(), reference_(ctx);
    const auto lock = plans_.lock();
    Plan* plan = plans_.get(x.shape(), [&] { return build_plan(ctx); });
    if (!plan) return dnnl_note_fallback(), reference_(ctx);
    Tensor y(DType::Float32, x.shape());
    plan->primitive.execute(dnnl_cpu_stream(),
                            {{DNNL_ARG_SRC, dnnl_view(plan->desc, x)}, {DNNL_ARG_DST, dnnl_view(plan->desc, y)}});
    dnnl_cpu_stream().wait();
    ctx.outputs[0] = std::move(y);
  }

 private:
  struct Plan {
    dnnl::softmax_v2_forward primitive;
    dnnl::memory::desc desc;  // the view both tensors are read through
  };

  std::optional<Plan> build_plan(const KernelContext& ctx) const {
    const Shape& shape = ctx.input(0).shape();
    const int64_t rank = static_cast<int64_t>(shape.size());
    Shape view;
    int axis = 0;
    auto normalized = [&](int64_t a) -> std::optional<int64_t> {
      if (a < 0) a += rank;
      return a >= 0 && a < rank ? std::optional<int64_t>(a) : std::nullopt;
    };
    if (ctx.opset < 13) {
      const std::optional<int64_t> at = normalized(ctx.node.attr_int("axis", 1));
      if (!at) return std::nullopt;
      const int64_t coerce = *at;
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < rank; ++d) (d < coerce ? outer : inner) *= shape[d];
      view = {outer, inner};
      axis = 1;
    } else {
      const std::optional<int64_t> at = normalized(ctx.node.attr_int("axis", -1));
      if (!at) return std::nullopt;
      view = shape;
      axis = static_cast<int>(*at);
    }
    if (view.size() > 6) return std::nullopt;
    Plan plan;
    plan.desc = dnnl_plain_desc(view);
    try {
      dnnl::softmax_v2_forward::desc desc(dnnl::prop_kind::forward_inference,
                                          log_ ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate,
                                          plan.desc, plan.desc, axis);
      plan.primitive = dnnl::softmax_v2_forward(dnnl::softmax_v2_forward::primitive_desc(desc, dnnl_cpu_engine()));
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
    return plan;
  }

  const bool log_;
  const ReferenceKernel reference_;
  PlanCache<Shape, Plan> plans_;
};

}  // namespace

std::unique_ptr<FastKernel> dnnl_make_softmax(const Node& node, const Graph&) {
  if (!node.domain.empty() || node.inputs.empty() || (node.op_type != "Softmax" && node.op_type != "LogSoftmax"))
    return nullptr;
  const KernelEntry* entry = KernelRegistry::global().find("", node.op_type);
  if (!entry || !entry->reference) return nullptr;
  return std::make_unique<DnnlSoftmaxKernel>(node.op_type == "LogSoftmax", entry->reference);
}

}  // namespace ocs
