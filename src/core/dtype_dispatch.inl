#pragma once
#include "core/error.h"

namespace ocs {

template <typename Fn>
decltype(auto) dispatch_dtype(DType type, Fn&& fn) {
  switch (type) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int8: return fn(int8_t{});
    case DType::UInt8: return fn(uint8_t{});
    case DType::Int16: return fn(int16_t{});
    case DType::UInt16: return fn(uint16_t{});
    case DType::Int32: return fn(int32_t{});
    case DType::UInt32: return fn(uint32_t{});
    case DType::Int64: return fn(int64_t{});
    case DType::UInt64: return fn(uint64_t{});
    case DType::Bool: return fn(bool{});
    default: break;
  }
  throw UserError(fmt::format("element type {} is not supported here", dtype_name(type)));
}

}  // namespace ocs
