// Tests of src/io/npy.h: round trips, files written by NumPy itself (made at test time with
// Debian's /usr/bin/python3 + numpy), files read back by NumPy, malformed files and
// escape_file_name. All comparisons are exact: the values are chosen to be representable.
#include "io/npy.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace ocs {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool python_has_numpy() {
  static const bool has = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  return has;
}

// Runs a python script (with numpy) in `dir`; returns true when it exits 0.
bool run_python(const fs::path& dir, const std::string& script) {
  const fs::path file = dir / "script.py";
  write_bytes(file, script);
  const std::string command = std::string(kPython) + " " + file.string() + " " + dir.string();
  return std::system(command.c_str()) == 0;
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ocs_npy_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// The message of the UserError thrown by fn, or "" when it throws nothing.
template <typename Fn>
std::string user_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_USER_ERROR(expr, ...)                                        \
  do {                                                                      \
    const std::string message_ = user_error_of([&] { (void)(expr); });      \
    EXPECT_FALSE(message_.empty()) << #expr << " did not throw UserError";  \
    for (const char* part_ : {__VA_ARGS__})                                 \
      EXPECT_NE(message_.find(part_), std::string::npos)                    \
          << "message \"" << message_ << "\" lacks \"" << part_ << "\"";    \
  } while (0)

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// A tensor of `dtype` with values (i % 7) - 3 (bools: i % 3 == 0), exact in every type;
// unsigned types get i % 200.
Tensor pattern_tensor(DType dtype, Shape shape) {
  Tensor t(dtype, std::move(shape));
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (std::is_same_v<T, bool>) p[i] = i % 3 == 0;
      else if constexpr (std::is_unsigned_v<T>) p[i] = static_cast<T>(i % 200);
      else p[i] = static_cast<T>(i % 7 - 3);
    }
  });
  return t;
}

const DType kAllTypes[] = {DType::Bool,  DType::Int8,   DType::UInt8,  DType::Int16,
                           DType::UInt16, DType::Int32,  DType::UInt32, DType::Int64,
                           DType::UInt64, DType::Float32, DType::Float64};

// ---- round trips --------------------------------------------------------------------------

TEST_F(NpyTest, RoundTripEveryTypeAndRank) {
  const Shape shapes[] = {{}, {5}, {2, 3}, {2, 3, 4}, {2, 0, 3}, {1, 1, 1, 1, 7}};
  for (DType dtype : kAllTypes) {
    for (const Shape& shape : shapes) {
      const Tensor original = pattern_tensor(dtype, shape);
      const std::string bytes = serialize_npy(original);
      // Data starts at a multiple of 64 bytes and the header ends in '\n', as NumPy writes.
      const size_t header_len = static_cast<unsigned char>(bytes[8]) |
                                static_cast<unsigned char>(bytes[9]) << 8;
      EXPECT_EQ((10 + header_len) % 64, 0u);
      EXPECT_EQ(bytes[10 + header_len - 1], '\n');
      const Tensor back = parse_npy(bytes, "memory");
      EXPECT_TRUE(same_tensor(original, back)) << dtype_name(dtype) << " " << shape_str(shape);
    }
  }
}

TEST_F(NpyTest, RoundTripThroughFiles) {
  const Tensor original = pattern_tensor(DType::Float32, {3, 4});
  write_npy(dir_ / "a.npy", original);
  EXPECT_TRUE(same_tensor(original, read_npy(dir_ / "a.npy")));

  std::map<std::string, Tensor> tensors = {
      {"x", pattern_tensor(DType::Float32, {1, 3, 8, 8})},
      {"ids", pattern_tensor(DType::Int64, {4})},
      {"mask", pattern_tensor(DType::Bool, {2, 2})},
      {"scalar", Tensor::scalar<double>(2.5)},
      {"odd name/with:chars", pattern_tensor(DType::UInt8, {0})},
  };
  write_npz(dir_ / "b.npz", tensors);
  const auto back = read_npz(dir_ / "b.npz");
  ASSERT_EQ(back.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    ASSERT_TRUE(back.count(name)) << name;
    EXPECT_TRUE(same_tensor(tensor, back.at(name))) << name;
  }

  write_npz(dir_ / "empty.npz", {});
  EXPECT_TRUE(read_npz(dir_ / "empty.npz").empty());
}

