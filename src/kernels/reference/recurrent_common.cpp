#include "kernels/reference/recurrent_common.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace ocs {

// ---- Activation functions ----

double RecurrentActivation::operator()(double x) const {
  using Kind = RecurrentActivationKind;
  switch (kind) {
    case Kind::Relu: return std::max(0.0, x);
    case Kind::Tanh: return std::tanh(x);
    // exp(-x) overflows to +inf for x < -709, which gives the right limit 0.
    case Kind::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Kind::Affine: return alpha * x + beta;
    case Kind::LeakyRelu: return x >= 0.0 ? x : alpha * x;
    case Kind::ThresholdedRelu: return x >= alpha ? x : 0.0;
    case Kind::ScaledTanh: return alpha * std::tanh(beta * x);
    case Kind::HardSigmoid: return std::min(std::max(alpha * x + beta, 0.0), 1.0);
    case Kind::Elu: return x >= 0.0 ? x : alpha * std::expm1(x);
    case Kind::Softsign: return x / (1.0 + std::fabs(x));
    // log(1 + e^x) = x + log(1 + e^-x): the second form never overflows for large x.
    case Kind::Softplus: return x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  OCS_CHECK(false, "unknown activation kind {}", static_cast<int>(kind));
  return 0.0;
}

namespace {

struct ActivationSpec {
  const char* name;  // lower case
  RecurrentActivationKind kind;
  bool takes_alpha;
  bool takes_beta;
  double default_alpha;  // the default of the ONNX operator of the same name
  double default_beta;
};

constexpr ActivationSpec kActivationSpecs[] = {
    {"relu", RecurrentActivationKind::Relu, false, false, 0.0, 0.0},
    {"tanh", RecurrentActivationKind::Tanh, false, false, 0.0, 0.0},
    {"sigmoid", RecurrentActivationKind::Sigmoid, false, false, 0.0, 0.0},
    {"affine", RecurrentActivationKind::Affine, true, true, 1.0, 0.0},
    {"leakyrelu", RecurrentActivationKind::LeakyRelu, true, false, 0.01, 0.0},
    {"thresholdedrelu", RecurrentActivationKind::ThresholdedRelu, true, false, 1.0, 0.0},
    {"scaledtanh", RecurrentActivationKind::ScaledTanh, true, true, 1.0, 1.0},
    {"hardsigmoid", RecurrentActivationKind::HardSigmoid, true, true, 0.2, 0.5},
    {"elu", RecurrentActivationKind::Elu, true, false, 1.0, 0.0},
    {"softsign", RecurrentActivationKind::Softsign, false, false, 0.0, 0.0},
    {"softplus", RecurrentActivationKind::Softplus, false, false, 0.0, 0.0},
};

const ActivationSpec* find_activation(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const ActivationSpec& spec : kActivationSpecs)
    if (lower == spec.name) return &spec;
  return nullptr;
}

std::vector<std::string> attr_strings(const Node& node, const std::string& key) {
  auto it = node.attributes.find(key);
  if (it == node.attributes.end()) return {};
  if (it->second.kind != Attribute::Kind::Strings)
    user_error("{}: attribute '{}' must be a list of strings", node.describe(), key);
  return it->second.strings;
}

}  // namespace

std::vector<std::vector<RecurrentActivation>> recurrent_read_activations(
    const Node& node, const std::vector<std::string>& defaults, int64_t num_directions) {
  const size_t per_direction = defaults.size();
  std::vector<std::string> names = attr_strings(node, "activations");
  if (names.empty()) {
    for (int64_t dir = 0; dir < num_directions; ++dir)
      names.insert(names.end(), defaults.begin(), defaults.end());
  }
  if (names.size() != per_direction * static_cast<size_t>(num_directions) &&
      names.size() != per_direction)
    user_error("{}: 'activations' lists {} functions; expected {} per direction for {} direction(s)",
               node.describe(), names.size(), per_direction, num_directions);

  const std::vector<float> alphas = node.attr_floats("activation_alpha");
  const std::vector<float> betas = node.attr_floats("activation_beta");
  size_t next_alpha = 0;
  size_t next_beta = 0;
  std::vector<RecurrentActivation> flat;
  for (const std::string& name : names) {
    const ActivationSpec* spec = find_activation(name);
    if (!spec)
      user_error("{}: unknown activation '{}'; expected one of Relu, Tanh, Sigmoid, Affine, "
                 "LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus",
                 node.describe(), name);
    RecurrentActivation activation;
    activation.kind = spec->kind;
    activation.alpha = spec->default_alpha;
    activation.beta = spec->default_beta;
    if (spec->takes_alpha && next_alpha < alphas.size()) activation.alpha = alphas[next_alpha++];
    if (spec->takes_beta && next_beta < betas.size()) activation.beta = betas[next_beta++];
    flat.push_back(activation);
  }

  std::vector<std::vector<RecurrentActivation>> by_direction(static_cast<size_t>(num_directions));
  for (int64_t dir = 0; dir < num_directions; ++dir) {
    // One list for both directions: each direction uses it.
    const size_t first = flat.size() == per_direction ? 0 : static_cast<size_t>(dir) * per_direction;
    by_direction[dir].assign(flat.begin() + first, flat.begin() + first + per_direction);
  }
  return by_direction;
}

