// NumPy .npy reading and writing (format description: numpy/lib/format.py, versions 1.0-3.0).
//
// A .npy file is
//   "\x93NUMPY" major minor  header_len  header  data
// where header_len is a little-endian uint16 (version 1) or uint32 (versions 2 and 3) and the
// header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and ended by '\n'. The data follows with numel * itemsize bytes.
// Everything read from the file is checked before it is trusted: the header length against
// the file size and the declared shape against the bytes that are really there, so that a
// corrupt file is a UserError and never a crash or a huge allocation.
#include "io/npy.h"

#include "core/memory_budget.h"
#include "io/atomic_file.h"
#include "io/name_hash.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <vector>

namespace ocs {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// ---- A tiny parser for the Python literal in the header -----------------------------------

// The values a .npy header dict may hold: a string, a bool, an integer, or a tuple/list.
struct PyValue {
  enum class Kind { String, Bool, Int, Sequence, Other } kind = Kind::Other;
  std::string text;  // String
  bool flag = false;  // Bool
  int64_t number = 0;  // Int
  std::vector<PyValue> items;  // Sequence
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& origin) : text_(text), origin_(origin) {}

  std::map<std::string, PyValue> parse_dict() {
    std::map<std::string, PyValue> dict;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') { ++pos_; break; }
      PyValue key = parse_value();
      if (key.kind != PyValue::Kind::String) fail("a dict key is not a string");
      expect(':');
      PyValue value = parse_value();
      if (!dict.emplace(key.text, std::move(value)).second) fail("key '" + key.text + "' repeats");
      skip_space();
      if (peek() == ',') { ++pos_; continue; }
      expect('}');
      break;
    }
    skip_space();
    if (pos_ != text_.size()) fail("text after the closing '}'");
    return dict;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    user_error("{}: not a valid .npy file: header {} (at byte {} of header \"{}\")", origin_,
               what, pos_, printable(text_));
  }

  static std::string printable(const std::string& s) {
    std::string out;
    for (char c : s.substr(0, 200)) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u >= 32 && u < 127) out += c;
      else if (c == '\n') out += "\\n";
      else out += fmt::format("\\x{:02x}", u);
    }
    return s.size() > 200 ? out + "..." : out;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }

  PyValue parse_value() {
    // Nesting in a real header is at most two levels (a structured descr); a deeper one is
    // refused to keep the recursion bounded on hostile input.
    if (++depth_ > 16) fail("nests too deeply");
    skip_space();
    PyValue value;
    char c = peek();
    if (c == '\'' || c == '"') {
      value.kind = PyValue::Kind::String;
      value.text = parse_string();
    } else if (c == '(' || c == '[') {
      value.kind = PyValue::Kind::Sequence;
      char close = c == '(' ? ')' : ']';
      ++pos_;
      while (true) {
        skip_space();
        if (peek() == close) { ++pos_; break; }
        value.items.push_back(parse_value());
        skip_space();
        if (peek() == ',') { ++pos_; continue; }
        expect(close);
        break;
      }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      value.kind = PyValue::Kind::Int;
      value.number = parse_int();
    } else {
      std::string word;
      while (pos_ < text_.size() && ((text_[pos_] >= 'A' && text_[pos_] <= 'Z') ||
                                     (text_[pos_] >= 'a' && text_[pos_] <= 'z')))
        word += text_[pos_++];
      if (word == "True" || word == "False") {
        value.kind = PyValue::Kind::Bool;
        value.flag = word == "True";
      } else {
        fail(word.empty() ? "has an unexpected character" : "has an unknown word '" + word + "'");
      }
    }
    --depth_;
    return value;
  }

  std::string parse_string() {
    char quote = text_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("has an unterminated string");
      char c = text_[pos_++];
      if (c == quote) break;
      if (c == '\\') {
        if (pos_ >= text_.size()) fail("has an unterminated string");
        c = text_[pos_++];
      }
      out += c;
    }
    return out;
  }

  int64_t parse_int() {
    bool negative = peek() == '-';
    if (negative) ++pos_;
    if (!(peek() >= '0' && peek() <= '9')) fail("has a '-' without digits");
    // Accumulate as unsigned with an explicit bound: a 40-digit dimension is an error, not UB.
    uint64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      uint64_t digit = static_cast<uint64_t>(peek() - '0');
      if (value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10)
        fail("has an integer too large for int64");
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long suffix in old files
    return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  }

  const std::string& text_;
  const std::string& origin_;
  size_t pos_ = 0;
  int depth_ = 0;
};

