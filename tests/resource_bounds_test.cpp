// Resource bounds (core/memory_budget.h): a model or input that asks for absurd memory is refused
// with a message naming the tensor before anything that size is allocated, and subgraphs nested
// too deep to walk safely are refused before any recursion. Each test builds the hostile
// structure itself; the last ones run the built `ocs` binary with --max-memory.
#include "core/memory_budget.h"
#include "engine/session.h"
#include "io/npy.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace ocs {
namespace {
namespace fs = std::filesystem;
using namespace ocs::testing;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr int64_t kMillion = 1000000;

// Runs `fn`, expects an exception of type E and returns its message.
template <typename E = UserError, typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no error";
  return {};
}

void expect_mentions(const std::string& message, const std::vector<std::string>& parts) {
  for (const auto& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing from: " << message;
}

Graph import(const onnx::ModelProto& m, const fs::path& base_dir = ".") {
  return import_onnx_bytes(serialize(m), base_dir, "hostile.onnx");
}

// A temporary folder removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    char pattern[] = "/tmp/ocs_bounds_XXXXXX";
    if (::mkdtemp(pattern)) path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// ---- the budget itself -----------------------------------------------------------------------

TEST(MemoryBudget, ParsesSizesWithBinaryUnits) {
  EXPECT_EQ(parse_memory_size("4G", "--max-memory"), uint64_t{4} << 30);
  EXPECT_EQ(parse_memory_size("512M", "--max-memory"), uint64_t{512} << 20);
  EXPECT_EQ(parse_memory_size("1.5g", "--max-memory"), uint64_t{3} << 29);
  EXPECT_EQ(parse_memory_size("64k", "--max-memory"), uint64_t{64} << 10);
  EXPECT_EQ(parse_memory_size("2GiB", "--max-memory"), uint64_t{2} << 30);
  EXPECT_EQ(parse_memory_size("3GB", "--max-memory"), uint64_t{3} << 30);
  EXPECT_EQ(parse_memory_size("1T", "--max-memory"), uint64_t{1} << 40);
  EXPECT_EQ(parse_memory_size("1000", "--max-memory"), 1000u);
  for (const char* bad : {"", "lots", "4X", "0", "-1G", "1..5G", "G", "4 G", "99999999999T"})
    expect_mentions(error_of([&] { parse_memory_size(bad, "--max-memory"); }), {"--max-memory", bad});
}

TEST(MemoryBudget, DefaultIsAtMostHalfOfThePhysicalMemory) {
  const uint64_t physical = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                            static_cast<uint64_t>(::sysconf(_SC_PAGE_SIZE));
  EXPECT_GT(default_memory_limit(), 0u);
  EXPECT_LE(default_memory_limit(), physical / 2);  // lower when a cgroup limits the process
}

TEST(MemoryBudget, ShapeBytesRefusesOverflowInsteadOfWrapping) {
  EXPECT_EQ(shape_bytes(std::vector<int64_t>{2, 3}, 4), 24u);
  EXPECT_EQ(shape_bytes(std::vector<int64_t>{}, 8), 8u);
  EXPECT_EQ(shape_bytes(std::vector<int64_t>{0, int64_t{1} << 62, int64_t{1} << 62}, 4), 0u);
  EXPECT_EQ(shape_bytes(std::vector<int64_t>{int64_t{1} << 32, int64_t{1} << 32}, 1), std::nullopt);
  // 7 * 0x6DB6DB6DB6DB6DB7 is 1 modulo 2^64: a wrapping product would call this one element.
  EXPECT_EQ(shape_bytes(std::vector<int64_t>{7, 0x6DB6DB6DB6DB6DB7}, 1), std::nullopt);
  EXPECT_EQ(shape_bytes(std::vector<int64_t>{-1, 3}, 4), std::nullopt);
}

TEST(MemoryBudget, TensorsCountAgainstTheLimitWhileAlive) {
  const uint64_t base = memory_in_use();
  ScopedMemoryLimit limit(base + kMiB);
  {
    Tensor a(DType::Float32, {600 * 256});  // 600 KiB
    EXPECT_GE(memory_in_use(), base + 600 * 1024);
    const std::string message =
        error_of<MemoryLimitError>([] { Tensor b(DType::Float32, {600 * 256}); });
    expect_mentions(message, {"float32", "[153600]", "600.00 KiB", "1.00 MiB", "--max-memory"});
  }
  EXPECT_EQ(memory_in_use(), base);
  Tensor again(DType::Float32, {600 * 256});  // fits again once `a` is released
  EXPECT_EQ(again.numel(), 600 * 256);
}

TEST(MemoryBudget, TensorOfAnOverflowingShapeIsRefused) {
  const std::string message = error_of<MemoryLimitError>(
      [] { Tensor t(DType::Float32, {int64_t{1} << 32, int64_t{1} << 32}); });
  expect_mentions(message, {"[4294967296, 4294967296]", "more than 16 EiB"});
}

// ---- sizes declared in a model -----------------------------------------------------------------

// y = x + w, with `w` declared by `shape` (and holding the data in `raw`, if given).
onnx::ModelProto declared_weight_model(const std::vector<int64_t>& shape, const std::string& raw = "") {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1});
  *g->add_output() = value_info("y", {});
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) w->add_dims(d);
  if (!raw.empty()) w->set_raw_data(raw);
  *g->add_node() = node("Add", {"x", "w"}, {"y"}, "add");
  return m;
}

