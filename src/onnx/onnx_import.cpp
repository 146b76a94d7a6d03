// ONNX -> Graph. All model validation happens here (STYLE.md: validate at the boundary).
#include "core/memory_budget.h"
#include "kernels/kernel.h"
#include "onnx/conv_kernel_shapes.h"
#include "onnx/onnx_io.h"

#include "ir/node_names.h"
#include "onnx/half_to_float.h"
#include "onnx/node_order.h"
#include "onnx/tensor_proto.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <google/protobuf/io/coded_stream.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

namespace ocs {
namespace fs = std::filesystem;

namespace {

struct ImportContext {
  fs::path base_dir;
  std::string origin;  // the file, for messages
  ImportOptions options;
  // Shapes and types known from graph inputs/outputs/value_info, by value name.
  std::unordered_map<std::string, const onnx::ValueInfoProto*> value_info;
};

// Names visible in a graph: its own values, then the enclosing graphs' (for subgraphs).
struct Scope {
  const Scope* parent = nullptr;
  const Graph* graph = nullptr;
  std::unordered_map<std::string, ValueId> ids;

  const Value* lookup_outer(const std::string& name) const {
    for (const Scope* s = parent; s; s = s->parent) {
      auto it = s->ids.find(name);
      if (it != s->ids.end()) return &s->graph->values[it->second];
    }
    return nullptr;
  }
};

// Declared types of graph inputs and outputs: a type we cannot hold is refused at import,
// naming the value, rather than failing somewhere inside a run.
void fill_type(Value& value, const onnx::TypeProto& type, const std::string& origin) {
  if (!type.has_tensor_type())
    user_error("'{}' in {} is not a tensor (sequences, maps and optionals); ocs does not support it",
               value.name, origin);
  const auto& tt = type.tensor_type();
  if (tt.elem_type() != 0) value.dtype = static_cast<DType>(tt.elem_type());
  if (tt.elem_type() != 0 && !dtype_supported(value.dtype))
    user_error("'{}' in {} has element type {} (ONNX code {}), which ocs does not support",
               value.name, origin, dtype_name(value.dtype), tt.elem_type());
  if (tt.has_shape()) {
    Shape shape;
    for (const auto& dim : tt.shape().dim())
      shape.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
    value.shape = shape;
  }
}

// An input whose declared dimensions alone (unknown ones counted as 1) exceed the memory budget
// could never be given; data readers size batches from these dimensions, so refuse it here.
void check_declared_input_size(const Value& value, const std::string& origin) {
  if (!value.shape || value.dtype == DType::Undefined) return;
  Shape known;
  for (int64_t d : *value.shape) known.push_back(d < 0 ? 1 : d);
  const std::optional<uint64_t> bytes = shape_bytes(known, dtype_size(value.dtype));
  if (!bytes || !memory_fits(*bytes))
    memory_refuse(bytes.value_or(UINT64_MAX), fmt::format("input '{}' in {}, declared as {} {},",
                  value.name, origin, dtype_name(value.dtype), shape_str(*value.shape)));
}

void check_finite(const Tensor& tensor, const std::string& name, const ImportContext& ctx) {
  if (!ctx.options.reject_nan_weights) return;
  auto scan = [&](auto tag) {
    using T = decltype(tag);
    const T* p = tensor.data<T>();
    for (int64_t i = 0; i < tensor.numel(); ++i)
      if (std::isnan(p[i]))
        user_error("weight '{}' in {} holds NaN (element {}); the model is broken. Re-export it "
                   "from a healthy checkpoint", name, ctx.origin, i);
  };
  if (tensor.dtype() == DType::Float32) scan(float{});
  if (tensor.dtype() == DType::Float64) scan(double{});
  if (dtype_is_half(tensor.dtype())) {
    // float16 NaN: exponent 0x1F and a nonzero fraction; bfloat16: exponent 0xFF, likewise.
    const bool f16 = tensor.dtype() == DType::Float16;
    const uint16_t exponent = f16 ? 0x7C00 : 0x7F80, fraction = f16 ? 0x03FF : 0x007F;
    const auto* bits = static_cast<const uint16_t*>(tensor.raw());
    for (int64_t i = 0; i < tensor.numel(); ++i)
      if ((bits[i] & exponent) == exponent && (bits[i] & fraction) != 0)
        user_error("weight '{}' in {} holds NaN (element {}); the model is broken. Re-export it "
                   "from a healthy checkpoint", name, ctx.origin, i);
  }
}

Value constant_value(const std::string& name, Tensor tensor) {
  Value v;
  v.name = name;
  v.dtype = tensor.dtype();
  v.shape = tensor.shape();
  v.constant = std::move(tensor);
  return v;
}

Tensor constant_node_tensor(const onnx::NodeProto& node, const ImportContext& ctx) {
  for (const auto& a : node.attribute()) {
    const std::string& key = a.name();
    if (key == "value") return tensor_from_proto(a.t(), ctx.base_dir, ctx.origin);
    if (key == "value_float") return Tensor::scalar<float>(a.f());
    if (key == "value_int") return Tensor::scalar<int64_t>(a.i());
    if (key == "value_floats")
      return Tensor::from_vector<float>({a.floats_size()}, {a.floats().begin(), a.floats().end()});
    if (key == "value_ints")
      return Tensor::from_vector<int64_t>({a.ints_size()}, {a.ints().begin(), a.ints().end()});
  }
  user_error("Constant node '{}' in {} has no value ocs supports (value, value_float(s), "
             "value_int(s)); strings and sparse tensors are not supported", node.name(), ctx.origin);
}

void convert_graph(const onnx::GraphProto& proto, Graph& graph, Scope& scope, ImportContext& ctx);

Attribute convert_attribute(const onnx::AttributeProto& a, const onnx::NodeProto& node, Scope& scope,
                            ImportContext& ctx) {
  Attribute attr;
  using AP = onnx::AttributeProto;
  switch (a.type()) {
    case AP::FLOAT: attr.kind = Attribute::Kind::Float; attr.f = a.f(); break;
    case AP::INT: attr.kind = Attribute::Kind::Int; attr.i = a.i(); break;
    case AP::STRING: attr.kind = Attribute::Kind::String; attr.s = a.s(); break;
    case AP::TENSOR:
      attr.kind = Attribute::Kind::Tensor;
      attr.t = tensor_from_proto(a.t(), ctx.base_dir, ctx.origin);
      break;
    case AP::GRAPH: {
      attr.kind = Attribute::Kind::Graph;
      attr.g = std::make_shared<Graph>();
      Scope inner;
      inner.parent = &scope;
      convert_graph(a.g(), *attr.g, inner, ctx);
      break;
    }
    case AP::FLOATS:
      attr.kind = Attribute::Kind::Floats;
      attr.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case AP::INTS:
      attr.kind = Attribute::Kind::Ints;
      attr.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case AP::STRINGS:
      attr.kind = Attribute::Kind::Strings;
      attr.strings.assign(a.strings().begin(), a.strings().end());
      break;
    default:
      user_error("{} node '{}' in {}: attribute '{}' has a kind ocs does not support ({})",
                 node.op_type(), node.name(), ctx.origin, a.name(), static_cast<int>(a.type()));
  }
  return attr;
}

ValueId define(Graph& graph, Scope& scope, Value value) {
  const std::string name = value.name;
  ValueId id = graph.add_value(std::move(value));
  scope.ids[name] = id;
  return id;
}

ValueId resolve_input(const std::string& name, const onnx::NodeProto& node, Graph& graph,
                      Scope& scope, const ImportContext& ctx) {
  if (name.empty()) return kNoValue;
  auto it = scope.ids.find(name);
  if (it != scope.ids.end()) return it->second;
  if (const Value* outer = scope.lookup_outer(name)) {
    Value v;
    v.name = name;
    v.dtype = outer->dtype;
    v.shape = outer->shape;
    v.outer_scope = true;
    return define(graph, scope, std::move(v));
  }
  user_error("{} node '{}' in {} reads '{}', which no input, initializer or earlier node defines",
             node.op_type(), node.name(), ctx.origin, name);
}

void convert_graph(const onnx::GraphProto& proto, Graph& graph, Scope& scope, ImportContext& ctx) {
  graph.name = proto.name();
  scope.graph = &graph;
  if (proto.sparse_initializer_size() > 0)
    user_error("graph '{}' in {} has sparse initializers, which ocs does not support",
               proto.name(), ctx.origin);
  for (const auto& init : proto.initializer()) {
    Tensor t = tensor_from_proto(init, ctx.base_dir, ctx.origin);
    check_finite(t, init.name(), ctx);
    define(graph, scope, constant_value(init.name(), std::move(t)));
  }
  for (const auto& input : proto.input()) {
    if (scope.ids.count(input.name())) continue;  // an initializer listed as input (IR < 4)
    Value v;
    v.name = input.name();
    fill_type(v, input.type(), ctx.origin);
    check_declared_input_size(v, ctx.origin);
    graph.inputs.push_back(define(graph, scope, std::move(v)));
  }
  for (const auto& np : proto.node()) {
    if (np.op_type() == "Constant" && (np.domain().empty() || np.domain() == "ai.onnx")) {
      if (np.output_size() != 1)
        user_error("Constant node '{}' in {} must have one output", np.name(), ctx.origin);
      Tensor t = constant_node_tensor(np, ctx);
      check_finite(t, np.output(0), ctx);
      define(graph, scope, constant_value(np.output(0), std::move(t)));
      continue;
    }
    Node node;
    node.name = np.name();
    node.op_type = np.op_type();
    node.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    for (const auto& in : np.input()) node.inputs.push_back(resolve_input(in, np, graph, scope, ctx));
    for (const auto& a : np.attribute()) {
      if (a.name() == "to" && a.type() == onnx::AttributeProto::INT &&
          !dtype_supported(static_cast<DType>(a.i())))
        user_error("{} node '{}' in {} converts to element type {} (ONNX code {}), which ocs does "
                   "not support", np.op_type(), np.name(), ctx.origin,
                   dtype_name(static_cast<DType>(a.i())), a.i());
      if (!a.ref_attr_name().empty())
        user_error("{} node '{}' in {} uses a reference attribute (functions are not supported)",
                   np.op_type(), np.name(), ctx.origin);
      node.attributes[a.name()] = convert_attribute(a, np, scope, ctx);
    }
    for (const auto& out : np.output()) {
      if (out.empty()) {
        node.outputs.push_back(kNoValue);
        continue;
      }
      if (scope.ids.count(out))
        user_error("{} node '{}' in {} writes '{}', which is already defined", np.op_type(),
                   np.name(), ctx.origin, out);
      Value v;
      v.name = out;
      if (auto it = ctx.value_info.find(out); it != ctx.value_info.end()) fill_type(v, it->second->type(), ctx.origin);
      node.outputs.push_back(define(graph, scope, std::move(v)));
    }
    graph.add_node(std::move(node));
  }
  for (const auto& output : proto.output()) {
    auto it = scope.ids.find(output.name());
    ValueId id;
    if (it != scope.ids.end()) {
      id = it->second;
    } else if (scope.lookup_outer(output.name())) {
      onnx::NodeProto fake;
      id = resolve_input(output.name(), fake, graph, scope, ctx);
    } else {
      user_error("graph output '{}' in {} is never produced", output.name(), ctx.origin);
    }
    Value& v = graph.values[id];
    if (v.dtype == DType::Undefined || !v.shape) {
      Value typed;
      typed.name = output.name();
      fill_type(typed, output.type(), ctx.origin);
      if (v.dtype == DType::Undefined) v.dtype = typed.dtype;
      if (!v.shape && !v.constant) v.shape = typed.shape;
    }
    graph.outputs.push_back(id);
  }
}

void collect_value_info(const onnx::GraphProto& g, ImportContext& ctx) {
  for (const auto& vi : g.value_info()) ctx.value_info[vi.name()] = &vi;
  for (const auto& vi : g.output()) ctx.value_info.emplace(vi.name(), &vi);
  for (const auto& node : g.node())
    for (const auto& a : node.attribute())
      if (a.has_g()) collect_value_info(a.g(), ctx);
}

void collect_unsupported(const Graph& graph, const KernelRegistry& registry,
                         std::vector<std::string>& out) {
  for (const Node& node : graph.nodes) {
    bool control_flow = node.domain.empty() && node.op_type == "If";
    if (!control_flow && !registry.find(node.domain, node.op_type))
      out.push_back(fmt::format("{}{} '{}'", node.domain.empty() ? "" : node.domain + ":",
                                node.op_type, node.name));
    for (const auto& [key, attr] : node.attributes)
      if (attr.g) collect_unsupported(*attr.g, registry, out);
  }
}

}  // namespace

std::vector<std::string> unsupported_nodes(const Graph& graph) {
  std::vector<std::string> out;
  collect_unsupported(graph, KernelRegistry::global(), out);
  return out;
}

namespace {

bool has_external_data(const onnx::GraphProto& g) {
  for (const auto& t : g.initializer())
    if (t.data_location() == onnx::TensorProto::EXTERNAL) return true;
  for (const auto& n : g.node())
    for (const auto& a : n.attribute())
      if ((a.has_t() && a.t().data_location() == onnx::TensorProto::EXTERNAL) ||
          (a.has_g() && has_external_data(a.g())))
        return true;
  return false;
}

// Subgraphs (If branches, Loop and Scan bodies) nest; every stage of import, planning and running
// walks them recursively. Deeper nesting than this is refused before any of it runs, so that a
// hostile model cannot overflow the stack. Real models nest a few levels.
constexpr int kMaxSubgraphDepth = 64;
// Protobuf's own nesting limit while parsing: an If level costs three messages (graph, node,
// attribute), types nest too. Beyond it parsing fails (the message says why it may have).
constexpr int kMaxMessageDepth = 1024;

bool parse_model_proto(const std::string& bytes, onnx::ModelProto& model) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return false;  // protobuf's 2 GiB limit
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               static_cast<int>(bytes.size()));
  input.SetRecursionLimit(kMaxMessageDepth);
  return model.ParseFromCodedStream(&input) && input.ConsumedEntireMessage();
}