// ---- dtype descriptors -------------------------------------------------------------------

struct Descr {
  DType dtype = DType::Undefined;
  bool big_endian = false;
};

Descr parse_descr(const std::string& descr, const std::string& origin) {
  if (descr.size() < 2) user_error("{}: unsupported .npy dtype '{}'", origin, descr);
  char order = descr[0];
  std::string code = descr.substr(1);
  if (order != '<' && order != '>' && order != '|' && order != '=')
    user_error("{}: unsupported .npy dtype '{}' (no byte-order character)", origin, descr);
  Descr out;
  // '=' is native order, which is little-endian on every machine ocs builds for.
  out.big_endian = order == '>';
  static const std::pair<const char*, DType> kCodes[] = {
      {"b1", DType::Bool},   {"?", DType::Bool},     {"i1", DType::Int8},
      {"u1", DType::UInt8},  {"i2", DType::Int16},   {"u2", DType::UInt16},
      {"i4", DType::Int32},  {"u4", DType::UInt32},  {"i8", DType::Int64},
      {"u8", DType::UInt64}, {"f2", DType::Float16}, {"f4", DType::Float32},
      {"f8", DType::Float64},
  };
  for (const auto& [name, dtype] : kCodes)
    if (code == name) out.dtype = dtype;
  if (out.dtype != DType::Undefined) return out;
  if (code == "O" || code.rfind("O", 0) == 0)
    user_error("{}: holds a NumPy object array (dtype 'O'), which is pickled Python data and "
               "cannot be read; save a numeric array instead (e.g. np.asarray(x, np.float32))",
               origin);
  if (code == "V2")
    user_error("{}: holds 2-byte opaque values (dtype '{}'), as NumPy saves bfloat16 from "
               "ml_dtypes; save the raw bits instead: x.view(np.uint16)",
               origin, descr);
  user_error("{}: unsupported .npy dtype '{}'; supported are bool, int8..int64, uint8..uint64, "
             "float16, float32 and float64",
             origin, descr);
}

std::string descr_for(DType dtype) {
  switch (dtype) {
    case DType::Bool: return "|b1";
    case DType::Int8: return "|i1";
    case DType::UInt8: return "|u1";
    case DType::Int16: return "<i2";
    case DType::UInt16: return "<u2";
    case DType::Int32: return "<i4";
    case DType::UInt32: return "<u4";
    case DType::Int64: return "<i8";
    case DType::UInt64: return "<u8";
    case DType::Float16: return "<f2";
    // NumPy has no bfloat16: its 16 bits are written as uint16, as onnx.numpy_helper does.
    case DType::BFloat16: return "<u2";
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    default: return "";
  }
}

// ---- data layout ----------------------------------------------------------------------

void byte_swap_elements(std::byte* data, size_t count, size_t item_size) {
  for (size_t i = 0; i < count; ++i) std::reverse(data + i * item_size, data + (i + 1) * item_size);
}

// `fortran` holds the elements of `shape` in column-major order; returns them row-major.
Tensor fortran_to_c_order(const Tensor& fortran, const Shape& shape) {
  Tensor out(fortran.dtype(), shape);
  const size_t item_size = dtype_size(fortran.dtype());
  const size_t rank = shape.size();
  if (out.numel() == 0) return out;
  // Column-major strides (in elements) of the source.
  std::vector<int64_t> source_strides(rank, 1);
  for (size_t axis = 1; axis < rank; ++axis)
    source_strides[axis] = source_strides[axis - 1] * shape[axis - 1];
  const auto* source = static_cast<const std::byte*>(fortran.raw());
  auto* target = static_cast<std::byte*>(out.raw());
  // Walk the destination in row-major order, keeping the source offset in step.
  std::vector<int64_t> index(rank, 0);
  int64_t source_offset = 0;
  for (int64_t target_offset = 0; target_offset < out.numel(); ++target_offset) {
    std::memcpy(target + target_offset * item_size, source + source_offset * item_size, item_size);
    for (size_t axis = rank; axis-- > 0;) {
      if (++index[axis] < shape[axis]) {
        source_offset += source_strides[axis];
        break;
      }
      source_offset -= (shape[axis] - 1) * source_strides[axis];
      index[axis] = 0;
    }
  }
  return out;
}