TEST(ResourceBounds, InitializerDeclaringATrillionElementsIsCorrupt) {
  const uint64_t before = memory_in_use();
  // Without any data (the ONNX checker notices) and with one value in float_data (ocs does).
  expect_mentions(error_of([] { import(declared_weight_model({kMillion, kMillion})); }),
                  {"(tensor name: w)", "hostile.onnx"});
  onnx::ModelProto one_value = declared_weight_model({kMillion, kMillion});
  one_value.mutable_graph()->mutable_initializer(0)->add_float_data(1.0f);
  expect_mentions(error_of([&] { import(one_value); }),
                  {"'w'", "hostile.onnx", "1000000000000 elements but holds 1", "corrupt"});
  EXPECT_EQ(memory_in_use(), before);
}

TEST(ResourceBounds, InitializerWhoseDimsOverflowIsCorrupt) {
  const int64_t big = int64_t{1} << 32;
  const std::string message = error_of([&] { import(declared_weight_model({big, big, big})); });
  expect_mentions(message, {"'w'", "more than 2^64 bytes", "corrupt"});
}

TEST(ResourceBounds, InitializerWithDataOverTheLimitIsRefusedByName) {
  const std::string raw(2 * kMiB, '\0');  // 512 x 1024 float32 zeros
  const onnx::ModelProto m = declared_weight_model({512, 1024}, raw);
  ScopedMemoryLimit limit(memory_in_use() + kMiB);
  const std::string message = error_of<MemoryLimitError>([&] { import(m); });
  expect_mentions(message, {"'w'", "hostile.onnx", "[512, 1024]", "2.00 MiB", "--max-memory"});
}

TEST(ResourceBounds, DeclaredInputShapeBeyondTheBudgetIsRefusedAtImport) {
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{kMillion, kMillion, -1},
                                            std::vector<int64_t>{int64_t{1} << 40, int64_t{1} << 40}}) {
    onnx::ModelProto m = model(13);
    auto* g = m.mutable_graph();
    *g->add_input() = value_info("huge_input", shape);
    *g->add_output() = value_info("y", {});
    *g->add_node() = node("Identity", {"huge_input"}, {"y"}, "id");
    if (shape.back() == -1)  // an unknown dimension: no dim_value
      g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(2)->set_dim_param("n");
    const std::string message = error_of<MemoryLimitError>([&] { import(m); });
    expect_mentions(message, {"input 'huge_input'", "hostile.onnx", "--max-memory"});
  }
}

// ---- external data ---------------------------------------------------------------------------

// w: float32 [2^38] (2^40 bytes) kept in `location` at `offset`, `length`.
onnx::ModelProto external_weight_model(const std::string& offset, const std::string& length) {
  onnx::ModelProto m = declared_weight_model({int64_t{1} << 38});
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  for (auto [key, value] : {std::pair<std::string, std::string>{"location", "w.bin"},
                            {"offset", offset}, {"length", length}}) {
    auto* entry = w->add_external_data();
    entry->set_key(key);
    entry->set_value(value);
  }
  return m;
}

