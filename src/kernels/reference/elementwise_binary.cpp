// Binary ops with NumPy broadcasting: arithmetic (Add, Sub, Mul, Div, Pow, Mod), logic
// (And, Or, Xor), BitShift and the comparisons (bool outputs).
//
// Integer semantics, as ONNX's reference (numpy) computes them:
//  - Add/Sub/Mul wrap around in the element type (test_add_uint8 relies on it).
//  - Div truncates toward zero (numpy's true divide, then a cast back to the type): -7 / 2 = -3.
//  - Mod with fmod=0 takes the sign of the divisor (Python's %): -7 mod 3 = 2, 7 mod -3 = -2;
//    with fmod=1 it takes the sign of the dividend (C's fmod / %): -7 mod 3 = -1.
//  - Division or Mod by integer zero is a user error (numpy would give 0 and a warning).
#include "kernels/reference/elementwise_internal.h"

#include <cmath>
#include <limits>

namespace ocs::elementwise {
namespace {

// Inputs 0 and 1 broadcast; allocates output 0 of the joint shape and `type`.
Tensor& make_broadcast_output(KernelContext& ctx, DType type) {
  const Shape shape =
      broadcast_output_shape(ctx, {required_input(ctx, 0).shape(), required_input(ctx, 1).shape()});
  ctx.outputs.at(0) = Tensor(type, shape);
  return ctx.outputs[0];
}

// y = op(a, b) over any numeric type shared by both inputs; op sees T and returns T.
template <typename Op>
void numeric_binary(KernelContext& ctx, Op op) {
  require_same_dtype(ctx, 0, 1);
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  dispatch_numeric(ctx, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_binary<T, T, T>(a, b, make_broadcast_output(ctx, a.dtype()),
                          [&](T x, T y) { return static_cast<T>(op(x, y)); });
  });
}

// Integer arithmetic is done in the unsigned type of the same width so that overflow wraps
// (signed overflow is undefined in C++); the bits are the two's-complement result.
template <typename T, typename Fn>
T wrapping(T x, T y, Fn fn) {
  if constexpr (is_integer_v<T>) {
    using U = std::make_unsigned_t<T>;
    // Promote narrow types through unsigned int so that uint16 * uint16 cannot overflow int.
    using Wide = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(static_cast<U>(fn(static_cast<Wide>(static_cast<U>(x)),
                                             static_cast<Wide>(static_cast<U>(y)))));
  } else {
    return fn(x, y);
  }
}

void add_kernel(KernelContext& ctx) {
  numeric_binary(ctx, [](auto x, auto y) { return wrapping(x, y, [](auto a, auto b) { return a + b; }); });
}
void sub_kernel(KernelContext& ctx) {
  numeric_binary(ctx, [](auto x, auto y) { return wrapping(x, y, [](auto a, auto b) { return a - b; }); });
}
void mul_kernel(KernelContext& ctx) {
  numeric_binary(ctx, [](auto x, auto y) { return wrapping(x, y, [](auto a, auto b) { return a * b; }); });
}

void div_kernel(KernelContext& ctx) {
  numeric_binary(ctx, [&](auto x, auto y) {
    using T = decltype(x);
    if constexpr (is_integer_v<T>) {
      if (y == 0) user_error("{}: integer division by zero", ctx.node.describe());
      if constexpr (std::is_signed_v<T>)  // the one quotient that does not fit wraps, as in numpy
        if (y == -1) return wrapping(T(0), x, [](auto a, auto b) { return a - b; });
    }
    return static_cast<T>(x / y);  // C++ integer division truncates toward zero
  });
}

void mod_kernel(KernelContext& ctx) {
  const bool fmod = ctx.node.attr_int("fmod", 0) != 0;
  numeric_binary(ctx, [&](auto x, auto y) {
    using T = decltype(x);
    if constexpr (is_integer_v<T>) {
      if (y == 0) user_error("{}: integer Mod by zero", ctx.node.describe());
      if constexpr (std::is_signed_v<T>)
        if (y == -1) return T(0);  // avoids the overflowing INT_MIN % -1
      T r = static_cast<T>(x % y);  // sign of the dividend
      if (!fmod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
      return r;
    } else {
      T r = std::fmod(x, y);  // sign of the dividend
      if (!fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
      return r;
    }
  });
}

// base^exponent for integers by repeated squaring, wrapping on overflow like numpy.
// A negative exponent gives the truncated 1 / base^-exponent: 0 unless |base| == 1.
template <typename T, typename E>
T integer_power(T base, E exponent) {
  if constexpr (std::is_signed_v<E>) {
    if (exponent < 0) {
      if (base == T(1)) return T(1);
      if constexpr (std::is_signed_v<T>)
        if (base == T(-1)) return (exponent % 2 == 0) ? T(1) : T(-1);
      return T(0);
    }
  }
  T result = 1;
  auto remaining = static_cast<std::make_unsigned_t<E>>(exponent);
  while (remaining != 0) {
    if (remaining & 1u) result = wrapping(result, base, [](auto a, auto b) { return a * b; });
    base = wrapping(base, base, [](auto a, auto b) { return a * b; });
    remaining >>= 1;
  }
  return result;
}

// Pow: the output has the base's type; the exponent may be any numeric type (opset 12+).
// Non-integer cases are computed in double and converted back (int base truncates, as numpy's
// float result cast to the base type does).
void pow_kernel(KernelContext& ctx) {
  const Tensor& base = required_input(ctx, 0);
  const Tensor& exponent = required_input(ctx, 1);
  dispatch_numeric(ctx, base.dtype(), [&](auto base_tag) {
    using T = decltype(base_tag);
    dispatch_numeric(ctx, exponent.dtype(), [&](auto exponent_tag) {
      using E = decltype(exponent_tag);
      Tensor& out = make_broadcast_output(ctx, base.dtype());
      apply_binary<T, E, T>(base, exponent, out, [](T x, E y) {
        if constexpr (is_integer_v<T> && is_integer_v<E>) {
          return integer_power(x, y);
        } else if constexpr (std::is_same_v<T, float> && std::is_same_v<E, float>) {
          return std::pow(x, y);
        } else {
          return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
      });
    });
  });
}

template <typename Op>
void logical_binary(KernelContext& ctx, Op op) {
  require_same_dtype(ctx, 0, 1);
  const Tensor& a = ctx.input(0);
  if (a.dtype() != DType::Bool) unsupported_dtype(ctx, a.dtype());
  apply_binary<bool, bool, bool>(a, ctx.input(1), make_broadcast_output(ctx, DType::Bool), op);
}

void and_kernel(KernelContext& ctx) { logical_binary(ctx, [](bool x, bool y) { return x && y; }); }
void or_kernel(KernelContext& ctx) { logical_binary(ctx, [](bool x, bool y) { return x || y; }); }
void xor_kernel(KernelContext& ctx) { logical_binary(ctx, [](bool x, bool y) { return x != y; }); }

// BitShift on unsigned integers; shifting by the width or more gives 0.
void bitshift_kernel(KernelContext& ctx) {
  const std::string direction = ctx.node.attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT")
    user_error("{}: direction must be \"LEFT\" or \"RIGHT\", got \"{}\"", ctx.node.describe(),
               direction);
  const bool left = direction == "LEFT";
  require_same_dtype(ctx, 0, 1);
  const Tensor& a = ctx.input(0);
  dispatch_numeric(ctx, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_unsigned_v<T>) {
      unsupported_dtype(ctx, a.dtype());
    } else {
      constexpr T width = std::numeric_limits<T>::digits;
      apply_binary<T, T, T>(a, ctx.input(1), make_broadcast_output(ctx, a.dtype()),
                            [=](T x, T shift) -> T {
                              if (shift >= width) return 0;
                              return static_cast<T>(left ? x << shift : x >> shift);
                            });
    }
  });
}

// Comparisons: numeric inputs of one type (Equal also takes bool), bool output.
template <typename Op>
void comparison(KernelContext& ctx, bool allow_bool, Op op) {
  require_same_dtype(ctx, 0, 1);
  const Tensor& a = ctx.input(0);
  if (a.dtype() == DType::Bool && !allow_bool) unsupported_dtype(ctx, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_binary<T, T, bool>(a, ctx.input(1), make_broadcast_output(ctx, DType::Bool),
                             [&](T x, T y) { return op(x, y); });
  });
}

void equal_kernel(KernelContext& ctx) { comparison(ctx, true, [](auto x, auto y) { return x == y; }); }
void less_kernel(KernelContext& ctx) { comparison(ctx, false, [](auto x, auto y) { return x < y; }); }
void greater_kernel(KernelContext& ctx) { comparison(ctx, false, [](auto x, auto y) { return x > y; }); }
void less_or_equal_kernel(KernelContext& ctx) {
  comparison(ctx, false, [](auto x, auto y) { return x <= y; });
}
void greater_or_equal_kernel(KernelContext& ctx) {
  comparison(ctx, false, [](auto x, auto y) { return x >= y; });
}

}  // namespace

void register_binary(KernelRegistry& registry) {
  registry.add_reference("Add", add_kernel);
  registry.add_reference("Sub", sub_kernel);
  registry.add_reference("Mul", mul_kernel);
  registry.add_reference("Div", div_kernel);
  registry.add_reference("Mod", mod_kernel);
  registry.add_reference("Pow", pow_kernel);
  registry.add_reference("And", and_kernel);
  registry.add_reference("Or", or_kernel);
  registry.add_reference("Xor", xor_kernel);
  registry.add_reference("BitShift", bitshift_kernel);
  registry.add_reference("Equal", equal_kernel);
  registry.add_reference("Less", less_kernel);
  registry.add_reference("Greater", greater_kernel);
  registry.add_reference("LessOrEqual", less_or_equal_kernel);
  registry.add_reference("GreaterOrEqual", greater_or_equal_kernel);
}

}  // namespace ocs::elementwise
