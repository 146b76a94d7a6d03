// Matrix products: Gemm, MatMul (NumPy semantics), MatMulInteger.
//
//   MatMul:        Y[..., m, n] = sum_k A[..., m, k] * B[..., k, n], batch axes broadcast
//   MatMulInteger: the same on (A - a_zero[m]) and (B - b_zero[n]), int32 result
//   Gemm:          Y = alpha * A' * B' + beta * C, A' = transA ? A^T : A, C broadcast to [M, N]
#include "kernels/reference/broadcast.h"
#include "kernels/reference/nn_common.h"

namespace ocs {

namespace {

// A batched product [batch..., M, K] x [batch..., K, N] after NumPy's 1-D promotion.
struct MatMulShapes {
  int64_t m = 0, k = 0, n = 0;
  std::vector<int64_t> a_batch_of;  // for each output batch index, the batch index into A
  std::vector<int64_t> b_batch_of;
  Shape output;
};

MatMulShapes matmul_shapes(const Node& node, const Shape& a_in, const Shape& b_in) {
  if (a_in.empty() || b_in.empty())
    user_error("{}: MatMul operands must have rank >= 1, got {} and {}", node.describe(),
               shape_str(a_in), shape_str(b_in));
  // A 1-D A is a row vector [1, K]; a 1-D B is a column vector [K, 1]. The promoted axis is
  // removed from the output again.
  Shape a = a_in.size() == 1 ? Shape{1, a_in[0]} : a_in;
  Shape b = b_in.size() == 1 ? Shape{b_in[0], 1} : b_in;
  MatMulShapes s;
  s.m = a[a.size() - 2];
  s.k = a[a.size() - 1];
  s.n = b[b.size() - 1];
  if (b[b.size() - 2] != s.k)
    user_error("{}: inner dimensions differ: A {} and B {}", node.describe(), shape_str(a_in), shape_str(b_in));
  const Shape a_batch(a.begin(), a.end() - 2);
  const Shape b_batch(b.begin(), b.end() - 2);
  const auto batch = broadcast_shapes(a_batch, b_batch);
  if (!batch)
    user_error("{}: batch dimensions of A {} and B {} do not broadcast", node.describe(), shape_str(a_in),
               shape_str(b_in));
  s.a_batch_of = broadcast_index_map(a_batch, *batch);
  s.b_batch_of = broadcast_index_map(b_batch, *batch);
  s.output = *batch;
  if (a_in.size() > 1) s.output.push_back(s.m);
  if (b_in.size() > 1) s.output.push_back(s.n);
  return s;
}

// Y[batch, m, n] = sum_k (A[m, k] - a_zero[m]) * (B[k, n] - b_zero[n]) accumulated in Acc.
template <typename Acc, typename TA, typename TB, typename TY>
void matmul_loops(const MatMulShapes& s, const TA* a, const TB* b, const std::vector<Acc>& a_zero,
                  const std::vector<Acc>& b_zero, TY* y) {
  for (size_t batch = 0; batch < s.a_batch_of.size(); ++batch) {
    const TA* a_matrix = a + s.a_batch_of[batch] * s.m * s.k;
    const TB* b_matrix = b + s.b_batch_of[batch] * s.k * s.n;
    TY* y_matrix = y + static_cast<int64_t>(batch) * s.m * s.n;
    for (int64_t row = 0; row < s.m; ++row)
      for (int64_t col = 0; col < s.n; ++col) {
        Acc acc = 0;
        for (int64_t i = 0; i < s.k; ++i)
          acc += (static_cast<Acc>(a_matrix[row * s.k + i]) - a_zero[row]) *
                 (static_cast<Acc>(b_matrix[i * s.n + col]) - b_zero[col]);
        y_matrix[row * s.n + col] = static_cast<TY>(acc);
      }
  }
}

// Accumulator: double for floating types (more accurate than the kernels it judges); the
// 64-bit integer of the same signedness for integers (wraps like the output type would).
template <typename T>
using AccumulatorOf = std::conditional_t<std::is_floating_point_v<T>, double,
                                         std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

// Calls fn(T{}) for the element types MatMul and Gemm accept.
template <typename Fn>
void dispatch_matmul_dtype(const Node& node, DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: fn(float{}); break;
    case DType::Float64: fn(double{}); break;
    case DType::Int32: fn(int32_t{}); break;
    case DType::Int64: fn(int64_t{}); break;
    case DType::UInt32: fn(uint32_t{}); break;
    case DType::UInt64: fn(uint64_t{}); break;
    default:
      user_error("{}: element type {} is not supported", node.describe(), dtype_name(dtype));
  }
}

}  // namespace

