#include "random_graph.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

namespace ocs::fuzz {

namespace {

using ocs::testing::node;

constexpr int64_t kMaxElements = 16384;  // keeps one execution in the milliseconds

// Output length of a sliding window along one axis (Conv, pools); 0 when there is no window.
int64_t window_out(int64_t in, int64_t pad_sum, int64_t kernel, int64_t stride, int64_t dilation,
                   bool ceil_mode = false) {
  const int64_t span = dilation * (kernel - 1) + 1;
  if (in + pad_sum < span) return 0;
  const int64_t room = in + pad_sum - span;
  int64_t out = (ceil_mode ? (room + stride - 1) / stride : room / stride) + 1;
  // ONNX (and PyTorch): with ceil_mode the last window must start inside the input or the
  // left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad_sum - pad_sum / 2) --out;
  return out;
}

// Empty and repeated node names (legal in ONNX) are always drawn since import names every node
// (ir/node_names.h). OCS_FUZZ_NAN=1 draws Sqrt, whose negative inputs give NaN: off by default,
// as NaN through the fast kernels has had no campaign yet (docs/FUZZING.md, finding 5).
bool vary_node_names() { return true; }

bool draw_nan() {
  static const bool on = std::getenv("OCS_FUZZ_NAN") != nullptr;
  return on;
}

}  // namespace

const std::vector<GraphBuilder::OpChoice>& GraphBuilder::choices() {
  static const std::vector<OpChoice> all = {
      {"Conv", 4, &GraphBuilder::conv},
      {"ConvTranspose", 4, &GraphBuilder::conv_transpose},
      {"MaxPool", 4, &GraphBuilder::max_pool},
      {"AveragePool", 4, &GraphBuilder::average_pool},
      {"GlobalAveragePool", 4, &GraphBuilder::global_average_pool},
      {"BatchNormalization", 0, &GraphBuilder::batch_norm},
      {"Relu", 0, &GraphBuilder::unary},  // unary() draws among the element-wise ops
      {"Add", 0, &GraphBuilder::binary},  // binary() draws among the broadcasting ops
      {"Softmax", 0, &GraphBuilder::softmax},
      {"Transpose", 0, &GraphBuilder::transpose},
      {"Flatten", 0, &GraphBuilder::flatten},
      {"Gemm", 2, &GraphBuilder::gemm},
      {"MatMul", 0, &GraphBuilder::matmul},
  };
  return all;
}

std::string GraphBuilder::constant(const Shape& shape, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
  for (float& v : values) v = d(rng_);
  const std::string name = fresh("c");
  tensor_to_proto(Tensor::from_vector<float>(shape, values), name, model_.mutable_graph()->add_initializer());
  return name;
}

onnx::NodeProto& GraphBuilder::add_node(const std::string& op, std::vector<std::string> inputs) {
  // Empty and repeated node names (above).
  const int naming = vary_node_names() ? static_cast<int>(pick(0, 3)) : 2;
  const std::string name = naming == 0 ? "" : naming == 1 ? "same" : fresh(op + "_");
  auto* n = model_.mutable_graph()->add_node();
  *n = node(op, std::move(inputs), {fresh("v")}, name);
  current_ = n->output(0);
  return *n;
}

void GraphBuilder::ints(onnx::NodeProto& n, const std::string& key, std::vector<int64_t> values) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void GraphBuilder::integer(onnx::NodeProto& n, const std::string& key, int64_t value) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void GraphBuilder::real(onnx::NodeProto& n, const std::string& key, float value) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

bool GraphBuilder::conv() {
  const int64_t c = shape_[1];
  std::vector<int64_t> divisors;
  for (int64_t g = 1; g <= c; ++g)
    if (c % g == 0) divisors.push_back(g);
  const int64_t group = divisors[static_cast<size_t>(pick(0, static_cast<int64_t>(divisors.size()) - 1))];
  const int64_t cout = group * pick(1, 3);
  const int64_t kh = pick(1, 3), kw = pick(1, 3), stride = pick(1, 2), dilation = pick(1, 2);
  const std::vector<int64_t> pads = {pick(0, 1), pick(0, 2), pick(0, 1), pick(0, 2)};
  const int64_t h = window_out(shape_[2], pads[0] + pads[2], kh, stride, dilation);
  const int64_t w = window_out(shape_[3], pads[1] + pads[3], kw, stride, dilation);
  if (h < 1 || w < 1 || shape_[0] * cout * h * w > kMaxElements) return false;
  std::vector<std::string> inputs = {current_, constant({cout, c / group, kh, kw}, -1, 1)};
  if (fdp_.ConsumeBool()) inputs.push_back(constant({cout}, -1, 1));
  auto& n = add_node("Conv", inputs);
  ints(n, "kernel_shape", {kh, kw});
  ints(n, "strides", {stride, stride});
  ints(n, "dilations", {dilation, dilation});
  ints(n, "pads", pads);
  integer(n, "group", group);
  shape_ = {shape_[0], cout, h, w};
  return true;
}

bool GraphBuilder::conv_transpose() {
  const int64_t c = shape_[1], cout = pick(1, 6);
  const int64_t k = pick(1, 3), stride = pick(1, 2), pad = pick(0, 1);
  const int64_t out_pad = stride > 1 ? pick(0, stride - 1) : 0;
  const int64_t h = stride * (shape_[2] - 1) + out_pad + k - 2 * pad;
  const int64_t w = stride * (shape_[3] - 1) + out_pad + k - 2 * pad;
  if (h < 1 || w < 1 || shape_[0] * cout * h * w > kMaxElements) return false;
  auto& n = add_node("ConvTranspose", {current_, constant({c, cout, k, k}, -1, 1)});
  ints(n, "kernel_shape", {k, k});
  ints(n, "strides", {stride, stride});
  ints(n, "pads", {pad, pad, pad, pad});
  ints(n, "output_padding", {out_pad, out_pad});
  shape_ = {shape_[0], cout, h, w};
  return true;
}

bool GraphBuilder::pool(const char* op) {
  const int64_t k = pick(1, 3), stride = pick(1, 2);
  const int64_t pad = pick(0, k - 1);  // ONNX: padding smaller than the kernel
  const bool ceil_mode = fdp_.ConsumeBool();
  const int64_t h = window_out(shape_[2], 2 * pad, k, stride, 1, ceil_mode);
  const int64_t w = window_out(shape_[3], 2 * pad, k, stride, 1, ceil_mode);
  if (h < 1 || w < 1) return false;
  auto& n = add_node(op, {current_});
  ints(n, "kernel_shape", {k, k});
  ints(n, "strides", {stride, stride});
  ints(n, "pads", {pad, pad, pad, pad});
  integer(n, "ceil_mode", ceil_mode);
  if (std::string(op) == "AveragePool") integer(n, "count_include_pad", fdp_.ConsumeBool());
  shape_ = {shape_[0], shape_[1], h, w};
  return true;
}

bool GraphBuilder::global_average_pool() {
  add_node("GlobalAveragePool", {current_});
  shape_ = {shape_[0], shape_[1], 1, 1};
  return true;
}

bool GraphBuilder::batch_norm() {
  if (shape_.size() < 2) return false;
  const int64_t c = shape_[1];
  auto& n = add_node("BatchNormalization", {current_, constant({c}, -2, 2), constant({c}, -1, 1),
                                             constant({c}, -1, 1), constant({c}, 0.1f, 2)});
  real(n, "epsilon", fdp_.PickValueInArray({1e-5f, 1e-3f}));
  return true;
}

bool GraphBuilder::unary() {
  static const char* const kOps[] = {"Relu", "Sigmoid", "Tanh", "Abs", "Neg", "LeakyRelu", "Elu",
                                     "HardSigmoid", "HardSwish", "Softplus", "Clip", "Exp", "Sqrt",
                                     "Selu", "Softsign", "Erf", "Floor", "Identity"};
  const std::string op = fdp_.PickValueInArray(kOps);
  if (!KernelRegistry::global().find("", op) || (op == "Sqrt" && !draw_nan())) return false;
  std::vector<std::string> inputs = {current_};
  if (op == "Clip") {
    const float lo = static_cast<float>(pick(-20, 0)) / 10, hi = static_cast<float>(pick(0, 20)) / 10;
    inputs.push_back(constant({}, lo, lo));
    inputs.push_back(constant({}, hi, hi));
  }
  auto& n = add_node(op, inputs);
  if (op == "LeakyRelu" || op == "Elu") real(n, "alpha", static_cast<float>(pick(1, 30)) / 10);
  if (op == "HardSigmoid") real(n, "alpha", static_cast<float>(pick(1, 5)) / 10);
  return true;
}

bool GraphBuilder::binary() {
  static const char* const kOps[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "PRelu"};
  const std::string op = fdp_.PickValueInArray(kOps);
  if (!KernelRegistry::global().find("", op)) return false;
  // The constant operand broadcasts: the full shape, one value per channel, the last axis, or
  // a scalar.
  Shape other;
  switch (pick(0, 3)) {
    case 0: other = shape_; break;
    case 1: other = shape_.size() == 4 ? Shape{shape_[1], 1, 1} : Shape{shape_.back()}; break;
    case 2: other = {shape_.back()}; break;
    default: other = {}; break;
  }
  // Divisors stay away from 0; PRelu's slope must broadcast to the input (it is second).
  const std::string c = op == "Div" ? constant(other, 0.5f, 2) : constant(other, -1, 1);
  const bool constant_first = op != "PRelu" && op != "Div" && fdp_.ConsumeBool();
  add_node(op, constant_first ? std::vector<std::string>{c, current_} : std::vector<std::string>{current_, c});
  return true;
}

bool GraphBuilder::softmax() {
  const int64_t rank = static_cast<int64_t>(shape_.size());
  auto& n = add_node(fdp_.ConsumeBool() ? "Softmax" : "LogSoftmax", {current_});
  integer(n, "axis", pick(-rank, rank - 1));
  return true;
}

bool GraphBuilder::transpose() {
  std::vector<int64_t> perm(shape_.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng_);
  auto& n = add_node("Transpose", {current_});
  ints(n, "perm", perm);
  Shape out;
  for (int64_t p : perm) out.push_back(shape_[static_cast<size_t>(p)]);
  shape_ = out;
  return true;
}

bool GraphBuilder::flatten() {
  const int64_t axis = pick(0, static_cast<int64_t>(shape_.size()));
  auto& n = add_node("Flatten", {current_});
  integer(n, "axis", axis);
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < shape_.size(); ++i) (static_cast<int64_t>(i) < axis ? outer : inner) *= shape_[i];
  shape_ = {outer, inner};
  return true;
}