TEST_F(NpyTest, LongHeaderUsesVersion2) {
  // 30000 dimensions of 1 do not fit a 65535-byte version 1.0 header.
  const Tensor original = pattern_tensor(DType::Int32, Shape(30000, 1));
  const std::string bytes = serialize_npy(original);
  EXPECT_EQ(bytes[6], '\x02');
  EXPECT_TRUE(same_tensor(original, parse_npy(bytes, "memory")));
}

TEST_F(NpyTest, Float16RoundTripsAndBFloat16IsWrittenAsUInt16Bits) {
  Tensor half(DType::Float16, {3});
  const uint16_t half_bits[] = {0x3800, 0xFBFF, 0x0001};  // 0.5, -65504, 2^-24
  std::memcpy(half.raw(), half_bits, sizeof half_bits);
  const std::string bytes = serialize_npy(half);
  EXPECT_NE(bytes.find("'descr': '<f2'"), std::string::npos);
  EXPECT_TRUE(same_tensor(half, parse_npy(bytes, "memory")));

  // NumPy has no bfloat16: the bits go out as uint16 and npy_input_as takes them back.
  Tensor brain(DType::BFloat16, {2});
  const uint16_t brain_bits[] = {0x3F80, 0xFF80};  // 1.0, -inf
  std::memcpy(brain.raw(), brain_bits, sizeof brain_bits);
  const Tensor read = parse_npy(serialize_npy(brain), "memory");
  ASSERT_EQ(read.dtype(), DType::UInt16);
  EXPECT_EQ(read.to_vector<uint16_t>(), (std::vector<uint16_t>{0x3F80, 0xFF80}));
  const Tensor as_input = npy_input_as(read, DType::BFloat16);
  EXPECT_TRUE(same_tensor(brain, as_input));
  // Anything else passes through unchanged, for the session to check.
  EXPECT_EQ(npy_input_as(read, DType::Float32).dtype(), DType::UInt16);
}

// ---- files written by NumPy ---------------------------------------------------------------

