// NumPy .npy / .npz files: the tensor exchange format of the CLI.
// .npy versions 1.0, 2.0 and 3.0; C order (Fortran order is transposed on read); little-endian
// bool, int8..int64, uint8..uint64, float16, float32, float64. NumPy has no bfloat16: a bfloat16
// tensor is written as its raw 16 bits in a uint16 array (onnx.numpy_helper's convention), and
// npy_input_as reads such an array back for a bfloat16 input. .npz: a zip of .npy members,
// stored or deflated (np.savez and np.savez_compressed). Errors name the file and say what is
// wrong.
#pragma once

#include "core/tensor.h"

#include <filesystem>
#include <map>
#include <string>

namespace ocs {

Tensor read_npy(const std::filesystem::path& path);
Tensor parse_npy(const std::string& bytes, const std::string& origin);
void write_npy(const std::filesystem::path& path, const Tensor& tensor);
std::string serialize_npy(const Tensor& tensor);
// Member names without the ".npy" suffix.
std::map<std::string, Tensor> read_npz(const std::filesystem::path& path);
void write_npz(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors);

// `tensor` as read from a file, for a model input declared as `declared`: a uint16 array for a
// bfloat16 input is taken as the bfloat16 bits (a copy with dtype bfloat16); anything else is
// returned unchanged (the session then checks the type).
Tensor npy_input_as(const Tensor& tensor, DType declared);

// A file name for a tensor name: [A-Za-z0-9_.-] are kept, every other byte becomes %XX
// (upper-case hex), and a name that is empty or starts with '.' gets its first byte escaped
// too, so that the result is never "", "." or ".." and never hidden.
std::string escape_file_name(const std::string& name);

// The file `ocs run` writes a tensor to: escape_file_name(name) + ".npy", except that an escaped
// name longer than kMaxEscapedStem bytes is cut to its first kShortenedPrefix bytes (never inside
// a %XX) + '~' + the 16 hex digits of the FNV-1a 64-bit hash of the original name (io/name_hash.h). Escaping
// never leaves a '~', so a shortened name cannot collide with an escaped one; the result stays
// far below the 255-byte file-name limit of common file systems even with a temporary suffix.
inline constexpr size_t kMaxEscapedStem = 200;
inline constexpr size_t kShortenedPrefix = 180;
std::string npy_file_name(const std::string& tensor_name);

}  // namespace ocs
