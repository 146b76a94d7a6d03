// Import and export: validation at the boundary, Constant hoisting, If subgraphs with outer-scope
// reads, external data (and its path checks), and the export -> import round trip.
#include "onnx/onnx_io.h"
#include "onnx/tensor_proto.h"
#include "model_builder.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <unistd.h>

namespace ocs {
namespace {
namespace fs = std::filesystem;

using namespace ocs::testing;

ImportOptions no_kernels() {
  ImportOptions o;
  o.require_kernels = false;
  return o;
}

TEST(OnnxImport, HoistsConstantsAndKeepsInitializers) {
  std::string bytes;
  add_mul_model().SerializeToString(&bytes);
  Graph g = import_onnx_bytes(bytes, ".", "test", no_kernels());
  ASSERT_EQ(g.nodes.size(), 2u);  // the Constant node became a constant value
  ValueId c = g.find_value("c");
  ASSERT_NE(c, kNoValue);
  ASSERT_TRUE(g.values[c].constant.has_value());
  EXPECT_EQ(g.values[c].constant->to_vector<float>(), (std::vector<float>{10, 20, 30}));
  ValueId w = g.find_value("w");
  EXPECT_EQ(g.values[w].constant->to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.values[g.inputs[0]].name, "x");
  EXPECT_EQ(*g.values[g.inputs[0]].shape, (Shape{2, 3}));
  EXPECT_EQ(g.opset(""), 13);
  EXPECT_EQ(g.consumers(c), (std::vector<NodeId>{1}));
  EXPECT_EQ(g.producer(g.find_value("y")), std::optional<NodeId>(0));
}

TEST(OnnxImport, RoundTripKeepsStructureAndData) {
  std::string bytes;
  add_mul_model().SerializeToString(&bytes);
  Graph first = import_onnx_bytes(bytes, ".", "test", no_kernels());
  Graph second = import_onnx_bytes(export_onnx_bytes(first), ".", "round trip", no_kernels());
  ASSERT_EQ(second.nodes.size(), first.nodes.size());
  for (size_t i = 0; i < first.nodes.size(); ++i) {
    EXPECT_EQ(second.nodes[i].op_type, first.nodes[i].op_type);
    EXPECT_EQ(second.nodes[i].name, first.nodes[i].name);
  }
  for (const Value& v : first.values) {
    if (!v.constant) continue;
    ValueId id = second.find_value(v.name);
    ASSERT_NE(id, kNoValue) << v.name;
    EXPECT_EQ(second.values[id].constant->to_vector<float>(), v.constant->to_vector<float>());
  }
}

TEST(OnnxImport, RejectsGarbageWithUserErrors) {
  EXPECT_THROW(import_onnx_bytes("", ".", "empty", no_kernels()), UserError);
  EXPECT_THROW(import_onnx_bytes(std::string(100, '\xff'), ".", "junk", no_kernels()), UserError);
  std::string bytes;
  add_mul_model().SerializeToString(&bytes);
  EXPECT_THROW(import_onnx_bytes(bytes.substr(0, bytes.size() / 2), ".", "half", no_kernels()), UserError);
  EXPECT_THROW(import_onnx_file("/nonexistent/model.onnx"), UserError);
}

TEST(OnnxImport, RejectsNanWeightsNamingTheTensor) {
  onnx::ModelProto m = add_mul_model();
  tensor_to_proto(Tensor::from_vector<float>({2, 3}, {1, 2, NAN, 4, 5, 6}), "w",
                  m.mutable_graph()->mutable_initializer(0));
  std::string bytes;
  m.SerializeToString(&bytes);
  try {
    import_onnx_bytes(bytes, ".", "nan model", no_kernels());
    FAIL() << "NaN weight accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
  }
}

TEST(OnnxImport, UnsupportedOpsAreAllListed) {
  onnx::ModelProto m = add_mul_model();
  auto* g = m.mutable_graph();
  *g->add_node() = node("FrobA", {"z"}, {"q"}, "first_bad");
  g->mutable_node(3)->set_domain("com.example");
  *g->add_node() = node("FrobB", {"q"}, {"r"}, "second_bad");
  g->mutable_node(4)->set_domain("com.example");
  auto* op = m.add_opset_import();
  op->set_domain("com.example");
  op->set_version(1);
  std::string bytes;
  m.SerializeToString(&bytes);
  try {
    import_onnx_bytes(bytes, ".", "frob model");
    FAIL() << "unknown ops accepted";
  } catch (const UserError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("FrobA 'first_bad'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("FrobB 'second_bad'"), std::string::npos) << msg;
  }
}

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per process and test: ctest runs the tests of this fixture in parallel.
    dir_ = fs::temp_directory_path() /
           fmt::format("ocs_ext_{}_{}", getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "model");
    std::vector<float> w = {1, 2, 3, 4, 5, 6};
    std::ofstream(dir_ / "model" / "w.bin", std::ios::binary).write(reinterpret_cast<char*>(w.data()), 24);
    std::ofstream(dir_ / "secret.bin", std::ios::binary).write(reinterpret_cast<char*>(w.data()), 24);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_model(const std::string& location) {
    onnx::ModelProto m = add_mul_model();
    auto* t = m.mutable_graph()->mutable_initializer(0);
    t->clear_raw_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* e = t->add_external_data();
    e->set_key("location");
    e->set_value(location);
    fs::path p = dir_ / "model" / "m.onnx";
    std::ofstream out(p, std::ios::binary);
    m.SerializeToOstream(&out);
    return p;
  }
  fs::path dir_;
};

TEST_F(ExternalData, ReadsDataNextToTheModel) {
  Graph g = import_onnx_file(write_model("w.bin"), no_kernels());
  EXPECT_EQ(g.values[g.find_value("w")].constant->to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_F(ExternalData, RefusesPathsOutsideTheModelFolder) {
  EXPECT_THROW(import_onnx_file(write_model("../secret.bin"), no_kernels()), UserError);
  EXPECT_THROW(import_onnx_file(write_model((dir_ / "secret.bin").string()), no_kernels()), UserError);
}

}  // namespace
}  // namespace ocs
