// The normalizations of the nn family: BatchNormalization, InstanceNormalization,
// LayerNormalization, LRN (LpNormalization and MeanVarianceNormalization: lp_mvn_normalization.cpp).
// Statistics are computed in double: a float sum of many squares loses digits that the
// reference is meant to keep. Variances are population (biased) variances, as ONNX specifies.
#include "kernels/reference/broadcast.h"
#include "kernels/reference/nn_common.h"

#include <cmath>

namespace ocs {

namespace {

[[noreturn]] void unsupported_dtype(const Node& node, DType dtype) {
  user_error("{}: element type {} is not supported (float32 and float64 are)", node.describe(),
             dtype_name(dtype));
}

// Calls fn(T{}) for the floating types the normalization ops accept.
template <typename Fn>
void dispatch_float(const Node& node, DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: fn(float{}); break;
    case DType::Float64: fn(double{}); break;
    default: unsupported_dtype(node, dtype);
  }
}

Tensor tensor_from_doubles(DType dtype, const Shape& shape, const std::vector<double>& values) {
  Tensor t(dtype, shape);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* out = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<T>(values[i]);
  });
  return t;
}

}  // namespace

// BatchNormalization, inference:  Y = scale * (X - mean) / sqrt(var + epsilon) + B per channel.
// Training (opset >= 14, training_mode=1): mean and var are the batch statistics over N and the
// spatial axes; outputs 1 and 2 are the running statistics
//   running = input_statistic * momentum + batch_statistic * (1 - momentum).
// Opsets < 9 with spatial=0 carry one statistic per (channel, spatial position).
void nn_batch_normalization(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) user_error("{}: input must have rank >= 2, got {}", node.describe(), shape_str(x.shape()));
  dispatch_float(node, x.dtype(), [](auto) {});  // rejects non-float inputs
  for (size_t i = 1; i < 5; ++i)
    if (!ctx.has_input(i)) user_error("{}: needs 5 inputs (X, scale, B, mean, var)", node.describe());
  const double epsilon = node.attr_float("epsilon", 1e-5f);
  const double momentum = node.attr_float("momentum", 0.9f);
  const bool training = ctx.opset >= 14 && node.attr_int("training_mode", 0) != 0;
  const int64_t batch = x.dim(0);
  const int64_t channels = x.dim(1);
  const int64_t spatial = batch * channels == 0 ? 0 : x.numel() / (batch * channels);

  // Parameters are per channel, or per (channel, spatial position) for the old spatial=0 form.
  const int64_t param_count = ctx.input(1).numel();
  if (param_count != channels && param_count != channels * spatial)
    user_error("{}: scale {} must have {} entries", node.describe(), shape_str(ctx.input(1).shape()), channels);
  for (size_t i = 2; i < 5; ++i)
    if (ctx.input(i).numel() != param_count)
      user_error("{}: scale, B, mean and var must have the same size", node.describe());
  const int64_t params_per_plane = param_count / channels;  // 1 or spatial
  const std::vector<double> scale = ctx.input(1).to_double_vector();
  const std::vector<double> bias = ctx.input(2).to_double_vector();
  std::vector<double> mean = ctx.input(3).to_double_vector();
  std::vector<double> var = ctx.input(4).to_double_vector();
  const std::vector<double> x_values = x.to_double_vector();

  std::vector<double> running_mean, running_var;
  if (training) {
    if (params_per_plane != 1) user_error("{}: training mode needs per-channel statistics", node.describe());
    std::vector<double> batch_mean(static_cast<size_t>(channels), 0.0), batch_var(batch_mean);
    const double count = static_cast<double>(batch * spatial);
    for (int64_t c = 0; c < channels; ++c) {
      double sum = 0.0;
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t i = 0; i < spatial; ++i) sum += x_values[(n * channels + c) * spatial + i];
      batch_mean[c] = sum / count;
      double squares = 0.0;
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t i = 0; i < spatial; ++i) {
          const double d = x_values[(n * channels + c) * spatial + i] - batch_mean[c];
          squares += d * d;
        }
      batch_var[c] = squares / count;
      running_mean.push_back(mean[c] * momentum + batch_mean[c] * (1.0 - momentum));
      running_var.push_back(var[c] * momentum + batch_var[c] * (1.0 - momentum));
    }
    mean = batch_mean;
    var = batch_var;
  }

  std::vector<double> y_values(x_values.size());
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < spatial; ++i) {
        const int64_t p = params_per_plane == 1 ? c : c * spatial + i;
        const int64_t index = (n * channels + c) * spatial + i;
        y_values[index] = scale[p] * (x_values[index] - mean[p]) / std::sqrt(var[p] + epsilon) + bias[p];
      }
  ctx.outputs[0] = tensor_from_doubles(x.dtype(), x.shape(), y_values);
  if (training) {
    const Shape stat_shape{channels};
    if (ctx.num_outputs() > 1) ctx.outputs[1] = tensor_from_doubles(ctx.input(3).dtype(), stat_shape, running_mean);
    if (ctx.num_outputs() > 2) ctx.outputs[2] = tensor_from_doubles(ctx.input(4).dtype(), stat_shape, running_var);
  }
}

