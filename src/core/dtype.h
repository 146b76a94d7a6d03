// Element types. The numeric values are ONNX's TensorProto.DataType codes, so conversion to and
// from ONNX is a cast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ocs {

enum class DType : int32_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  BFloat16 = 16,
};

// Size in bytes of one element; 0 for types we cannot hold (String, Undefined, and ONNX codes
// this enum does not name).
size_t dtype_size(DType type);
std::string_view dtype_name(DType type);
// True for the types a Tensor can store: numbers, Bool, Float16 and BFloat16 (not String).
// Kernels compute with all of them but the two 16-bit floats (see dtype_is_half).
bool dtype_supported(DType type);
// Float16 and BFloat16: held, imported, exported and converted by Cast/CastLike (core/half.h
// has the storage types), but refused by every other kernel and by dispatch_dtype.
bool dtype_is_half(DType type);

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::Int8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::Int16; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::UInt16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct DTypeOf<uint32_t> { static constexpr DType value = DType::UInt32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<uint64_t> { static constexpr DType value = DType::UInt64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };

// Calls fn(T{}) with T the C++ type of `type`, for every storable type except Float16 and
// BFloat16 (a UserError).
// Example: dispatch_dtype(t.dtype(), [&](auto tag) { using T = decltype(tag); ... });
template <typename Fn>
decltype(auto) dispatch_dtype(DType type, Fn&& fn);

}  // namespace ocs

#include "core/dtype_dispatch.inl"