// 0 for a graph without subgraphs. Recursion is bounded by kMaxMessageDepth.
int subgraph_depth(const onnx::GraphProto& g) {
  int deepest = 0;
  for (const auto& node : g.node())
    for (const auto& a : node.attribute()) {
      if (a.has_g()) deepest = std::max(deepest, 1 + subgraph_depth(a.g()));
      for (const auto& sub : a.graphs()) deepest = std::max(deepest, 1 + subgraph_depth(sub));
    }
  return deepest;
}

bool lacks_shape(const onnx::ValueInfoProto& value) {
  return value.type().has_tensor_type() && !value.type().tensor_type().has_shape();
}

bool has_shapeless_io(const onnx::GraphProto& g) {
  for (const auto& v : g.input())
    if (lacks_shape(v)) return true;
  for (const auto& v : g.output())
    if (lacks_shape(v)) return true;
  return false;
}

void add_missing_io_shapes(onnx::GraphProto& g) {
  for (auto& v : *g.mutable_input())
    if (lacks_shape(v)) v.mutable_type()->mutable_tensor_type()->mutable_shape();
  for (auto& v : *g.mutable_output())
    if (lacks_shape(v)) v.mutable_type()->mutable_tensor_type()->mutable_shape();
}

// `model_file` is set when the bytes come from a file: the ONNX checker then resolves external
// data next to it (after our own path checks have refused anything outside the model's folder).
Graph import_model(const std::string& bytes, const fs::path& base_dir, const std::string& origin,
                   const ImportOptions& options, const fs::path& model_file) {
  if (bytes.empty()) user_error("'{}' is empty; expected an ONNX model", origin);
  onnx::ModelProto model;
  if (!parse_model_proto(bytes, model))
    user_error("'{}' is not a valid ONNX model (protobuf parsing failed: the file is truncated, "
               "not ONNX, over 2 GiB, or nests messages more than {} deep, e.g. subgraphs inside "
               "subgraphs)", origin, kMaxMessageDepth);
  if (const int depth = subgraph_depth(model.graph()); depth > kMaxSubgraphDepth)
    user_error("'{}' nests subgraphs {} deep (If or Loop bodies inside one another); ocs accepts "
               "at most {} levels. Real models nest a few: the model is broken; fix it", origin,
               depth, kMaxSubgraphDepth);
  if (!model.has_graph() || model.ir_version() <= 0 || model.opset_import_size() == 0)
    user_error("'{}' is not an ONNX model (no graph, IR version or opset); is it the right file?",
               origin);
  // Before the checker, which refuses a graph out of order (ONNX Runtime sorts and runs it).
  const bool reordered = sort_nodes_topologically(*model.mutable_graph());
  ImportContext ctx;
  ctx.base_dir = base_dir;
  ctx.origin = origin;
  ctx.options = options;
  const bool external = has_external_data(model.graph());
  if (external) {
    // Our own checks first: they refuse locations outside the model's folder before the
    // checker (or anything else) touches the file system.
    for (const auto& t : model.graph().initializer())
      if (t.data_location() == onnx::TensorProto::EXTERNAL) tensor_from_proto(t, base_dir, origin);
  }
  try {
    if (external && !model_file.empty() && !reordered) {
      onnx::checker::check_model(model_file.string());
    } else if (!has_shapeless_io(model.graph())) {
      onnx::checker::check_model(model);
    } else {
      // ONNX 1.12's checker demands a shape on every graph input and output, although the IR
      // makes it optional (absent = rank unknown; later checkers accept it). Check a copy that
      // has them; the import below still reads the original, where the rank stays unknown.
      onnx::ModelProto copy = model;
      add_missing_io_shapes(*copy.mutable_graph());
      onnx::checker::check_model(copy);
    }
  } catch (const std::exception& e) {
    user_error("'{}' fails the ONNX checker: {}", origin, e.what());
  }
  try {
    if (detail::make_conv_kernel_shapes_explicit(*model.mutable_graph())) onnx::shape_inference::InferShapes(model);
  } catch (const std::exception&) {
    // Shapes are a help for passes, not a requirement: the engine computes shapes as it runs.
  }

  collect_value_info(model.graph(), ctx);

  Graph graph;
  graph.ir_version = model.ir_version();
  graph.producer_name = model.producer_name();
  for (const auto& op : model.opset_import())
    graph.opsets[op.domain() == "ai.onnx" ? "" : op.domain()] = op.version();
  Scope scope;
  convert_graph(model.graph(), graph, scope, ctx);
  if (has_half_values(graph)) {
    const int64_t widened = compute_half_in_float(graph);
    if (options.note)
      options.note(fmt::format("'{}' computes in float16/bfloat16; ocs computes it in float32 ({} values "
                               "widened exactly; 16-bit inputs and outputs keep their type through Casts)",
                               origin, widened));
  }
  make_node_names_unique(graph);

  std::vector<std::string> missing = unsupported_nodes(graph);
  if (options.require_kernels && !missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += "\n  " + m;
    user_error("'{}' uses {} node(s) whose op ocs does not implement:{}\nNothing was run. "
               "Supported ops are listed by `ocs ops`.", origin, missing.size(), list);
  }
  graph.verify();
  return graph;
}

}  // namespace

Graph import_onnx_bytes(const std::string& bytes, const fs::path& base_dir, const std::string& origin,
                        const ImportOptions& options) {
  return import_model(bytes, base_dir, origin, options, {});
}

Graph import_onnx_file(const fs::path& path, const ImportOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) user_error("model file '{}' does not exist", path.string());
  if (fs::is_directory(path, ec)) user_error("'{}' is a folder; give the .onnx file", path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error("cannot open model file '{}'", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  fs::path base = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  return import_model(buffer.str(), base, path.string(), options, path);
}

Tensor read_tensor_proto_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error("cannot open tensor file '{}'", path.string());
  onnx::TensorProto proto;
  if (!proto.ParseFromIstream(&in)) user_error("'{}' is not a serialized ONNX TensorProto", path.string());
  return tensor_from_proto(proto, path.parent_path(), path.string());
}

}  // namespace ocs
