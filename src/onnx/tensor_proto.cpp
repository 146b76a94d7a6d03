#include "onnx/tensor_proto.h"

#include "core/half.h"
#include "core/memory_budget.h"

#include <cstring>
#include <fstream>

namespace ocs {
namespace fs = std::filesystem;

namespace {

std::string tensor_label(const onnx::TensorProto& proto, const std::string& context) {
  return fmt::format("tensor '{}' in {}", proto.name(), context);
}

// Resolves an external-data location against the model folder. Absolute paths, '..' components
// and symlinks that lead outside the folder are refused, so that a model cannot make us read
// arbitrary files.
fs::path resolve_external(const std::string& location, const fs::path& base_dir,
                          const std::string& label) {
  if (base_dir.empty())
    user_error("{} keeps its data in an external file '{}', which is not allowed here", label,
               location);
  fs::path rel(location);
  if (rel.is_absolute() || location.empty())
    user_error("{} names external data by the absolute path '{}'; external data must be a "
               "relative path inside the model's folder", label, location);
  for (const auto& part : rel)
    if (part == "..")
      user_error("{} names external data '{}' outside the model's folder ('..' is refused); move "
                 "the data next to the model", label, location);
  std::error_code ec;
  fs::path base = fs::weakly_canonical(base_dir, ec);
  fs::path full = fs::weakly_canonical(base_dir / rel, ec);
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end())
    user_error("{} names external data '{}' that resolves outside the model's folder; refused",
               label, location);
  return full;
}

struct ExternalRange {
  fs::path path;
  int64_t offset = 0;
};

// Where a tensor's external bytes are, checked against the file before anything is allocated:
// a hostile offset or length is refused here.
ExternalRange locate_external(const onnx::TensorProto& proto, const fs::path& base_dir,
                              const std::string& label, uint64_t expected_bytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : proto.external_data()) {
    try {
      if (entry.key() == "location") location = entry.value();
      else if (entry.key() == "offset") offset = std::stoll(entry.value());
      else if (entry.key() == "length") length = std::stoll(entry.value());
    } catch (const std::exception&) {
      user_error("{} has a malformed external-data entry {}='{}'", label, entry.key(), entry.value());
    }
  }
  fs::path path = resolve_external(location, base_dir, label);
  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) user_error("{} keeps its data in '{}', which cannot be read: {}", label, path.string(), ec.message());
  // Compared without adding, so that a hostile offset + length cannot overflow.
  const bool offset_ok = offset >= 0 && static_cast<uint64_t>(offset) <= file_size;
  if (offset_ok && length < 0) length = static_cast<int64_t>(file_size - static_cast<uint64_t>(offset));
  if (!offset_ok || length < 0 || static_cast<uint64_t>(length) > file_size - static_cast<uint64_t>(offset))
    user_error("{}: external data range offset {} length {} exceeds the {} bytes of '{}'", label,
               offset, length, file_size, path.string());
  if (static_cast<uint64_t>(length) != expected_bytes)
    user_error("{}: external data holds {} bytes but the tensor's shape needs {}", label, length,
               expected_bytes);
  return {path, offset};
}

void read_external(const ExternalRange& range, const std::string& label, Tensor& tensor) {
  std::ifstream in(range.path, std::ios::binary);
  in.seekg(range.offset);
  in.read(static_cast<char*>(tensor.raw()), static_cast<std::streamsize>(tensor.nbytes()));
  if (!in) user_error("{}: reading external data from '{}' failed", label, range.path.string());
}

template <typename Out, typename Field>
void copy_field(const Field& field, Tensor& tensor, const std::string& label) {
  if (static_cast<int64_t>(field.size()) != tensor.numel())
    user_error("{} declares {} elements but holds {}; the file is corrupt or incomplete", label,
               tensor.numel(), field.size());
  Out* out = tensor.data<Out>();
  for (int64_t i = 0; i < tensor.numel(); ++i) out[i] = static_cast<Out>(field.Get(static_cast<int>(i)));
}