uint32_t read_le32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& origin) {
  if (bytes.size() < kMagicSize || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    user_error("{}: not a .npy file (it does not start with \"\\x93NUMPY\")", origin);
  if (bytes.size() < kMagicSize + 2)
    user_error("{}: truncated .npy file ({} bytes, no version)", origin, bytes.size());
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3)
    user_error("{}: .npy format version {}.{} is not supported (1.0, 2.0 and 3.0 are)", origin,
               major, minor);
  const size_t length_size = major == 1 ? 2 : 4;
  const size_t header_start = 8 + length_size;
  if (bytes.size() < header_start)
    user_error("{}: truncated .npy file ({} bytes, header length missing)", origin, bytes.size());
  const size_t header_len = major == 1 ? (static_cast<unsigned char>(bytes[8]) |
                                          static_cast<unsigned char>(bytes[9]) << 8)
                                       : read_le32(bytes, 8);
  if (header_len > bytes.size() - header_start)
    user_error("{}: truncated .npy file: header of {} bytes declared, {} bytes left in the file",
               origin, header_len, bytes.size() - header_start);
  const std::string header = bytes.substr(header_start, header_len);
  const size_t data_start = header_start + header_len;

  std::map<std::string, PyValue> dict = HeaderParser(header, origin).parse_dict();
  for (const auto& [key, value] : dict)
    if (key != "descr" && key != "fortran_order" && key != "shape")
      user_error("{}: .npy header has an unknown key '{}'", origin, key);
  auto get = [&](const char* key) -> const PyValue& {
    auto it = dict.find(key);
    if (it == dict.end()) user_error("{}: .npy header has no '{}'", origin, key);
    return it->second;
  };
  const PyValue& descr_value = get("descr");
  const PyValue& fortran_value = get("fortran_order");
  const PyValue& shape_value = get("shape");
  if (descr_value.kind == PyValue::Kind::Sequence)
    user_error("{}: holds a structured (record) array, which is not supported", origin);
  if (descr_value.kind != PyValue::Kind::String)
    user_error("{}: .npy header 'descr' is not a string", origin);
  if (fortran_value.kind != PyValue::Kind::Bool)
    user_error("{}: .npy header 'fortran_order' is not True or False", origin);
  if (shape_value.kind != PyValue::Kind::Sequence)
    user_error("{}: .npy header 'shape' is not a tuple", origin);

  const Descr descr = parse_descr(descr_value.text, origin);
  const size_t item_size = dtype_size(descr.dtype);
  const size_t data_size = bytes.size() - data_start;

  // Validate the shape against the bytes present before allocating anything. The products
  // are computed with overflow checks, so a hostile shape cannot wrap around to a small size.
  Shape shape;
  bool has_zero = false;
  for (const PyValue& dim : shape_value.items) {
    if (dim.kind != PyValue::Kind::Int)
      user_error("{}: .npy header 'shape' holds something that is not an integer", origin);
    if (dim.number < 0)
      user_error("{}: .npy header 'shape' has a negative dimension {}", origin, dim.number);
    shape.push_back(dim.number);
    if (dim.number == 0) has_zero = true;
  }
  uint64_t numel = has_zero ? 0 : 1;
  uint64_t expected_size = 0;
  bool overflow = false;
  if (!has_zero)
    for (int64_t dim : shape)
      overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(dim), &numel);
  overflow = overflow || __builtin_mul_overflow(numel, item_size, &expected_size);
  if (overflow)
    user_error("{}: .npy shape {} of {} is impossibly large (more than 2^64 bytes); the file has "
               "{} bytes of data",
               origin, shape_str(shape), dtype_name(descr.dtype), data_size);
  if (expected_size != data_size)
    user_error("{}: .npy shape {} of {} needs {} bytes of data, the file has {}", origin,
               shape_str(shape), dtype_name(descr.dtype), expected_size, data_size);

  // Copy in file order; for Fortran order the elements are column-major until reordered.
  check_allocation(expected_size, fmt::format("{}: .npy array of {} {}", origin,
                                              dtype_name(descr.dtype), shape_str(shape)));
  Tensor tensor(descr.dtype, shape);
  if (expected_size) std::memcpy(tensor.raw(), bytes.data() + data_start, expected_size);
  auto* data = static_cast<std::byte*>(tensor.raw());
  if (descr.big_endian && item_size > 1) byte_swap_elements(data, numel, item_size);
  if (descr.dtype == DType::Bool) {
    // A C++ bool must hold 0 or 1; NumPy treats any non-zero byte as True.
    for (uint64_t i = 0; i < numel; ++i)
      data[i] = data[i] != std::byte{0} ? std::byte{1} : std::byte{0};
  }
  if (fortran_value.flag && shape.size() > 1) tensor = fortran_to_c_order(tensor, shape);
  return tensor;
}