TEST(ResourceBounds, ExternalDataLengthBeyondTheFileIsRefused) {
  TempDir dir;
  write_file(dir.path / "w.bin", std::string(72, '\0'));
  const std::string tera = std::to_string(int64_t{1} << 40);
  expect_mentions(error_of([&] { import(external_weight_model("0", tera), dir.path); }),
                  {"'w'", "length 1099511627776", "exceeds the 72 bytes"});
  // offset + length would overflow int64 (and wrap to a small number) if added.
  const std::string huge = std::to_string(int64_t{1} << 62);
  expect_mentions(error_of([&] { import(external_weight_model(huge, huge), dir.path); }),
                  {"'w'", "exceeds the 72 bytes"});
}

TEST(ResourceBounds, ExternalDataOfATebibyteIsRefusedBeforeReading) {
  TempDir dir;
  std::error_code ec;
  write_file(dir.path / "w.bin", "");
  fs::resize_file(dir.path / "w.bin", uint64_t{1} << 40, ec);  // sparse: no disk space used
  if (ec) GTEST_SKIP() << "this file system cannot hold a sparse 1 TiB file: " << ec.message();
  ScopedMemoryLimit limit(uint64_t{1} << 30);
  const std::string message = error_of<MemoryLimitError>(
      [&] { import(external_weight_model("0", std::to_string(int64_t{1} << 40)), dir.path); });
  expect_mentions(message, {"'w'", "[274877906944]", "1.00 TiB", "--max-memory"});
}

// ---- .npy headers --------------------------------------------------------------------------