// float16 and bfloat16 in int32_data: each entry holds the 16 bits of one element.
template <typename Half>
void copy_half_field(const google::protobuf::RepeatedField<int32_t>& field, Tensor& tensor,
                     const std::string& label) {
  if (static_cast<int64_t>(field.size()) != tensor.numel())
    user_error("{} declares {} elements but holds {}; the file is corrupt or incomplete", label,
               tensor.numel(), field.size());
  Half* out = tensor.data<Half>();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    const int32_t entry = field.Get(static_cast<int>(i));
    if (entry < 0 || entry > 0xFFFF)
      user_error("{}: element {} of its int32_data is {}, not the 16 bits of a {} value", label,
                 i, entry, dtype_name(tensor.dtype()));
    out[i].bits = static_cast<uint16_t>(entry);
  }
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto, const fs::path& base_dir,
                         const std::string& context) {
  const std::string label = tensor_label(proto, context);
  const auto dtype = static_cast<DType>(proto.data_type());
  if (!dtype_supported(dtype))
    user_error("{} has element type {} (ONNX code {}), which ocs does not support", label,
               dtype_name(dtype), proto.data_type());
  if (proto.has_segment()) user_error("{} is segmented, which ocs does not support", label);
  Shape shape;
  for (int64_t d : proto.dims()) {
    if (d < 0) user_error("{} has a negative dimension {}", label, d);
    shape.push_back(d);
  }
  // The declared size, overflow-checked, is compared with the data the file holds and with the
  // memory budget (core/memory_budget.h) before anything is allocated.
  const std::optional<uint64_t> declared = shape_bytes(shape, dtype_size(dtype));
  if (!declared)
    user_error("{} declares shape {}, more than 2^64 bytes; the file is corrupt", label, shape_str(shape));
  const size_t bytes = static_cast<size_t>(*declared);
  auto allocate = [&] {
    check_allocation(bytes, fmt::format("{}, declared as {} {},", label, dtype_name(dtype), shape_str(shape)));
    return Tensor(dtype, shape);
  };

  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    const ExternalRange range = locate_external(proto, base_dir, label, bytes);
    Tensor tensor = allocate();
    read_external(range, label, tensor);
    return tensor;
  }
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != bytes)
      user_error("{} declares shape {} ({} bytes) but holds {} bytes; the file is corrupt or "
                 "incomplete", label, shape_str(shape), bytes, proto.raw_data().size());
    Tensor tensor = allocate();
    std::memcpy(tensor.raw(), proto.raw_data().data(), bytes);
    return tensor;
  }
  // The typed field that applies holds at most all of them: fewer values than declared is
  // corrupt, whatever the type (copy_field checks the exact count).
  const int64_t held = proto.float_data_size() + proto.double_data_size() + proto.int64_data_size() +
                       proto.int32_data_size() + proto.uint64_data_size();
  if (static_cast<uint64_t>(held) < bytes / dtype_size(dtype))
    user_error("{} declares {} elements but holds {}; the file is corrupt or incomplete", label,
               bytes / dtype_size(dtype), held);
  Tensor tensor = allocate();
  switch (dtype) {
    case DType::Float32: copy_field<float>(proto.float_data(), tensor, label); break;
    case DType::Float64: copy_field<double>(proto.double_data(), tensor, label); break;
    case DType::Int64: copy_field<int64_t>(proto.int64_data(), tensor, label); break;
    case DType::Int32: copy_field<int32_t>(proto.int32_data(), tensor, label); break;
    case DType::Int16: copy_field<int16_t>(proto.int32_data(), tensor, label); break;
    case DType::Int8: copy_field<int8_t>(proto.int32_data(), tensor, label); break;
    case DType::UInt16: copy_field<uint16_t>(proto.int32_data(), tensor, label); break;
    case DType::UInt8: copy_field<uint8_t>(proto.int32_data(), tensor, label); break;
    case DType::Bool: copy_field<bool>(proto.int32_data(), tensor, label); break;
    case DType::Float16: copy_half_field<Float16>(proto.int32_data(), tensor, label); break;
    case DType::BFloat16: copy_half_field<BFloat16>(proto.int32_data(), tensor, label); break;
    case DType::UInt32: copy_field<uint32_t>(proto.uint64_data(), tensor, label); break;
    case DType::UInt64: copy_field<uint64_t>(proto.uint64_data(), tensor, label); break;
    default: user_error("{} has element type {}, which ocs does not support", label, dtype_name(dtype));
  }
  return tensor;
}

void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto) {
  proto->Clear();
  proto->set_name(name);
  proto->set_data_type(static_cast<int32_t>(tensor.dtype()));
  for (int64_t d : tensor.shape()) proto->add_dims(d);
  proto->set_raw_data(tensor.raw(), tensor.nbytes());
}

}  // namespace ocs
