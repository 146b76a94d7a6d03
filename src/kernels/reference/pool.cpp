// Pooling: MaxPool, AveragePool, LpPool and their Global variants. Each output element reduces
// one window of its (n, c) plane: taps k in [0, kernel) at input positions
// out * stride - pad_begin + k * dilation. Taps that land in the padding are skipped (MaxPool,
// LpPool) or, for AveragePool with count_include_pad=1, only counted in the divisor.
#include "kernels/reference/nn_common.h"

#include <cmath>
#include <limits>

namespace ocs {

namespace {

// The taps of one window that land inside the input, per axis as a range [k_begin, k_end).
struct WindowTaps {
  std::array<int64_t, 3> origin{};   // input position of tap 0 (may be negative)
  std::array<int64_t, 3> k_begin{};
  std::array<int64_t, 3> k_end{};
  int64_t padded_count = 1;           // taps inside input + explicit padding
  int64_t valid_count() const {
    int64_t count = 1;
    for (size_t a = 0; a < 3; ++a) count *= std::max<int64_t>(0, k_end[a] - k_begin[a]);
    return count;
  }
};

int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

WindowTaps window_taps(const Window3d& win, const std::array<int64_t, 3>& out) {
  WindowTaps t;
  for (size_t a = 0; a < 3; ++a) {
    const int64_t origin = out[a] * win.stride[a] - win.pad_begin[a];
    const int64_t d = win.dilation[a];
    t.origin[a] = origin;
    // First tap at or after position 0, first tap at or after position `input`.
    t.k_begin[a] = std::max<int64_t>(0, ceil_div(-origin, d));
    t.k_end[a] = std::min<int64_t>(win.kernel[a], ceil_div(win.input[a] - origin, d));
    const int64_t padded_begin = std::max<int64_t>(0, ceil_div(-win.pad_begin[a] - origin, d));
    const int64_t padded_end =
        std::min<int64_t>(win.kernel[a], ceil_div(win.input[a] + win.pad_end[a] - origin, d));
    t.padded_count *= std::max<int64_t>(0, padded_end - padded_begin);
  }
  return t;
}

// Calls visit(in_z, in_y, in_x) for every tap of `t` inside the input.
template <typename Fn>
void for_each_tap(const Window3d& win, const WindowTaps& t, Fn&& visit) {
  for (int64_t k_z = t.k_begin[0]; k_z < t.k_end[0]; ++k_z)
    for (int64_t k_y = t.k_begin[1]; k_y < t.k_end[1]; ++k_y)
      for (int64_t k_x = t.k_begin[2]; k_x < t.k_end[2]; ++k_x)
        visit(t.origin[0] + k_z * win.dilation[0], t.origin[1] + k_y * win.dilation[1],
              t.origin[2] + k_x * win.dilation[2]);
}

struct PoolSetup {
  int64_t planes = 0;  // N * C
  Window3d window;
  Shape output_shape;
};

PoolSetup pool_setup(const Node& node, const Tensor& x, bool ceil_allowed) {
  if (x.rank() < 3) user_error("{}: input must have rank >= 3, got {}", node.describe(), shape_str(x.shape()));
  const Shape kernel = node.attr("kernel_shape").ints;
  const bool ceil_mode = ceil_allowed && node.attr_int("ceil_mode", 0) != 0;
  const WindowGeometry g = nn_window_geometry(node, nn_spatial_dims(x.shape()), kernel, ceil_mode);
  PoolSetup s;
  s.planes = x.dim(0) * x.dim(1);
  s.window = nn_window_3d(node, g);
  s.output_shape = {x.dim(0), x.dim(1)};
  for (int64_t d : g.output) s.output_shape.push_back(d);
  return s;
}

// Runs reduce(x_plane, taps) -> value for every output element of every plane.
template <typename TOut, typename TIn, typename Reduce>
void pool_planes(const PoolSetup& s, const TIn* x, TOut* y, Reduce&& reduce) {
  const Window3d& win = s.window;
  const int64_t in_plane = win.input[0] * win.input[1] * win.input[2];
  const int64_t out_plane = win.output[0] * win.output[1] * win.output[2];
  for (int64_t plane = 0; plane < s.planes; ++plane) {
    const TIn* x_plane = x + plane * in_plane;
    TOut* y_plane = y + plane * out_plane;
    for (int64_t out_z = 0; out_z < win.output[0]; ++out_z)
      for (int64_t out_y = 0; out_y < win.output[1]; ++out_y)
        for (int64_t out_x = 0; out_x < win.output[2]; ++out_x) {
          const WindowTaps taps = window_taps(win, {out_z, out_y, out_x});
          y_plane[(out_z * win.output[1] + out_y) * win.output[2] + out_x] = reduce(plane, x_plane, taps);
        }
  }
}

int64_t plane_offset(const Window3d& win, int64_t z, int64_t y, int64_t x) {
  return (z * win.input[1] + y) * win.input[2] + x;
}

[[noreturn]] void unsupported_dtype(const Node& node, DType dtype) {
  user_error("{}: element type {} is not supported", node.describe(), dtype_name(dtype));
}

}  // namespace

// MaxPool. Optional output Indices holds the flat index of each maximum in X, with the spatial
// axes in row-major order (storage_order=0) or column-major order (storage_order=1); the first
// maximum in window order wins ties.
void nn_max_pool(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const PoolSetup s = pool_setup(node, x, true);
  const Window3d& win = s.window;
  const bool column_major = node.attr_int("storage_order", 0) == 1;
  const bool want_indices = ctx.num_outputs() > 1;
  const int64_t in_plane = win.input[0] * win.input[1] * win.input[2];

  Tensor y(x.dtype(), s.output_shape);
  Tensor indices;
  if (want_indices) indices = Tensor(DType::Int64, s.output_shape);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* x_data = x.data<T>();
    int64_t* index_out = want_indices ? indices.data<int64_t>() : nullptr;
    int64_t out_index = 0;
    pool_planes<T>(s, x_data, y.data<T>(), [&](int64_t plane, const T* x_plane, const WindowTaps& taps) {
      T best = std::numeric_limits<T>::lowest();
      int64_t best_z = -1, best_y = -1, best_x = -1;
      for_each_tap(win, taps, [&](int64_t in_z, int64_t in_y, int64_t in_x) {
        const T value = x_plane[plane_offset(win, in_z, in_y, in_x)];
        if (best_z < 0 || value > best) {
          best = value;
          best_z = in_z, best_y = in_y, best_x = in_x;
        }
      });
      if (index_out) {
        const int64_t within = column_major
                                   ? best_z + win.input[0] * (best_y + win.input[1] * best_x)
                                   : plane_offset(win, best_z, best_y, best_x);
        index_out[out_index++] = plane * in_plane + within;
      }
      return best;
    });
  };
  switch (x.dtype()) {
    case DType::Float32: run(float{}); break;
    case DType::Float64: run(double{}); break;
    case DType::Int8: run(int8_t{}); break;
    case DType::UInt8: run(uint8_t{}); break;
    default: unsupported_dtype(node, x.dtype());
  }
  ctx.outputs[0] = std::move(y);
  if (want_indices) ctx.outputs[1] = std::move(indices);
}

