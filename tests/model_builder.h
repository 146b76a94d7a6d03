// Builds small ONNX models in tests, through the real protobuf classes, so that tests exercise
// import exactly as a user's file would.
#pragma once

#include "onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace ocs::testing {

inline onnx::ValueInfoProto value_info(const std::string& name, std::vector<int64_t> shape,
                                       int32_t elem_type = onnx::TensorProto::FLOAT) {
  onnx::ValueInfoProto v;
  v.set_name(name);
  auto* tt = v.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  tt->mutable_shape();  // present even for scalars (rank 0)
  for (int64_t d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
  return v;
}

inline onnx::NodeProto node(const std::string& op, std::vector<std::string> in,
                            std::vector<std::string> out, const std::string& name) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& s : in) n.add_input(s);
  for (auto& s : out) n.add_output(s);
  return n;
}

inline void add_ints_attribute(onnx::NodeProto& n, const std::string& key, const std::vector<int64_t>& values) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

inline void add_string_attribute(onnx::NodeProto& n, const std::string& key, const std::string& value) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

inline void add_tensor_attribute(onnx::NodeProto& n, const std::string& key, const Tensor& t) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::TENSOR);
  tensor_to_proto(t, "", a->mutable_t());
}

inline onnx::ModelProto model(int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  m.mutable_graph()->set_name("g");
  return m;
}

// y = x + w, with w an initializer, and z = y * c with c from a Constant node.
inline onnx::ModelProto add_mul_model() {
  onnx::ModelProto m = model();
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 3});
  *g->add_output() = value_info("z", {2, 3});
  tensor_to_proto(Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}), "w", g->add_initializer());
  auto c = node("Constant", {}, {"c"}, "const_c");
  add_tensor_attribute(c, "value", Tensor::from_vector<float>({3}, {10, 20, 30}));
  *g->add_node() = c;
  *g->add_node() = node("Add", {"x", "w"}, {"y"}, "add");
  *g->add_node() = node("Mul", {"y", "c"}, {"z"}, "mul");
  return m;
}

inline std::string serialize(const onnx::ModelProto& m) {
  std::string bytes;
  m.SerializeToString(&bytes);
  return bytes;
}

}  // namespace ocs::testing