TEST_F(NpyTest, ReadsFilesWrittenByNumPy) {
  if (!python_has_numpy()) OCS_SKIP_OR_FAIL(kPython << " with numpy is not installed (scripts/install_deps.sh)");
  ASSERT_TRUE(run_python(dir_, R"PY(
import sys, numpy as np
d = sys.argv[1] + '/'
names = ['bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
         'float32', 'float64']
i = np.arange(24)
for n in names:
    t = np.dtype(n)
    if t == np.bool_: v = i % 3 == 0
    elif t.kind == 'u': v = i % 200
    else: v = i % 7 - 3
    np.save(d + n + '.npy', v.astype(t).reshape(2, 3, 4))
# Fortran order, big-endian, a scalar, versions 2.0 and 3.0.
f = (np.arange(24, dtype=np.float64) * 0.5 - 3).reshape(2, 3, 4)
np.save(d + 'fortran.npy', np.asfortranarray(f))
np.save(d + 'fortran_i16.npy', np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)))
np.save(d + 'big_i4.npy', (i - 12).astype('>i4').reshape(4, 6))
np.save(d + 'big_f8.npy', (i * 0.25).astype('>f8'))
np.save(d + 'scalar.npy', np.float32(3.5))
for ver in [(2, 0), (3, 0)]:
    with open(d + 'v%d.npy' % ver[0], 'wb') as fh:
        np.lib.format.write_array(fh, (i * 1.5).astype(np.float32).reshape(6, 4), version=ver)
np.save(d + 'object.npy', np.array([1, 'a', None], dtype=object), allow_pickle=True)
np.save(d + 'half.npy', np.array([0.5, -65504, 2.0**-24], np.float16))
np.save(d + 'complex.npy', np.zeros(3, np.complex64))
big = (np.arange(100000) % 13 - 6).astype(np.float32).reshape(100, 1000)
np.savez(d + 'plain.npz', big, ids=np.arange(5, dtype=np.int64), flag=np.array(True))
np.savez_compressed(d + 'compressed.npz', big, ids=np.arange(5, dtype=np.int64),
                    flag=np.array(True), fortran=np.asfortranarray(f))
)PY"));

  for (DType dtype : kAllTypes) {
    const std::string name(dtype_name(dtype));
    const Tensor got = read_npy(dir_ / (name + ".npy"));
    EXPECT_TRUE(same_tensor(pattern_tensor(dtype, {2, 3, 4}), got)) << name;
  }

  // Fortran order is transposed back: element [a][b][c] is a*12 + b*4 + c in C order.
  const Tensor fortran = read_npy(dir_ / "fortran.npy");
  ASSERT_EQ(fortran.shape(), (Shape{2, 3, 4}));
  for (int64_t k = 0; k < 24; ++k) EXPECT_EQ(fortran.data<double>()[k], k * 0.5 - 3) << k;
  EXPECT_EQ(read_npy(dir_ / "fortran_i16.npy").to_vector<int16_t>(),
            (std::vector<int16_t>{0, 1, 2, 3, 4, 5}));

  const Tensor big_i4 = read_npy(dir_ / "big_i4.npy");
  ASSERT_EQ(big_i4.shape(), (Shape{4, 6}));
  for (int64_t k = 0; k < 24; ++k) EXPECT_EQ(big_i4.data<int32_t>()[k], k - 12);
  const Tensor big_f8 = read_npy(dir_ / "big_f8.npy");
  for (int64_t k = 0; k < 24; ++k) EXPECT_EQ(big_f8.data<double>()[k], k * 0.25);

  const Tensor scalar = read_npy(dir_ / "scalar.npy");
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.data<float>()[0], 3.5f);

  for (const char* name : {"v2.npy", "v3.npy"}) {
    const std::string bytes = read_bytes(dir_ / name);
    EXPECT_EQ(bytes[6], name[1] - '0');  // the version byte really is 2 or 3
    const Tensor t = read_npy(dir_ / name);
    ASSERT_EQ(t.shape(), (Shape{6, 4})) << name;
    for (int64_t k = 0; k < 24; ++k) EXPECT_EQ(t.data<float>()[k], k * 1.5f);
  }

  EXPECT_USER_ERROR(read_npy(dir_ / "object.npy"), "object.npy", "object");
  const Tensor half = read_npy(dir_ / "half.npy");
  ASSERT_EQ(half.dtype(), DType::Float16);
  const auto* half_bits = static_cast<const uint16_t*>(half.raw());
  EXPECT_EQ(std::vector<uint16_t>(half_bits, half_bits + 3),
            (std::vector<uint16_t>{0x3800, 0xFBFF, 0x0001}));
  EXPECT_USER_ERROR(read_npy(dir_ / "complex.npy"), "complex.npy", "<c8");

  for (const char* name : {"plain.npz", "compressed.npz"}) {
    const auto tensors = read_npz(dir_ / name);
    ASSERT_TRUE(tensors.count("arr_0")) << name;
    const Tensor& big = tensors.at("arr_0");
    ASSERT_EQ(big.shape(), (Shape{100, 1000}));
    for (int64_t k = 0; k < big.numel(); ++k)
      ASSERT_EQ(big.data<float>()[k], static_cast<float>(k % 13 - 6)) << name << " " << k;
    EXPECT_EQ(tensors.at("ids").to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(tensors.at("flag").rank(), 0);
    EXPECT_TRUE(tensors.at("flag").data<bool>()[0]);
  }
  const auto compressed = read_npz(dir_ / "compressed.npz");
  ASSERT_EQ(compressed.size(), 4u);
  for (int64_t k = 0; k < 24; ++k)
    EXPECT_EQ(compressed.at("fortran").data<double>()[k], k * 0.5 - 3);
  // The compressed archive really is deflated (smaller than the stored one).
  EXPECT_LT(fs::file_size(dir_ / "compressed.npz"), fs::file_size(dir_ / "plain.npz") / 4);
}