std::string npy_with_header(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST(ResourceBounds, NpyHeaderDeclaringAHugeShapeIsRefusedBeforeAllocating) {
  const uint64_t before = memory_in_use();
  const std::string trillion = npy_with_header(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", std::string(16, '\0'));
  expect_mentions(error_of([&] { parse_npy(trillion, "huge.npy"); }),
                  {"huge.npy", "[1000000, 1000000]", "4000000000000 bytes", "has 16"});
  const std::string wrapping = npy_with_header(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (7, 7905747460161236407), }", std::string(4, '\0'));
  expect_mentions(error_of([&] { parse_npy(wrapping, "wrap.npy"); }), {"wrap.npy", "impossibly large"});
  EXPECT_EQ(memory_in_use(), before);
}

TEST(ResourceBounds, NpyDataOverTheLimitIsRefusedByFile) {
  const std::string bytes = serialize_npy(Tensor(DType::Float32, {512, 1024}));
  ScopedMemoryLimit limit(memory_in_use() + kMiB);
  expect_mentions(error_of<MemoryLimitError>([&] { parse_npy(bytes, "big.npy"); }),
                  {"big.npy", "[512, 1024]", "--max-memory"});
}

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

// A .npz (zip) holding one deflated member "a.npy" with the bytes `npy`, built with zlib.
std::string deflated_npz(const std::string& npy) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string packed(deflateBound(&z, npy.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(npy.data()));
  z.avail_in = static_cast<uInt>(npy.size());
  z.next_out = reinterpret_cast<Bytef*>(packed.data());
  z.avail_out = static_cast<uInt>(packed.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  packed.resize(z.total_out);
  deflateEnd(&z);
  const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(npy.data()), npy.size()));
  const std::string name = "a.npy";
  // The fields local and central headers share: method, time and date, CRC, sizes, name length,
  // extra length (zip APPNOTE 4.3.7 and 4.3.12).
  auto common_fields = [&](std::string& out) {
    put_le(out, 8, 2);
    put_le(out, 0, 4);
    put_le(out, crc, 4);
    put_le(out, packed.size(), 4);
    put_le(out, npy.size(), 4);
    put_le(out, name.size(), 2);
    put_le(out, 0, 2);
  };
  std::string zip;
  put_le(zip, 0x04034b50, 4);  // local header: signature, version needed, flags
  put_le(zip, 20, 2);
  put_le(zip, 0, 2);
  common_fields(zip);
  zip += name + packed;
  const size_t directory = zip.size();
  put_le(zip, 0x02014b50, 4);  // central header: signature, version made by, needed, flags
  put_le(zip, 20, 2);
  put_le(zip, 20, 2);
  put_le(zip, 0, 2);
  common_fields(zip);
  put_le(zip, 0, 2);  // comment length
  put_le(zip, 0, 2);  // disk
  put_le(zip, 0, 2);  // internal attributes
  put_le(zip, 0, 4);  // external attributes
  put_le(zip, 0, 4);              // local header offset
  zip += name;
  const size_t directory_size = zip.size() - directory;
  put_le(zip, 0x06054b50, 4);  // end of central directory: disks, entries, size, offset, comment
  put_le(zip, 0, 4);
  put_le(zip, 1, 2);
  put_le(zip, 1, 2);
  put_le(zip, directory_size, 4);
  put_le(zip, directory, 4);
  put_le(zip, 0, 2);
  return zip;
}

TEST(ResourceBounds, NpzMemberInflatingBeyondTheLimitIsRefused) {
  TempDir dir;
  // 2 MiB of zeros deflate to a few KiB: the size only shows while inflating.
  const std::string npy = serialize_npy(Tensor(DType::Float32, {512, 1024}));
  const std::string zip = deflated_npz(npy);
  ASSERT_LT(zip.size(), npy.size() / 100);
  write_file(dir.path / "bomb.npz", zip);
  ASSERT_EQ(read_npz(dir.path / "bomb.npz").at("a").numel(), 512 * 1024);  // readable with room
  ScopedMemoryLimit limit(memory_in_use() + kMiB);
  expect_mentions(error_of<MemoryLimitError>([&] { read_npz(dir.path / "bomb.npz"); }),
                  {"bomb.npz", "member 'a.npy'", "--max-memory"});
}

// ---- sizes computed at run time --------------------------------------------------------------

// A graph whose node `op` (named "hostile") reads the inputs given, computing "out".
onnx::ModelProto one_node_model(const std::string& op, const std::vector<onnx::ValueInfoProto>& inputs,
                                const std::vector<std::string>& node_inputs, int64_t opset = 13) {
  onnx::ModelProto m = model(opset);
  auto* g = m.mutable_graph();
  for (const auto& input : inputs) *g->add_input() = input;
  *g->add_output() = value_info("out", {});
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  *g->add_node() = node(op, node_inputs, {"out"}, "hostile");
  return m;
}

// Both kernel sets refuse the run and name the node and the value it computes.
void expect_refused_at_run(const onnx::ModelProto& m, const std::map<std::string, Tensor>& inputs) {
  auto graph = std::make_shared<const Graph>(import(m));
  for (bool reference : {true, false}) {
    SCOPED_TRACE(reference ? "reference kernels" : "fast kernels");
    SessionOptions options;
    options.reference_kernels_only = reference;
    Session session(graph, options);
    const uint64_t before = memory_in_use();
    const std::string message = error_of<MemoryLimitError>([&] { session.run(inputs); });
    expect_mentions(message, {"node 'hostile'", "computing 'out'", "--max-memory"});
    EXPECT_EQ(message.find("node 'hostile'"), message.rfind("node 'hostile'")) << "named twice";
    EXPECT_EQ(memory_in_use(), before) << "a refused run must release what it held";
  }
}

Tensor ints(std::vector<int64_t> values) {
  const int64_t n = static_cast<int64_t>(values.size());
  return Tensor::from_vector<int64_t>({n}, values);
}

TEST(ResourceBounds, ConstantOfShapeAskedForATrillionElements) {
  expect_refused_at_run(one_node_model("ConstantOfShape", {value_info("shape", {2}, onnx::TensorProto::INT64)},
                                       {"shape"}),
                        {{"shape", ints({kMillion, kMillion})}});
}

TEST(ResourceBounds, ConstantOfShapeFromAnInitializerIsNamedDespiteConstantFolding) {
  onnx::ModelProto m = one_node_model("ConstantOfShape", {}, {"shape"});
  tensor_to_proto(ints({kMillion, kMillion}), "shape", m.mutable_graph()->add_initializer());
  expect_refused_at_run(m, {});
}

TEST(ResourceBounds, ExpandToATrillionElements) {
  expect_refused_at_run(
      one_node_model("Expand", {value_info("x", {1}), value_info("shape", {2}, onnx::TensorProto::INT64)},
                     {"x", "shape"}),
      {{"x", Tensor::from_vector<float>({1}, {1.0f})}, {"shape", ints({kMillion, kMillion})}});
}

TEST(ResourceBounds, TileByHugeAndOverflowingRepeats) {
  const onnx::ModelProto m = one_node_model(
      "Tile", {value_info("x", {2, 2}), value_info("repeats", {2}, onnx::TensorProto::INT64)}, {"x", "repeats"});
  const Tensor x(DType::Float32, {2, 2});
  expect_refused_at_run(m, {{"x", x}, {"repeats", ints({kMillion, kMillion})}});
  expect_refused_at_run(m, {{"x", x}, {"repeats", ints({int64_t{1} << 62, 1})}});
}

TEST(ResourceBounds, ResizeToHugeSizesAndInfiniteScales) {
  const Tensor x(DType::Float32, {1, 1, 2, 2});
  expect_refused_at_run(
      one_node_model("Resize", {value_info("x", {1, 1, 2, 2}), value_info("sizes", {4}, onnx::TensorProto::INT64)},
                     {"x", "", "", "sizes"}),
      {{"x", x}, {"sizes", ints({1, 1, kMillion, kMillion})}});
  const float inf = std::numeric_limits<float>::infinity();
  expect_refused_at_run(
      one_node_model("Resize", {value_info("x", {1, 1, 2, 2}), value_info("scales", {4})}, {"x", "", "scales"}),
      {{"x", x}, {"scales", Tensor::from_vector<float>({4}, {1, 1, inf, inf})}});
}

// After a Conv, fast runs resize in oneDNN's blocked layout, outside Tensor: that kernel must
// decline what the budget cannot hold, so that the reference kernel refuses it by name.
TEST(ResourceBounds, ResizeAfterAConvInBlockedLayoutIsRefusedToo) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 1, 4, 4});
  *g->add_output() = value_info("out", {1, 1, kMillion, kMillion});
  tensor_to_proto(Tensor::from_vector<float>({1, 1, 1, 1}, {2.0f}), "w", g->add_initializer());
  tensor_to_proto(ints({1, 1, kMillion, kMillion}), "sizes", g->add_initializer());
  *g->add_node() = node("Conv", {"x", "w"}, {"c"}, "conv");
  *g->add_node() = node("Resize", {"c", "", "", "sizes"}, {"out"}, "hostile");
  expect_refused_at_run(m, {{"x", Tensor(DType::Float32, {1, 1, 4, 4})}});
}