// ---- Layout ----

int64_t RecurrentShape::x_offset(int64_t t, int64_t b) const {
  return (layout == 0 ? t * batch_size + b : b * seq_length + t) * input_size;
}

int64_t RecurrentShape::y_offset(int64_t t, int64_t dir, int64_t b) const {
  return (layout == 0 ? (t * num_directions + dir) * batch_size + b
                      : (b * seq_length + t) * num_directions + dir) *
         hidden_size;
}

int64_t RecurrentShape::state_offset(int64_t dir, int64_t b) const {
  return (layout == 0 ? dir * batch_size + b : b * num_directions + dir) * hidden_size;
}

Shape RecurrentShape::y_shape() const {
  return layout == 0 ? Shape{seq_length, num_directions, batch_size, hidden_size}
                     : Shape{batch_size, seq_length, num_directions, hidden_size};
}

Shape RecurrentShape::state_shape() const {
  return layout == 0 ? Shape{num_directions, batch_size, hidden_size}
                     : Shape{batch_size, num_directions, hidden_size};
}

// ---- Weights ----

double RecurrentWeights::input_term(int64_t gate, int64_t unit, const double* x) const {
  const int64_t row = gate * hidden_size + unit;
  const double* w = W + row * input_size;
  double sum = Wb[row];
  for (int64_t k = 0; k < input_size; ++k) sum += w[k] * x[k];
  return sum;
}

double RecurrentWeights::recurrent_term(int64_t gate, int64_t unit, const double* h) const {
  const int64_t row = gate * hidden_size + unit;
  const double* r = R + row * hidden_size;
  double sum = Rb[row];
  for (int64_t k = 0; k < hidden_size; ++k) sum += r[k] * h[k];
  return sum;
}

RecurrentWeights RecurrentInputs::weights(int64_t dir) const {
  const int64_t H = shape.hidden_size;
  const int64_t rows = gate_count * H;
  RecurrentWeights w;
  w.W = W.data() + dir * rows * shape.input_size;
  w.R = R.data() + dir * rows * H;
  w.Wb = B.data() + dir * 2 * rows;
  w.Rb = w.Wb + rows;
  w.input_size = shape.input_size;
  w.hidden_size = H;
  return w;
}

double RecurrentInputs::clipped(double x) const {
  if (!clip) return x;
  return std::min(std::max(x, -*clip), *clip);
}

// ---- Input validation ----

static void check_shape(const KernelContext& ctx, const Tensor& t, const char* name,
                        const Shape& expected) {
  if (t.shape() != expected)
    user_error("{}: input {} has shape {}; expected {}", ctx.node.describe(), name,
               shape_str(t.shape()), shape_str(expected));
}

static void check_dtype(const KernelContext& ctx, const Tensor& t, const char* name, DType dtype) {
  if (t.dtype() != dtype)
    user_error("{}: input {} is {} but X is {}; they must match", ctx.node.describe(), name,
               dtype_name(t.dtype()), dtype_name(dtype));
}