Tensor read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error("{}: cannot open the .npy file for reading: {}", path.string(), std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) user_error("{}: read error: {}", path.string(), std::strerror(errno));
  return parse_npy(content.str(), path.string());
}

std::string serialize_npy(const Tensor& tensor) {
  OCS_CHECK(tensor.defined(), "serialize_npy of an undefined tensor");
  const std::string descr = descr_for(tensor.dtype());
  if (descr.empty())
    user_error("cannot write a {} tensor to .npy (supported: bool, int8..int64, uint8..uint64, "
               "float16, bfloat16 (as uint16 bits), float32, float64)",
               dtype_name(tensor.dtype()));
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i)
    shape += (i ? ", " : "") + std::to_string(tensor.shape()[i]);
  if (tensor.shape().size() == 1) shape += ",";
  shape += ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces and a final '\n' so that the data starts at a multiple of 64 bytes, as
  // NumPy does. Version 1.0 holds a header of up to 65535 bytes; longer ones need 2.0.
  auto padded_header = [&](size_t prefix) {
    size_t total = prefix + header.size() + 1;
    size_t padding = (64 - total % 64) % 64;
    return header + std::string(padding, ' ') + "\n";
  };
  std::string out(kMagic, kMagicSize);
  std::string body = padded_header(10);
  if (body.size() <= 0xFFFF) {
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(body.size() & 0xFF);
    out += static_cast<char>((body.size() >> 8) & 0xFF);
  } else {
    body = padded_header(12);
    out += '\x02';
    out += '\x00';
    for (int i = 0; i < 4; ++i) out += static_cast<char>((body.size() >> (8 * i)) & 0xFF);
  }
  out += body;
  // Tensors are row-major and little-endian in memory on every machine ocs builds for.
  out.append(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  return out;
}

void write_npy(const std::filesystem::path& path, const Tensor& tensor) {
  const std::string bytes = serialize_npy(tensor);
  write_file_atomically(path, [&](std::ofstream& out) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
}

Tensor npy_input_as(const Tensor& tensor, DType declared) {
  if (!(declared == DType::BFloat16 && tensor.dtype() == DType::UInt16)) return tensor;
  Tensor bits(DType::BFloat16, tensor.shape());
  if (tensor.nbytes()) std::memcpy(bits.raw(), tensor.raw(), tensor.nbytes());
  return bits;
}

std::string escape_file_name(const std::string& name) {
  // The empty name becomes "%": '%' is otherwise always followed by two hex digits, so the
  // mapping stays one-to-one.
  if (name.empty()) return "%";
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool kept = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && i > 0);
    if (kept) out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string npy_file_name(const std::string& tensor_name) {
  std::string stem = escape_file_name(tensor_name);
  if (stem.size() > kMaxEscapedStem) {
    size_t cut = kShortenedPrefix;
    // Do not split an escape: a '%' in the last two kept bytes starts one that would be cut
    // (hex digits are never '%', so a '%' always starts an escape).
    if (stem[cut - 1] == '%') cut -= 1;
    else if (stem[cut - 2] == '%') cut -= 2;
    stem = fmt::format("{}~{:016x}", stem.substr(0, cut), fnv1a_64(tensor_name));
  }
  return stem + ".npy";
}

}  // namespace ocs