// Fast runs keep Conv+Relu's output in a oneDNN buffer, not a Tensor; the budget counts those
// buffers too, or a fused run could exceed --max-memory unseen.
TEST(ResourceBounds, BlockedLayoutBuffersCountAgainstTheBudget) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 8, 64, 64});
  *g->add_output() = value_info("out", {1, 8, 1, 1});
  tensor_to_proto(Tensor(DType::Float32, {8, 8, 3, 3}), "w", g->add_initializer());
  auto conv = node("Conv", {"x", "w"}, {"c"}, "conv");
  auto* pads = conv.add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  *g->add_node() = conv;
  *g->add_node() = node("Relu", {"c"}, {"r"}, "relu");
  *g->add_node() = node("GlobalAveragePool", {"r"}, {"out"}, "gap");
  auto graph = std::make_shared<const Graph>(import(m));
  const Tensor x(DType::Float32, {1, 8, 64, 64});  // 128 KiB, as is every activation
  for (bool reference : {true, false}) {
    SCOPED_TRACE(reference ? "reference kernels" : "fast kernels");
    SessionOptions options;
    options.reference_kernels_only = reference;
    Session session(graph, options);
    ASSERT_EQ(session.run({{"x", x}})[0].numel(), 8);  // runs with the default budget
    ScopedMemoryLimit limit(memory_in_use() + 64 * 1024);
    expect_mentions(error_of<MemoryLimitError>([&] { session.run({{"x", x}}); }),
                    {"node '", "computing '", "--max-memory"});
  }
}