bool GraphBuilder::gemm() {
  const int64_t k = shape_[1], n_out = pick(1, 12);
  const bool trans_b = fdp_.ConsumeBool();
  if (shape_[0] * n_out > kMaxElements) return false;
  std::vector<std::string> inputs = {current_, constant(trans_b ? Shape{n_out, k} : Shape{k, n_out}, -1, 1)};
  if (fdp_.ConsumeBool()) inputs.push_back(constant({n_out}, -1, 1));
  auto& n = add_node("Gemm", inputs);
  integer(n, "transB", trans_b);
  if (fdp_.ConsumeBool()) real(n, "alpha", static_cast<float>(pick(1, 20)) / 10);
  if (inputs.size() == 3 && fdp_.ConsumeBool()) real(n, "beta", static_cast<float>(pick(0, 20)) / 10);
  shape_ = {shape_[0], n_out};
  return true;
}

bool GraphBuilder::matmul() {
  if (shape_.size() < 2) return false;
  const int64_t k = shape_.back(), n_out = pick(1, 12);
  if (shape_numel(shape_) / k * n_out > kMaxElements) return false;
  add_node("MatMul", {current_, constant({k, n_out}, -1, 1)});
  shape_.back() = n_out;
  return true;
}

RandomModel GraphBuilder::build() {
  if (fdp_.ConsumeBool())
    shape_ = {pick(1, 2), pick(1, 4), pick(1, 8), pick(1, 8)};
  else
    shape_ = {pick(1, 4), pick(1, 16)};
  const Shape input_shape = shape_;
  auto* g = model_.mutable_graph();
  *g->add_input() = ocs::testing::value_info("x", input_shape);
  const int64_t steps = pick(1, 6);
  for (int64_t s = 0; s < steps && fdp_.remaining_bytes() > 0; ++s) {
    std::vector<const OpChoice*> usable;
    for (const auto& c : choices())
      if ((c.rank == 0 || c.rank == static_cast<int>(shape_.size())) && KernelRegistry::global().find("", c.op))
        usable.push_back(&c);
    const OpChoice* choice = usable[static_cast<size_t>(pick(0, static_cast<int64_t>(usable.size()) - 1))];
    (this->*choice->step)();
  }
  if (g->node_size() == 0) add_node("Relu", {current_});
  // The output's type only: its shape is for import to infer, not for this builder to assert.
  auto* out = g->add_output();
  out->set_name(current_);
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);

  std::uniform_real_distribution<float> d(-2, 2);
  std::vector<float> x(static_cast<size_t>(shape_numel(input_shape)));
  for (float& v : x) v = d(rng_);
  return {model_, Tensor::from_vector<float>(input_shape, x)};
}

}  // namespace ocs::fuzz