void nn_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != b.dtype()) user_error("{}: A and B must share an element type", ctx.node.describe());
  const MatMulShapes s = matmul_shapes(ctx.node, a.shape(), b.shape());
  Tensor y(a.dtype(), s.output);
  dispatch_matmul_dtype(ctx.node, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = AccumulatorOf<T>;
    matmul_loops<Acc>(s, a.data<T>(), b.data<T>(), std::vector<Acc>(s.m, 0), std::vector<Acc>(s.n, 0),
                      y.data<T>());
  });
  ctx.outputs[0] = std::move(y);
}

// MatMulInteger (opset 10): uint8/int8 operands; a_zero_point is a scalar or one value per row
// of A, b_zero_point a scalar or one value per column of B.
void nn_matmul_integer(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const MatMulShapes s = matmul_shapes(node, a.shape(), b.shape());
  auto zero_points = [&](size_t input, int64_t count, const char* name) {
    std::vector<int32_t> zero(static_cast<size_t>(count), 0);
    if (!ctx.has_input(input)) return zero;
    const std::vector<int64_t> values = ctx.input(input).to_int64_vector();
    if (values.size() != 1 && static_cast<int64_t>(values.size()) != count)
      user_error("{}: {} must be a scalar or have {} entries", node.describe(), name, count);
    for (int64_t i = 0; i < count; ++i) zero[i] = static_cast<int32_t>(values.size() == 1 ? values[0] : values[i]);
    return zero;
  };
  const std::vector<int32_t> a_zero = zero_points(2, s.m, "a_zero_point");
  const std::vector<int32_t> b_zero = zero_points(3, s.n, "b_zero_point");
  Tensor y(DType::Int32, s.output);
  auto with_a = [&](auto a_tag) {
    using TA = decltype(a_tag);
    auto with_b = [&](auto b_tag) {
      using TB = decltype(b_tag);
      matmul_loops<int32_t>(s, a.data<TA>(), b.data<TB>(), a_zero, b_zero, y.data<int32_t>());
    };
    if (b.dtype() == DType::UInt8) with_b(uint8_t{});
    else if (b.dtype() == DType::Int8) with_b(int8_t{});
    else user_error("{}: B must be uint8 or int8", node.describe());
  };
  if (a.dtype() == DType::UInt8) with_a(uint8_t{});
  else if (a.dtype() == DType::Int8) with_a(int8_t{});
  else user_error("{}: A must be uint8 or int8", node.describe());
  ctx.outputs[0] = std::move(y);
}

void nn_gemm(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor& c = ctx.input(2);
  if (a.rank() != 2 || b.rank() != 2)
    user_error("{}: A {} and B {} must be matrices", node.describe(), shape_str(a.shape()), shape_str(b.shape()));
  if (a.dtype() != b.dtype() || (c.defined() && c.dtype() != a.dtype()))
    user_error("{}: A, B and C must share an element type", node.describe());
  const bool trans_a = node.attr_int("transA", 0) != 0;
  const bool trans_b = node.attr_int("transB", 0) != 0;
  const double alpha = node.attr_float("alpha", 1.0f);
  const double beta = node.attr_float("beta", 1.0f);
  const int64_t m = trans_a ? a.dim(1) : a.dim(0);
  const int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  if ((trans_b ? b.dim(1) : b.dim(0)) != k)
    user_error("{}: inner dimensions differ: A {} (transA={}) and B {} (transB={})", node.describe(),
               shape_str(a.shape()), trans_a, shape_str(b.shape()), trans_b);
  const Shape y_shape{m, n};
  std::vector<int64_t> c_index;  // for each Y element, its element of C (unidirectional broadcast)
  if (c.defined()) {
    const auto shape = broadcast_shapes(c.shape(), y_shape);
    if (!shape || *shape != y_shape)
      user_error("{}: C {} does not broadcast to [{}, {}]", node.describe(), shape_str(c.shape()), m, n);
    c_index = broadcast_index_map(c.shape(), y_shape);
  }
  Tensor y(a.dtype(), y_shape);
  dispatch_matmul_dtype(node, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = AccumulatorOf<T>;
    const T* a_data = a.data<T>();
    const T* b_data = b.data<T>();
    const T* c_data = c.defined() ? c.data<T>() : nullptr;
    T* y_data = y.data<T>();
    for (int64_t row = 0; row < m; ++row)
      for (int64_t col = 0; col < n; ++col) {
        Acc acc = 0;
        for (int64_t i = 0; i < k; ++i) {
          const T a_value = trans_a ? a_data[i * m + row] : a_data[row * k + i];
          const T b_value = trans_b ? b_data[col * k + i] : b_data[i * n + col];
          acc += static_cast<Acc>(a_value) * static_cast<Acc>(b_value);
        }
        const int64_t out = row * n + col;
        Acc result = static_cast<Acc>(alpha) * acc;
        if (c_data) result += static_cast<Acc>(beta) * static_cast<Acc>(c_data[c_index[out]]);
        y_data[out] = static_cast<T>(result);
      }
  });
  ctx.outputs[0] = std::move(y);
}

}  // namespace ocs