TEST(ResourceBounds, PadByHugeAndOverflowingAmounts) {
  const onnx::ModelProto m = one_node_model(
      "Pad", {value_info("x", {2, 2}), value_info("pads", {4}, onnx::TensorProto::INT64)}, {"x", "pads"});
  const Tensor x(DType::Float32, {2, 2});
  expect_refused_at_run(m, {{"x", x}, {"pads", ints({0, 0, kMillion, kMillion})}});
  const int64_t half = int64_t{1} << 62;
  expect_refused_at_run(m, {{"x", x}, {"pads", ints({half, 0, half, 0})}});
}

TEST(ResourceBounds, RangeWithAHugeOrInfiniteCount) {
  const onnx::ModelProto m = one_node_model(
      "Range", {value_info("start", {}), value_info("limit", {}), value_info("delta", {})},
      {"start", "limit", "delta"});
  for (float limit : {1e13f, 1e30f, std::numeric_limits<float>::infinity()})
    expect_refused_at_run(m, {{"start", Tensor::scalar<float>(0)}, {"limit", Tensor::scalar<float>(limit)},
                              {"delta", Tensor::scalar<float>(1)}});
}

// MatMul broadcasts the batch axes of its operands: two 4 MB inputs ask for a 4 TB output, and
// the reference kernel's batch index maps (8 bytes per batch entry) come before it.
TEST(ResourceBounds, MatMulBatchBroadcastToATrillion) {
  const onnx::ModelProto m = one_node_model(
      "MatMul", {value_info("a", {kMillion, 1, 1, 1}), value_info("b", {1, kMillion, 1, 1})}, {"a", "b"});
  expect_refused_at_run(m, {{"a", Tensor(DType::Float32, {kMillion, 1, 1, 1})},
                            {"b", Tensor(DType::Float32, {1, kMillion, 1, 1})}});
}

TEST(ResourceBounds, ReshapeToAShapeWhoseProductWrapsAroundIsRefused) {
  // [7, 0x6DB6DB6DB6DB6DB7] has "1 element" in wrapping arithmetic: accepting it would make a
  // one-element buffer look like 2^65 elements to every kernel after it.
  const onnx::ModelProto m = one_node_model(
      "Reshape", {value_info("x", {1}), value_info("shape", {2}, onnx::TensorProto::INT64)}, {"x", "shape"});
  expect_refused_at_run(m, {{"x", Tensor::from_vector<float>({1}, {1.0f})},
                            {"shape", ints({7, 0x6DB6DB6DB6DB6DB7})}});
}

// ---- nesting ---------------------------------------------------------------------------------

// out = If(cond) { If(cond) { ... Neg(x) ... } else x } else x, `depth` Ifs deep.
onnx::ModelProto nested_if_model(int depth) {
  onnx::GraphProto body;
  body.set_name("b0");
  *body.add_node() = node("Neg", {"x"}, {"y0"}, "neg");
  *body.add_output() = value_info("y0", {1});
  for (int level = 1; level <= depth; ++level) {
    const std::string n = std::to_string(level);
    onnx::NodeProto if_node = node("If", {"cond"}, {"y" + n}, "if" + n);
    onnx::GraphProto otherwise;
    otherwise.set_name("else" + n);
    *otherwise.add_node() = node("Identity", {"x"}, {"e" + n}, "id" + n);
    *otherwise.add_output() = value_info("e" + n, {1});
    auto* then_attr = if_node.add_attribute();
    then_attr->set_name("then_branch");
    then_attr->set_type(onnx::AttributeProto::GRAPH);
    *then_attr->mutable_g() = std::move(body);  // moved, not copied: building stays linear
    auto* else_attr = if_node.add_attribute();
    else_attr->set_name("else_branch");
    else_attr->set_type(onnx::AttributeProto::GRAPH);
    *else_attr->mutable_g() = std::move(otherwise);
    body = onnx::GraphProto();
    body.set_name("b" + n);
    *body.add_node() = std::move(if_node);
    *body.add_output() = value_info("y" + n, {1});
  }
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("cond", {}, onnx::TensorProto::BOOL);
  *g->add_input() = value_info("x", {1});
  *g->add_node() = std::move(*body.mutable_node(0));
  *g->add_output() = value_info("y" + std::to_string(depth), {1});
  return m;
}

