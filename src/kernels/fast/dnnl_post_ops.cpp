#include "kernels/fast/dnnl_post_ops.h"

namespace ocs {

dnnl::algorithm dnnl_eltwise_algorithm(EltwiseOp::Kind kind) {
  switch (kind) {
    case EltwiseOp::Kind::Relu:
    case EltwiseOp::Kind::LeakyRelu: return dnnl::algorithm::eltwise_relu;
    case EltwiseOp::Kind::Clip: return dnnl::algorithm::eltwise_clip_v2;
    case EltwiseOp::Kind::Sigmoid: return dnnl::algorithm::eltwise_logistic;
    case EltwiseOp::Kind::Tanh: return dnnl::algorithm::eltwise_tanh;
    case EltwiseOp::Kind::HardSwish: return dnnl::algorithm::eltwise_hardswish;
    case EltwiseOp::Kind::Linear: return dnnl::algorithm::eltwise_linear;
  }
  return dnnl::algorithm::eltwise_relu;
}

float dnnl_eltwise_alpha(const EltwiseOp& op) { return op.kind == EltwiseOp::Kind::Relu ? 0.0f : op.alpha; }

DnnlPostOp dnnl_post_op(const EltwiseOp& op) {
  DnnlPostOp made;
  made.algorithm = dnnl_eltwise_algorithm(op.kind);
  made.alpha = dnnl_eltwise_alpha(op);
  made.beta = op.beta;
  return made;
}

std::vector<DnnlPostOp> dnnl_post_ops_from(const std::vector<PostOp>& chain) {
  std::vector<DnnlPostOp> ops;
  for (const PostOp& p : chain) {
    DnnlPostOp op = p.sum ? DnnlPostOp{} : dnnl_post_op(p.eltwise);
    op.sum = p.sum;
    ops.push_back(op);
  }
  return ops;
}

void dnnl_push_merged(std::vector<DnnlPostOp>& ops, const DnnlPostOp& op) {
  const auto linear = dnnl::algorithm::eltwise_linear;
  if (!ops.empty() && !op.sum && !ops.back().sum && op.algorithm == linear && ops.back().algorithm == linear &&
      op.scale == 1.0f && ops.back().scale == 1.0f) {
    ops.back().beta = op.alpha * ops.back().beta + op.beta;
    ops.back().alpha *= op.alpha;
    return;
  }
  ops.push_back(op);
}

void dnnl_push_round_trip(std::vector<DnnlPostOp>& ops, float scale, int32_t zero_point, DType type) {
  const float q_min = type == DType::UInt8 ? 0.0f : -128.0f, q_max = type == DType::UInt8 ? 255.0f : 127.0f;
  const float zero = static_cast<float>(zero_point);
  ops.push_back(dnnl_post_op(EltwiseOp{EltwiseOp::Kind::Clip, q_min - zero, q_max - zero}));
  DnnlPostOp round;
  round.algorithm = dnnl::algorithm::eltwise_round;  // half to even in the default rounding mode
  round.scale = scale;
  ops.push_back(round);
}

bool dnnl_repeats_an_algorithm(const std::vector<DnnlPostOp>& ops) {
  for (size_t i = 0; i < ops.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (!ops[i].sum && !ops[j].sum && ops[i].algorithm == ops[j].algorithm) return true;
  return false;
}

dnnl::post_ops dnnl_post_ops_of(const std::vector<DnnlPostOp>& ops) {
  dnnl::post_ops made;
  for (const DnnlPostOp& op : ops) {
    if (op.sum) made.append_sum(op.scale);
    else made.append_eltwise(op.scale, op.algorithm, op.alpha, op.beta);
  }
  return made;
}

}  // namespace ocs