TEST_F(NpyTest, NumPyReadsFilesWeWrite) {
  if (!python_has_numpy()) OCS_SKIP_OR_FAIL(kPython << " with numpy is not installed (scripts/install_deps.sh)");
  for (DType dtype : kAllTypes)
    write_npy(dir_ / (std::string(dtype_name(dtype)) + ".npy"),
              pattern_tensor(dtype, {2, 3, 4}));
  write_npy(dir_ / "scalar.npy", Tensor::scalar<float>(-1.25f));
  write_npz(dir_ / "pair.npz", {{"a", pattern_tensor(DType::Float32, {3})},
                                {"b", pattern_tensor(DType::Int64, {2, 2})}});
  EXPECT_TRUE(run_python(dir_, R"PY(
import sys, numpy as np
d = sys.argv[1] + '/'
i = np.arange(24)
for n in ['bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
          'float32', 'float64']:
    t = np.dtype(n)
    if t == np.bool_: v = i % 3 == 0
    elif t.kind == 'u': v = i % 200
    else: v = i % 7 - 3
    got = np.load(d + n + '.npy')
    assert got.dtype == t and got.shape == (2, 3, 4), (n, got.dtype, got.shape)
    assert (got == v.astype(t).reshape(2, 3, 4)).all(), n
s = np.load(d + 'scalar.npy')
assert s.shape == () and s.dtype == np.float32 and s == -1.25
z = np.load(d + 'pair.npz')
assert sorted(z.files) == ['a', 'b']
assert (z['a'] == np.array([-3, -2, -1], np.float32)).all()
assert z['b'].dtype == np.int64 and (z['b'] == np.array([[-3, -2], [-1, 0]])).all()
import zipfile
assert zipfile.ZipFile(d + 'pair.npz').testzip() is None
)PY")) << "numpy rejected a file written by write_npy/write_npz (see stderr)";
}

// ---- malformed .npy -----------------------------------------------------------------------

// A version 1.0 file with the given header text (padded like NumPy) and data.
std::string npy_with_header(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST_F(NpyTest, MalformedNpyIsUserErrorNamingTheFile) {
  const std::string good = serialize_npy(pattern_tensor(DType::Float32, {2, 3}));
  EXPECT_USER_ERROR(parse_npy("", "f.npy"), "f.npy", "not a .npy");
  EXPECT_USER_ERROR(parse_npy("PK\x03\x04 not numpy", "f.npy"), "f.npy", "not a .npy");
  EXPECT_USER_ERROR(parse_npy(good.substr(0, 7), "f.npy"), "f.npy", "truncated");
  EXPECT_USER_ERROR(parse_npy(good.substr(0, 9), "f.npy"), "f.npy", "truncated");
  EXPECT_USER_ERROR(parse_npy(good.substr(0, 40), "f.npy"), "f.npy", "truncated", "header");
  EXPECT_USER_ERROR(parse_npy(good.substr(0, good.size() - 1), "f.npy"), "f.npy", "24 bytes",
                    "23");
  EXPECT_USER_ERROR(parse_npy(good + "x", "f.npy"), "f.npy", "24 bytes", "25");
  std::string version4 = good;
  version4[6] = 4;
  EXPECT_USER_ERROR(parse_npy(version4, "f.npy"), "f.npy", "version 4");

  const std::string data24(24, '\0');
  const std::string shape = "'shape': (2, 3), }";
  EXPECT_USER_ERROR(parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, ", data24),
                              "f.npy"),
                    "f.npy", "header");
  EXPECT_USER_ERROR(parse_npy(npy_with_header("{'descr': '<f4', " + shape, data24), "f.npy"),
                    "f.npy", "fortran_order");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': Maybe, " + shape, data24),
                "f.npy"),
      "f.npy", "Maybe");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
                                data24),
                "f.npy"),
      "f.npy", "negative");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': 6, }", data24),
                "f.npy"),
      "f.npy", "shape");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }",
                    data24),
                "f.npy"),
      "f.npy", "extra");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': [('a', '<f4')], 'fortran_order': False, " + shape,
                                data24),
                "f.npy"),
      "f.npy", "structured");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': 'f4', 'fortran_order': False, " + shape, data24),
                "f.npy"),
      "f.npy", "'f4'");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, " + shape + "junk",
                                data24),
                "f.npy"),
      "f.npy", "after");
  // Unterminated string and nesting bombs are refused, not crashed on.
  EXPECT_USER_ERROR(parse_npy(npy_with_header("{'descr: '<f4'", data24), "f.npy"), "f.npy");
  EXPECT_USER_ERROR(parse_npy(npy_with_header("{'descr': " + std::string(5000, '(') + "}", data24),
                              "f.npy"),
                    "f.npy", "deep");
}