TEST(ResourceBounds, NestingWithinTheLimitImportsAndRuns) {
  // 40 levels is more than protobuf's default parsing limit allowed before (100 messages).
  auto graph = std::make_shared<const Graph>(import(nested_if_model(40)));
  const Tensor x = Tensor::from_vector<float>({1}, {2.5f});
  for (bool reference : {true, false}) {
    SessionOptions options;
    options.reference_kernels_only = reference;
    Session session(graph, options);
    EXPECT_EQ(session.run({{"cond", Tensor::scalar<bool>(true)}, {"x", x}})[0].to_vector<float>(),
              std::vector<float>{-2.5f});
    EXPECT_EQ(session.run({{"cond", Tensor::scalar<bool>(false)}, {"x", x}})[0].to_vector<float>(),
              std::vector<float>{2.5f});
  }
}

TEST(ResourceBounds, NestingBeyondTheLimitIsRefusedBeforeRecursing) {
  expect_mentions(error_of([] { import(nested_if_model(100)); }),
                  {"hostile.onnx", "nests subgraphs 100 deep", "at most 64"});
  // Thousands deep: protobuf's parser stops at its nesting limit, and the message says so.
  expect_mentions(error_of([] { import(nested_if_model(3000)); }), {"hostile.onnx", "more than 1024 deep"});
}

// ---- the command line ------------------------------------------------------------------------

struct Outcome {
  int exit_code = -1;
  std::string said;
};

Outcome run_ocs(const std::vector<std::string>& args, const fs::path& scratch) {
  auto quote = [](const std::string& arg) {
    std::string out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  std::string command = quote(OCS_BINARY);
  for (const auto& a : args) command += " " + quote(a);
  const fs::path said = scratch / "said.txt";
  command += " > " + quote(said.string()) + " 2>&1";
  const int status = std::system(command.c_str());
  Outcome outcome;
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(said);
  std::ostringstream text;
  text << in.rdbuf();
  outcome.said = text.str();
  return outcome;
}

TEST(ResourceBoundsCli, MaxMemoryRefusesARunThatNeedsMoreAndNamesTheTensor) {
  TempDir dir;
  // big = Expand(x, [1024, 1024]): 4 MiB of float32 from a one-element input.
  onnx::ModelProto m = one_node_model("Expand", {value_info("x", {1})}, {"x", "shape"});
  m.mutable_graph()->mutable_node(0)->set_name("the_expand");
  m.mutable_graph()->mutable_node(0)->set_output(0, "big");
  m.mutable_graph()->mutable_output(0)->set_name("big");
  tensor_to_proto(ints({1024, 1024}), "shape", m.mutable_graph()->add_initializer());
  write_file(dir.path / "expand.onnx", serialize(m));
  write_npy(dir.path / "x.npy", Tensor::from_vector<float>({1}, {1.0f}));
  auto run = [&](const std::string& max_memory) {
    return run_ocs({"run", (dir.path / "expand.onnx").string(), "--input", "x=" + (dir.path / "x.npy").string(),
                    "--output-dir", (dir.path / "out").string(), "--max-memory", max_memory},
                   dir.path);
  };

  const Outcome refused = run("1M");
  EXPECT_EQ(refused.exit_code, 2) << refused.said;
  expect_mentions(refused.said, {"error: ", "Expand node 'the_expand'", "computing 'big'", "[1024, 1024]",
                                 "4.00 MiB", "1.00 MiB", "--max-memory"});
  EXPECT_FALSE(fs::exists(dir.path / "out" / "big.npy"));

  const Outcome enough = run("64M");  // the same run fits a larger budget
  EXPECT_EQ(enough.exit_code, 0) << enough.said;
  EXPECT_TRUE(fs::exists(dir.path / "out" / "big.npy"));

  const Outcome nonsense = run("lots");
  EXPECT_EQ(nonsense.exit_code, 2) << nonsense.said;
  expect_mentions(nonsense.said, {"--max-memory", "'lots'", "512M"});
}

TEST(ResourceBoundsCli, EveryCommandThatRunsModelsTakesMaxMemory) {
  TempDir dir;
  for (const char* command : {"run", "eval", "quantize", "sweep", "stream"}) {
    const Outcome help = run_ocs({command, "--help"}, dir.path);
    EXPECT_EQ(help.exit_code, 0) << command;
    expect_mentions(help.said, {"--max-memory"});
  }
}

}  // namespace
}  // namespace ocs