RecurrentInputs recurrent_read_inputs(const KernelContext& ctx, int64_t gate_count) {
  const Node& node = ctx.node;
  if (!ctx.has_input(0) || !ctx.has_input(1) || !ctx.has_input(2))
    user_error("{} needs inputs X, W and R", node.describe());
  const Tensor& X = ctx.input(0);
  const Tensor& W = ctx.input(1);
  const Tensor& R = ctx.input(2);

  RecurrentInputs in;
  in.gate_count = gate_count;
  in.dtype = X.dtype();
  if (in.dtype != DType::Float32 && in.dtype != DType::Float64)
    user_error("{}: X is {}; only float32 and float64 are supported", node.describe(),
               dtype_name(in.dtype));
  check_dtype(ctx, W, "W", in.dtype);
  check_dtype(ctx, R, "R", in.dtype);

  const std::string direction = node.attr_string("direction", "forward");
  if (direction == "forward") {
    in.directions = {RecurrentDirection::Forward};
  } else if (direction == "reverse") {
    in.directions = {RecurrentDirection::Reverse};
  } else if (direction == "bidirectional") {
    in.directions = {RecurrentDirection::Forward, RecurrentDirection::Reverse};
  } else {
    user_error("{}: direction '{}' must be forward, reverse or bidirectional", node.describe(),
               direction);
  }

  RecurrentShape& s = in.shape;
  s.num_directions = static_cast<int64_t>(in.directions.size());
  s.layout = node.attr_int("layout", 0);
  if (s.layout != 0 && s.layout != 1)
    user_error("{}: layout {} must be 0 or 1", node.describe(), s.layout);
  if (X.rank() != 3)
    user_error("{}: X has shape {}; expected rank 3", node.describe(), shape_str(X.shape()));
  s.seq_length = s.layout == 0 ? X.dim(0) : X.dim(1);
  s.batch_size = s.layout == 0 ? X.dim(1) : X.dim(0);
  s.input_size = X.dim(2);
  if (R.rank() != 3)
    user_error("{}: R has shape {}; expected rank 3", node.describe(), shape_str(R.shape()));
  s.hidden_size = node.attr_int("hidden_size", R.dim(2));
  if (s.hidden_size <= 0)
    user_error("{}: hidden_size {} must be positive", node.describe(), s.hidden_size);

  const int64_t D = s.num_directions;
  const int64_t H = s.hidden_size;
  check_shape(ctx, W, "W", {D, gate_count * H, s.input_size});
  check_shape(ctx, R, "R", {D, gate_count * H, H});
  in.X = X.to_double_vector();
  in.W = W.to_double_vector();
  in.R = R.to_double_vector();

  if (ctx.has_input(3)) {
    check_dtype(ctx, ctx.input(3), "B", in.dtype);
    check_shape(ctx, ctx.input(3), "B", {D, 2 * gate_count * H});
    in.B = ctx.input(3).to_double_vector();
  } else {
    in.B.assign(static_cast<size_t>(D * 2 * gate_count * H), 0.0);
  }

  if (ctx.has_input(4)) {
    const Tensor& lens = ctx.input(4);
    if (lens.dtype() != DType::Int32 && lens.dtype() != DType::Int64)
      user_error("{}: sequence_lens is {}; expected int32", node.describe(),
                 dtype_name(lens.dtype()));
    check_shape(ctx, lens, "sequence_lens", {s.batch_size});
    in.sequence_lens = lens.to_int64_vector();
    for (int64_t length : in.sequence_lens)
      if (length < 0 || length > s.seq_length)
        user_error("{}: sequence_lens holds {}; each length must be in [0, {}]", node.describe(),
                   length, s.seq_length);
  } else {
    in.sequence_lens.assign(static_cast<size_t>(s.batch_size), s.seq_length);
  }

  in.initial_h = recurrent_read_state(ctx, 5, "initial_h", in);

  if (node.has_attr("clip")) {
    const double clip = node.attr_float("clip", 0.0f);
    if (!(clip > 0.0))
      user_error("{}: clip {} must be positive", node.describe(), clip);
    in.clip = clip;
  }
  return in;
}

std::vector<double> recurrent_read_state(const KernelContext& ctx, size_t index, const char* name,
                                         const RecurrentInputs& in) {
  const Shape shape = in.shape.state_shape();
  if (!ctx.has_input(index)) return std::vector<double>(static_cast<size_t>(shape_numel(shape)), 0.0);
  check_dtype(ctx, ctx.input(index), name, in.dtype);
  check_shape(ctx, ctx.input(index), name, shape);
  return ctx.input(index).to_double_vector();
}

void recurrent_write_output(KernelContext& ctx, size_t index, DType dtype, Shape shape,
                            const std::vector<double>& values) {
  if (index >= ctx.num_outputs()) return;
  ctx.outputs[index] = tensor_cast(Tensor::from_vector<double>(std::move(shape), values), dtype);
}

}  // namespace ocs