TEST_F(NpyTest, HugeDeclaredShapesAreRefusedWithoutAllocating) {
  const std::string data24(24, '\0');
  // 2^40 * 2^40 elements would overflow int64 and could never fit the 24 bytes present.
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (1099511627776, 1099511627776), }",
                                data24),
                "huge.npy"),
      "huge.npy", "impossibly large");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (9223372036854775807,), }",
                                data24),
                "huge.npy"),
      "huge.npy", "impossibly large");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (1000000, 1000000), }",
                                data24),
                "huge.npy"),
      "huge.npy", "needs 4000000000000 bytes", "has 24");
  EXPECT_USER_ERROR(
      parse_npy(npy_with_header("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (99999999999999999999999,), }",
                                data24),
                "huge.npy"),
      "huge.npy", "too large");
  // A version 2.0 header that claims 4 GB.
  std::string lying = "\x93NUMPY\x02";
  lying += std::string("\0\xff\xff\xff\xff", 5);
  EXPECT_USER_ERROR(parse_npy(lying + "{}", "lying.npy"), "lying.npy", "truncated");
  // A zero-sized dimension next to a huge one holds no data and is fine.
  const Tensor empty = parse_npy(
      npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627776), }",
                      ""),
      "empty.npy");
  EXPECT_EQ(empty.numel(), 0);
}

TEST_F(NpyTest, NonCanonicalBoolBytesBecomeTrue) {
  const Tensor t = parse_npy(
      npy_with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                      std::string("\x00\x02\xff", 3)),
      "b.npy");
  EXPECT_EQ(t.to_vector<bool>(), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(t.raw())[1], 1);
}

TEST_F(NpyTest, MissingFileIsUserError) {
  EXPECT_USER_ERROR(read_npy(dir_ / "nope.npy"), "nope.npy", "cannot open");
  EXPECT_USER_ERROR(read_npz(dir_ / "nope.npz"), "nope.npz", "cannot open");
  EXPECT_USER_ERROR(write_npy(dir_ / "no_dir" / "x.npy", Tensor::scalar<float>(1)), "x.npy");
}

// ---- .npz: zip64 and malformed archives ---------------------------------------------------

