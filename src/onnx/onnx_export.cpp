// Graph -> ONNX. Constants of the main graph become initializers; constants hoisted inside
// subgraphs are written back as Constant nodes at the top of their body (ONNX Runtime and the
// checker accept both; Constant nodes keep subgraph bodies self-describing).
#include "io/atomic_file.h"
#include "core/option_names.h"
#include "onnx/onnx_io.h"

#include "ir/node_names.h"
#include "onnx/tensor_proto.h"

#include <onnx/checker.h>

#include <algorithm>
#include <fstream>

namespace ocs {
namespace fs = std::filesystem;

namespace {

void set_type(const Value& value, onnx::ValueInfoProto* info) {
  info->set_name(value.name);
  auto* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(value.dtype));
  if (value.shape) {
    auto* shape = tt->mutable_shape();
    for (int64_t d : *value.shape) {
      auto* dim = shape->add_dim();
      if (d >= 0) dim->set_dim_value(d);
    }
  }
}

void write_graph(const Graph& graph, onnx::GraphProto* proto, bool top_level);

void write_attribute(const std::string& key, const Attribute& attr, onnx::AttributeProto* a) {
  using AP = onnx::AttributeProto;
  a->set_name(key);
  switch (attr.kind) {
    case Attribute::Kind::Float: a->set_type(AP::FLOAT); a->set_f(attr.f); break;
    case Attribute::Kind::Int: a->set_type(AP::INT); a->set_i(attr.i); break;
    case Attribute::Kind::String: a->set_type(AP::STRING); a->set_s(attr.s); break;
    case Attribute::Kind::Tensor: a->set_type(AP::TENSOR); tensor_to_proto(attr.t, "", a->mutable_t()); break;
    case Attribute::Kind::Graph: a->set_type(AP::GRAPH); write_graph(*attr.g, a->mutable_g(), false); break;
    case Attribute::Kind::Floats:
      a->set_type(AP::FLOATS);
      for (float f : attr.floats) a->add_floats(f);
      break;
    case Attribute::Kind::Ints:
      a->set_type(AP::INTS);
      for (int64_t i : attr.ints) a->add_ints(i);
      break;
    case Attribute::Kind::Strings:
      a->set_type(AP::STRINGS);
      for (const auto& s : attr.strings) a->add_strings(s);
      break;
  }
}

void write_graph(const Graph& graph, onnx::GraphProto* proto, bool top_level) {
  proto->set_name(graph.name.empty() ? "main" : graph.name);
  for (const Value& v : graph.values) {
    if (!v.constant) continue;
    if (top_level) {
      tensor_to_proto(*v.constant, v.name, proto->add_initializer());
    } else {
      auto* node = proto->add_node();
      node->set_op_type("Constant");
      node->set_name(v.name + "_constant");
      node->add_output(v.name);
      auto* a = node->add_attribute();
      a->set_name("value");
      a->set_type(onnx::AttributeProto::TENSOR);
      tensor_to_proto(*v.constant, v.name, a->mutable_t());
    }
  }
  for (ValueId id : graph.inputs) set_type(graph.values[id], proto->add_input());
  // Before IR version 4 every initializer must also be listed as a graph input.
  if (top_level && graph.ir_version < 4)
    for (const Value& v : graph.values)
      if (v.constant) set_type(v, proto->add_input());
  for (ValueId id : graph.outputs) set_type(graph.values[id], proto->add_output());
  for (const Node& node : graph.nodes) {
    auto* n = proto->add_node();
    n->set_name(node.name);
    n->set_op_type(node.op_type);
    if (!node.domain.empty()) n->set_domain(node.domain);
    for (ValueId in : node.inputs) n->add_input(in == kNoValue ? "" : graph.values[in].name);
    for (ValueId out : node.outputs) n->add_output(out == kNoValue ? "" : graph.values[out].name);
    for (const auto& [key, attr] : node.attributes) write_attribute(key, attr, n->add_attribute());
    for (ValueId out : node.outputs) {
      if (out == kNoValue || graph.is_graph_output(out)) continue;
      const Value& v = graph.values[out];
      if (v.dtype != DType::Undefined && v.shape) set_type(v, proto->add_value_info());
    }
  }
}

// ONNX 1.12's checker demands a shape on every graph input and output, although the IR makes it
// optional (absent = rank unknown, which import accepts and keeps). Such a graph is checked as a
// copy where they have one; the model written keeps the rank unknown (writing an empty shape
// would claim a scalar).
void check_exported(const onnx::ModelProto& model) {
  auto shapeless = [](const onnx::ValueInfoProto& v) { return !v.type().tensor_type().has_shape(); };
  const auto& g = model.graph();
  if (std::none_of(g.input().begin(), g.input().end(), shapeless) &&
      std::none_of(g.output().begin(), g.output().end(), shapeless)) {
    onnx::checker::check_model(model);
    return;
  }
  onnx::ModelProto copy = model;
  for (auto& v : *copy.mutable_graph()->mutable_input())
    if (shapeless(v)) v.mutable_type()->mutable_tensor_type()->mutable_shape();
  for (auto& v : *copy.mutable_graph()->mutable_output())
    if (shapeless(v)) v.mutable_type()->mutable_tensor_type()->mutable_shape();
  onnx::checker::check_model(copy);
}

// A copy whose subgraphs are copies too (a Graph copy shares them), so it can be renamed.
Graph deep_copy(const Graph& graph) {
  Graph copy = graph;
  for (Node& node : copy.nodes)
    for (auto& [key, attr] : node.attributes)
      if (attr.g) attr.g = std::make_shared<Graph>(deep_copy(*attr.g));
  return copy;
}

onnx::ModelProto to_model(const Graph& input) {
  // ONNX Runtime refuses two nodes of one name; passes may have made some (ir/node_names.h).
  Graph graph = deep_copy(input);
  make_node_names_unique(graph);
  onnx::ModelProto model;
  model.set_ir_version(graph.ir_version);
  model.set_producer_name("ocs");
  for (const auto& [domain, version] : graph.opsets) {
    auto* op = model.add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
  }
  write_graph(graph, model.mutable_graph(), true);
  try {
    check_exported(model);
  } catch (const std::exception& e) {
    internal_error_at(__FILE__, __LINE__, fmt::format("exported model fails the ONNX checker: {}", e.what()));
  }
  return model;
}

}  // namespace

std::string export_onnx_bytes(const Graph& graph) {
  graph.verify();
  std::string bytes;
  if (!to_model(graph).SerializeToString(&bytes))
    user_error("the model is too large to serialize in one file (over 2 GiB)");
  return bytes;
}

void export_onnx_file(const Graph& graph, const fs::path& path, bool overwrite) {
  std::error_code ec;
  if (fs::exists(path, ec) && !overwrite)
    user_error("'{}' already exists; pass {} to overwrite it", path.string(), option_name("--force", "overwrite"));
  const std::string bytes = export_onnx_bytes(graph);
  write_file_atomically(path, [&](std::ofstream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace ocs
