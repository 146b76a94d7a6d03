// Helpers for the pass tests (tests/passes_*_test.cpp): the models they use and running a graph.
// Comparisons and random inputs are in test_util.h.
#pragma once

#include "engine/session.h"
#include "io/npy.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ocs::testing {

inline std::filesystem::path small_cnn_path() {
  return std::filesystem::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx";
}

inline std::filesystem::path ppocr_rec_model_path() {
  return ocs_cache() / "models" / "ch_PP-OCRv4_rec_infer.onnx";
}

inline std::filesystem::path ppocr_rec_input_path() {
  return ocs_cache() / "golden" / "ppocr_rec" / "inputs" / "x.npy";
}

// A model built in a test, imported as a user's file would be.
inline Graph import_model(const onnx::ModelProto& m) { return import_onnx_bytes(serialize(m), ".", "test model"); }

// Runs `graph` (a copy: the Session keeps it) on `inputs`.
inline std::vector<Tensor> run_graph(const Graph& graph, const std::map<std::string, Tensor>& inputs,
                                     bool reference = false) {
  SessionOptions options;
  options.reference_kernels_only = reference;
  Session session(std::make_shared<const Graph>(graph), options);
  return session.run(inputs);
}

}  // namespace ocs::testing