void put_le(std::string& out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

// One stored member whose central directory entry and end record use zip64 fields (the
// 32-bit slots hold 0xFFFFFFFF), as writers do for members past 4 GB.
std::string zip64_archive(const std::string& name, const std::string& data, uint32_t crc) {
  std::string zip;
  put_le(zip, 0x04034b50, 4);
  put_le(zip, 45, 2);
  put_le(zip, 0, 2);
  put_le(zip, 0, 2);
  put_le(zip, 0, 4);
  put_le(zip, crc, 4);
  put_le(zip, 0xFFFFFFFF, 4);
  put_le(zip, 0xFFFFFFFF, 4);
  put_le(zip, name.size(), 2);
  put_le(zip, 20, 2);
  zip += name;
  put_le(zip, 1, 2);
  put_le(zip, 16, 2);
  put_le(zip, data.size(), 8);
  put_le(zip, data.size(), 8);
  zip += data;
  const uint64_t directory = zip.size();
  put_le(zip, 0x02014b50, 4);
  put_le(zip, 45, 2);
  put_le(zip, 45, 2);
  put_le(zip, 0, 2);
  put_le(zip, 0, 2);
  put_le(zip, 0, 4);
  put_le(zip, crc, 4);
  put_le(zip, 0xFFFFFFFF, 4);
  put_le(zip, 0xFFFFFFFF, 4);
  put_le(zip, name.size(), 2);
  put_le(zip, 4 + 24 + 4 + 4, 2);  // an unrelated extra field first, then zip64
  put_le(zip, 0, 2);
  put_le(zip, 0, 2);
  put_le(zip, 0, 2);
  put_le(zip, 0, 4);
  put_le(zip, 0xFFFFFFFF, 4);
  zip += name;
  put_le(zip, 0x5455, 2);  // extended timestamp field, to be skipped
  put_le(zip, 4, 2);
  put_le(zip, 0, 4);
  put_le(zip, 1, 2);
  put_le(zip, 24, 2);
  put_le(zip, data.size(), 8);  // uncompressed
  put_le(zip, data.size(), 8);  // compressed
  put_le(zip, 0, 8);            // local header offset
  const uint64_t directory_size = zip.size() - directory;
  const uint64_t record = zip.size();
  put_le(zip, 0x06064b50, 4);
  put_le(zip, 44, 8);
  put_le(zip, 45, 2);
  put_le(zip, 45, 2);
  put_le(zip, 0, 4);
  put_le(zip, 0, 4);
  put_le(zip, 1, 8);
  put_le(zip, 1, 8);
  put_le(zip, directory_size, 8);
  put_le(zip, directory, 8);
  put_le(zip, 0x07064b50, 4);
  put_le(zip, 0, 4);
  put_le(zip, record, 8);
  put_le(zip, 1, 4);
  put_le(zip, 0x06054b50, 4);
  put_le(zip, 0, 2);
  put_le(zip, 0, 2);
  put_le(zip, 0xFFFF, 2);
  put_le(zip, 0xFFFF, 2);
  put_le(zip, 0xFFFFFFFF, 4);
  put_le(zip, 0xFFFFFFFF, 4);
  put_le(zip, 0, 2);
  return zip;
}

TEST_F(NpyTest, ReadsZip64Fields) {
  const Tensor original = pattern_tensor(DType::Float32, {4, 5});
  const std::string data = serialize_npy(original);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const unsigned char*>(data.data()), data.size()));
  write_bytes(dir_ / "z64.npz", zip64_archive("w.npy", data, crc));
  const auto tensors = read_npz(dir_ / "z64.npz");
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_TRUE(same_tensor(original, tensors.at("w")));

  write_bytes(dir_ / "badcrc.npz", zip64_archive("w.npy", data, crc ^ 1));
  EXPECT_USER_ERROR(read_npz(dir_ / "badcrc.npz"), "badcrc.npz", "CRC");
}