// AveragePool: the window mean over taps inside X (count_include_pad=0) or over taps inside X
// plus its explicit padding (count_include_pad=1; padding values are zero).
void nn_average_pool(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const PoolSetup s = pool_setup(node, x, true);
  const bool count_include_pad = node.attr_int("count_include_pad", 0) != 0;
  Tensor y(x.dtype(), s.output_shape);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    pool_planes<T>(s, x.data<T>(), y.data<T>(), [&](int64_t, const T* x_plane, const WindowTaps& taps) {
      double sum = 0.0;
      for_each_tap(s.window, taps, [&](int64_t in_z, int64_t in_y, int64_t in_x) {
        sum += x_plane[plane_offset(s.window, in_z, in_y, in_x)];
      });
      const int64_t count = count_include_pad ? taps.padded_count : taps.valid_count();
      return static_cast<T>(count > 0 ? sum / static_cast<double>(count) : 0.0);
    });
  };
  switch (x.dtype()) {
    case DType::Float32: run(float{}); break;
    case DType::Float64: run(double{}); break;
    default: unsupported_dtype(node, x.dtype());
  }
  ctx.outputs[0] = std::move(y);
}

// The p of LpPool/GlobalLpPool: an int since opset 2, a float in opset 1.
static double lp_norm_order(const Node& node) {
  auto it = node.attributes.find("p");
  if (it == node.attributes.end()) return 2.0;
  return it->second.kind == Attribute::Kind::Float ? it->second.f : static_cast<double>(it->second.i);
}