// InstanceNormalization: each (n, c) plane is normalized by its own mean and variance, then
// scaled and shifted per channel: Y = scale[c] * (X - mean) / sqrt(var + epsilon) + B[c].
void nn_instance_normalization(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) user_error("{}: input must have rank >= 3, got {}", node.describe(), shape_str(x.shape()));
  const int64_t channels = x.dim(1);
  if (ctx.input(1).numel() != channels || ctx.input(2).numel() != channels)
    user_error("{}: scale and B must have {} entries", node.describe(), channels);
  dispatch_float(node, x.dtype(), [](auto) {});
  const double epsilon = node.attr_float("epsilon", 1e-5f);
  const std::vector<double> scale = ctx.input(1).to_double_vector();
  const std::vector<double> bias = ctx.input(2).to_double_vector();
  const std::vector<double> x_values = x.to_double_vector();
  const int64_t planes = x.dim(0) * channels;
  const int64_t plane_size = planes == 0 ? 0 : x.numel() / planes;
  std::vector<double> y_values(x_values.size());
  for (int64_t plane = 0; plane < planes; ++plane) {
    const int64_t c = plane % channels;
    const double* in = x_values.data() + plane * plane_size;
    double sum = 0.0;
    for (int64_t i = 0; i < plane_size; ++i) sum += in[i];
    const double mean = sum / static_cast<double>(plane_size);
    double squares = 0.0;
    for (int64_t i = 0; i < plane_size; ++i) squares += (in[i] - mean) * (in[i] - mean);
    const double inv_std = 1.0 / std::sqrt(squares / static_cast<double>(plane_size) + epsilon);
    for (int64_t i = 0; i < plane_size; ++i)
      y_values[plane * plane_size + i] = scale[c] * (in[i] - mean) * inv_std + bias[c];
  }
  ctx.outputs[0] = tensor_from_doubles(x.dtype(), x.shape(), y_values);
}