TEST_F(NpyTest, MalformedNpzIsUserErrorNamingTheFile) {
  const std::map<std::string, Tensor> tensors = {{"a", pattern_tensor(DType::Float32, {64})}};
  write_npz(dir_ / "good.npz", tensors);
  const std::string good = read_bytes(dir_ / "good.npz");
  const auto check = [&](const std::string& name, const std::string& bytes,
                         std::initializer_list<const char*> parts) {
    write_bytes(dir_ / name, bytes);
    const std::string message = user_error_of([&] { read_npz(dir_ / name); });
    EXPECT_FALSE(message.empty()) << name << " was accepted";
    EXPECT_NE(message.find(name), std::string::npos) << message;
    for (const char* part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << "\"" << message << "\" lacks " << part;
  };
  check("empty.npz", "", {"too short"});
  check("text.npz", std::string(100, 'x'), {"end-of-central-directory"});
  check("cut.npz", good.substr(0, good.size() - 30), {"end-of-central-directory"});
  check("head.npz", good.substr(0, 200), {"end-of-central-directory"});

  // The end record is the last 22 bytes; the central directory offset is at its byte 16.
  std::string moved = good;
  moved[good.size() - 22 + 16] = '\x7f';
  check("offset.npz", moved, {"central directory"});

  // Flip a data byte of the stored member: the CRC catches it.
  std::string flipped = good;
  flipped[30 + 5 + 100] ^= 0x40;
  check("flipped.npz", flipped, {"CRC"});

  // A member that is not .npy.
  std::string renamed = good;
  for (size_t at = renamed.find("a.npy"); at != std::string::npos; at = renamed.find("a.npy", at))
    renamed.replace(at, 5, "a.txt");
  check("renamed.npz", renamed, {"a.txt", "not a .npy"});

  // A member whose .npy content is bad names both the archive and the member.
  write_npz(dir_ / "inner.npz", tensors);
  std::string inner = read_bytes(dir_ / "inner.npz");
  inner[30 + 5] = 'X';  // first byte of the member's magic (CRC fails first, so fix the CRC)
  const std::string member = inner.substr(30 + 5, serialize_npy(tensors.at("a")).size());
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const unsigned char*>(member.data()), member.size()));
  for (size_t header : {size_t{0}, inner.rfind(std::string("PK\x01\x02", 4))}) {
    const size_t crc_at = header + (header == 0 ? 14 : 16);
    for (int i = 0; i < 4; ++i) inner[crc_at + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
  }
  check("inner.npz", inner, {"a.npy", "not a .npy file"});
}