// LpPool: (sum over the window of |x|^p)^(1/p); padding contributes zero.
void nn_lp_pool(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const PoolSetup s = pool_setup(node, x, false);
  const double p = lp_norm_order(node);
  Tensor y(x.dtype(), s.output_shape);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    pool_planes<T>(s, x.data<T>(), y.data<T>(), [&](int64_t, const T* x_plane, const WindowTaps& taps) {
      double sum = 0.0;
      for_each_tap(s.window, taps, [&](int64_t in_z, int64_t in_y, int64_t in_x) {
        sum += std::pow(std::abs(static_cast<double>(x_plane[plane_offset(s.window, in_z, in_y, in_x)])), p);
      });
      return static_cast<T>(std::pow(sum, 1.0 / p));
    });
  };
  switch (x.dtype()) {
    case DType::Float32: run(float{}); break;
    case DType::Float64: run(double{}); break;
    default: unsupported_dtype(node, x.dtype());
  }
  ctx.outputs[0] = std::move(y);
}

// ---- Global pools: one window covering every spatial position of a plane --------------------

namespace {

template <typename Reduce>
void global_pool(KernelContext& ctx, Reduce&& reduce) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) user_error("{}: input must have rank >= 2, got {}", ctx.node.describe(), shape_str(x.shape()));
  Shape y_shape{x.dim(0), x.dim(1)};
  y_shape.resize(static_cast<size_t>(x.rank()), 1);
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t plane_size = planes == 0 ? 0 : x.numel() / planes;
  Tensor y(x.dtype(), y_shape);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* x_data = x.data<T>();
    T* y_data = y.data<T>();
    for (int64_t plane = 0; plane < planes; ++plane)
      y_data[plane] = static_cast<T>(reduce(x_data + plane * plane_size, plane_size));
  };
  switch (x.dtype()) {
    case DType::Float32: run(float{}); break;
    case DType::Float64: run(double{}); break;
    default: unsupported_dtype(ctx.node, x.dtype());
  }
  ctx.outputs[0] = std::move(y);
}

}  // namespace

void nn_global_average_pool(KernelContext& ctx) {
  global_pool(ctx, [](const auto* plane, int64_t size) {
    double sum = 0.0;
    for (int64_t i = 0; i < size; ++i) sum += plane[i];
    return sum / static_cast<double>(size);
  });
}

void nn_global_max_pool(KernelContext& ctx) {
  global_pool(ctx, [](const auto* plane, int64_t size) {
    double best = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < size; ++i) best = std::max<double>(best, plane[i]);
    return best;
  });
}

void nn_global_lp_pool(KernelContext& ctx) {
  const double p = lp_norm_order(ctx.node);
  global_pool(ctx, [p](const auto* plane, int64_t size) {
    double sum = 0.0;
    for (int64_t i = 0; i < size; ++i) sum += std::pow(std::abs(static_cast<double>(plane[i])), p);
    return std::pow(sum, 1.0 / p);
  });
}

}  // namespace ocs