// LayerNormalization (opset 17): X is viewed as [outer, inner] with inner = prod(shape[axis:]);
// each row is normalized, then Y = normalized * Scale + B with Scale and B broadcast to X.
// Optional outputs Mean and InvStdDev (float32, shape[:axis] followed by ones) hold the row
// statistics.
void nn_layer_normalization(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor& b = ctx.input(2);
  dispatch_float(node, x.dtype(), [](auto) {});
  const int64_t rank = x.rank();
  int64_t axis = node.attr_int("axis", -1);
  if (axis < -rank || axis >= rank)
    user_error("{}: axis {} is out of range for rank {}", node.describe(), axis, rank);
  if (axis < 0) axis += rank;
  const double epsilon = node.attr_float("epsilon", 1e-5f);
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  const int64_t inner = outer == 0 ? 0 : x.numel() / outer;

  auto broadcast_param = [&](const Tensor& param, const char* name) {
    std::vector<double> values(static_cast<size_t>(x.numel()), name[0] == 'S' ? 1.0 : 0.0);
    if (!param.defined()) return values;
    const auto shape = broadcast_shapes(param.shape(), x.shape());
    if (!shape || *shape != x.shape())
      user_error("{}: {} {} does not broadcast to X {}", node.describe(), name, shape_str(param.shape()),
                 shape_str(x.shape()));
    const std::vector<double> p = param.to_double_vector();
    broadcast_for_each(param.shape(), x.shape(), [&](int64_t o, int64_t i) { values[o] = p[i]; });
    return values;
  };
  const std::vector<double> scale_values = broadcast_param(scale, "Scale");
  const std::vector<double> bias_values = broadcast_param(b, "B");
  const std::vector<double> x_values = x.to_double_vector();

  std::vector<double> y_values(x_values.size()), means(static_cast<size_t>(outer)), inv_stds(means);
  for (int64_t row = 0; row < outer; ++row) {
    const double* in = x_values.data() + row * inner;
    double sum = 0.0;
    for (int64_t i = 0; i < inner; ++i) sum += in[i];
    const double mean = sum / static_cast<double>(inner);
    double squares = 0.0;
    for (int64_t i = 0; i < inner; ++i) squares += (in[i] - mean) * (in[i] - mean);
    const double inv_std = 1.0 / std::sqrt(squares / static_cast<double>(inner) + epsilon);
    means[row] = mean;
    inv_stds[row] = inv_std;
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t index = row * inner + i;
      y_values[index] = (in[i] - mean) * inv_std * scale_values[index] + bias_values[index];
    }
  }
  ctx.outputs[0] = tensor_from_doubles(x.dtype(), x.shape(), y_values);
  Shape stat_shape(x.shape().begin(), x.shape().begin() + axis);
  stat_shape.resize(static_cast<size_t>(rank), 1);
  if (ctx.num_outputs() > 1) ctx.outputs[1] = tensor_from_doubles(DType::Float32, stat_shape, means);
  if (ctx.num_outputs() > 2) ctx.outputs[2] = tensor_from_doubles(DType::Float32, stat_shape, inv_stds);
}

// LRN across channels:
//   square_sum[n, c, ...] = sum of X[n, c', ...]^2 for c' in [c - floor((size-1)/2), c + ceil((size-1)/2)]
//   Y = X / (bias + alpha / size * square_sum)^beta
void nn_lrn(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) user_error("{}: input must have rank >= 2", node.describe());
  dispatch_float(node, x.dtype(), [](auto) {});
  const int64_t size = node.attr("size").i;
  if (size < 1) user_error("{}: size must be positive", node.describe());
  const double alpha = node.attr_float("alpha", 1e-4f);
  const double beta = node.attr_float("beta", 0.75f);
  const double bias = node.attr_float("bias", 1.0f);
  const int64_t batch = x.dim(0);
  const int64_t channels = x.dim(1);
  const int64_t spatial = batch * channels == 0 ? 0 : x.numel() / (batch * channels);
  const int64_t reach_down = (size - 1) / 2;
  const int64_t reach_up = size - 1 - reach_down;
  const std::vector<double> x_values = x.to_double_vector();
  std::vector<double> y_values(x_values.size());
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t i = 0; i < spatial; ++i) {
        double square_sum = 0.0;
        const int64_t c_first = std::max<int64_t>(0, c - reach_down);
        const int64_t c_last = std::min<int64_t>(channels - 1, c + reach_up);
        for (int64_t c2 = c_first; c2 <= c_last; ++c2) {
          const double v = x_values[(n * channels + c2) * spatial + i];
          square_sum += v * v;
        }
        const int64_t index = (n * channels + c) * spatial + i;
        y_values[index] = x_values[index] / std::pow(bias + alpha / static_cast<double>(size) * square_sum, beta);
      }
  ctx.outputs[0] = tensor_from_doubles(x.dtype(), x.shape(), y_values);
}

}  // namespace ocs
