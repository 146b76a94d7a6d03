// ONNX import and export. All model validation happens at import: after import_onnx_* returns,
// the graph is well-formed (verify() holds), every weight is a constant value, and every
// user-facing problem has been reported as a UserError naming the file, node or tensor.
#pragma once

#include "ir/graph.h"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace ocs {

struct ImportOptions {
  // Refuse float weights holding NaN (a sign of a broken export). On by default.
  bool reject_nan_weights = true;
  // Refuse models with ops no kernel implements, listing them all. Off only for tools that do
  // not run the model.
  bool require_kernels = true;
  // Told what import changed that the user should know (a float16 model computed in float32).
  std::function<void(const std::string&)> note = [](const std::string& text) { std::fprintf(stderr, "note: %s\n", text.c_str()); };
};

// Reads, checks (ONNX checker + our own checks) and converts a model. External data files are
// read relative to the model's folder; a location that escapes it is refused.
Graph import_onnx_file(const std::filesystem::path& path, const ImportOptions& options = {});
// Same from bytes already in memory; `base_dir` resolves external data.
Graph import_onnx_bytes(const std::string& bytes, const std::filesystem::path& base_dir,
                        const std::string& origin, const ImportOptions& options = {});

// Writes a valid ONNX model (passes the ONNX checker); atomically (temp file + rename).
// Constants become initializers. Refuses to overwrite unless `overwrite`.
void export_onnx_file(const Graph& graph, const std::filesystem::path& path, bool overwrite);
std::string export_onnx_bytes(const Graph& graph);

// A serialized onnx.TensorProto (as in ONNX's test data input_N.pb / output_N.pb).
Tensor read_tensor_proto_file(const std::filesystem::path& path);

// Op types in the graph (and its subgraphs) that no kernel implements, as "op_type 'node'" items.
std::vector<std::string> unsupported_nodes(const Graph& graph);

}  // namespace ocs