TEST_F(NpyTest, CorruptDeflatedMembersAreUserErrors) {
  if (!python_has_numpy()) OCS_SKIP_OR_FAIL(kPython << " with numpy is not installed (scripts/install_deps.sh)");
  ASSERT_TRUE(run_python(dir_, R"PY(
import sys, numpy as np
d = sys.argv[1] + '/'
np.savez_compressed(d + 'c.npz', a=(np.arange(50000) % 11).astype(np.float32))
)PY"));
  const std::string good = read_bytes(dir_ / "c.npz");
  ASSERT_EQ(read_npz(dir_ / "c.npz").at("a").numel(), 50000);
  const size_t directory = good.rfind(std::string("PK\x01\x02", 4));
  ASSERT_NE(directory, std::string::npos);
  ASSERT_EQ(good[directory + 10], 8) << "member is not deflated";

  const auto check = [&](const std::string& name, const std::string& bytes, const char* part) {
    write_bytes(dir_ / name, bytes);
    const std::string message = user_error_of([&] { read_npz(dir_ / name); });
    EXPECT_NE(message.find(name), std::string::npos) << "\"" << message << "\"";
    EXPECT_NE(message.find(part), std::string::npos) << "\"" << message << "\" lacks " << part;
  };
  // Garbage in the deflate stream.
  std::string garbage = good;
  const auto u16_at = [&](size_t at) {
    return static_cast<size_t>(static_cast<unsigned char>(good[at]) |
                               static_cast<unsigned char>(good[at + 1]) << 8);
  };
  const size_t data = 30 + u16_at(26) + u16_at(28);  // after the local header's name and extra
  for (size_t k = data; k < data + 64; ++k) garbage[k] = static_cast<char>(k * 37);
  check("garbage.npz", garbage, "a.npy");
  // A declared uncompressed size far above the truth (not trusted for allocation) and one
  // below it.
  const auto with_size = [&](uint32_t size) {
    std::string bytes = good;
    for (int i = 0; i < 4; ++i)
      bytes[directory + 24 + i] = static_cast<char>((size >> (8 * i)) & 0xFF);
    return bytes;
  };
  check("toobig.npz", with_size(0xFFFFFFF0u), "inflates to");
  check("toosmall.npz", with_size(1000), "more than its declared");
  // Compressed size that cuts the stream short.
  std::string cut = good;
  for (int i = 0; i < 4; ++i) cut[directory + 20 + i] = static_cast<char>(i == 0 ? 100 : 0);
  check("cut.npz", cut, "truncated");
}

TEST_F(NpyTest, MutatedFilesAreReadOrRefusedNeverCrash) {
  // Deterministic mutations (fixed seed) of a valid .npy and a valid .npz: every outcome must
  // be a tensor or a UserError; an InternalError, a crash or a sanitizer report is a bug.
  const std::string npy = serialize_npy(pattern_tensor(DType::Int16, {3, 5}));
  write_npz(dir_ / "base.npz", {{"a", pattern_tensor(DType::Float32, {7})},
                                {"b", pattern_tensor(DType::Int64, {2, 2})}});
  const std::string npz = read_bytes(dir_ / "base.npz");
  uint64_t state = 12345;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  };
  int refused = 0;
  // Fewer .npz trials: each goes through a file, and truncating files is slow on some disks.
  for (int trial = 0; trial < 2500; ++trial) {
    const bool zip = trial % 5 == 4;
    std::string bytes = zip ? npz : npy;
    const int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = next() % bytes.size();
      switch (next() % 3) {
        case 0: bytes[at] = static_cast<char>(next()); break;
        case 1: bytes[at] = static_cast<char>(next() % 2 ? 0xFF : 0x00); break;
        default: bytes.resize(at); break;
      }
      if (bytes.empty()) break;
    }
    try {
      if (zip) {
        write_bytes(dir_ / "m.npz", bytes);
        read_npz(dir_ / "m.npz");
      } else {
        parse_npy(bytes, "m.npy");
      }
    } catch (const UserError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 1000);
}

// ---- escape_file_name ---------------------------------------------------------------------

TEST(NpyEscape, KeepsSafeBytesAndEscapesTheRest) {
  EXPECT_EQ(escape_file_name("input"), "input");
  EXPECT_EQ(escape_file_name("Conv_0.out-1_A"), "Conv_0.out-1_A");
  EXPECT_EQ(escape_file_name("a/b"), "a%2Fb");
  EXPECT_EQ(escape_file_name("x:0"), "x%3A0");
  EXPECT_EQ(escape_file_name("a b"), "a%20b");
  EXPECT_EQ(escape_file_name("100%"), "100%25");
  EXPECT_EQ(escape_file_name("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(escape_file_name(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(escape_file_name("..\\x"), "%2E.%5Cx");
}

TEST(NpyEscape, NeverEmptyDotOrHidden) {
  EXPECT_EQ(escape_file_name(""), "%");
  EXPECT_EQ(escape_file_name("."), "%2E");
  EXPECT_EQ(escape_file_name(".."), "%2E.");
  EXPECT_EQ(escape_file_name(".hidden"), "%2Ehidden");
  EXPECT_EQ(escape_file_name("../etc/passwd"), "%2E.%2Fetc%2Fpasswd");
}

TEST(NpyEscape, DistinctNamesGiveDistinctFileNames) {
  const std::vector<std::string> names = {"", "%", ".", "%2E", "..", "a/b", "a%2Fb", "a_b",
                                          "A", "a", ".a", "%2Ea", "a.", "a%2E"};
  std::set<std::string> escaped;
  for (const std::string& name : names) escaped.insert(escape_file_name(name));
  EXPECT_EQ(escaped.size(), names.size());
}

}  // namespace
}  // namespace ocs
