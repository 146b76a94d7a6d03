// Helpers for the pass tests (tests/passes_*_test.cpp): load models, run them, compare outputs.
#pragma once

#include "engine/session.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace ocs::testing {

inline std::filesystem::path ocs_cache_root() {
  const char* cache = std::getenv("OCS_CACHE");
  if (cache && *cache) return cache;
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/root") / ".cache" / "ocs";
}

inline std::filesystem::path small_cnn_path() {
  return std::filesystem::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx";
}

inline std::filesystem::path ppocr_rec_model_path() {
  return ocs_cache_root() / "models" / "ch_PP-OCRv4_rec_infer.onnx";
}

inline std::filesystem::path ppocr_rec_input_path() {
  return ocs_cache_root() / "golden" / "ppocr_rec" / "inputs" / "x.npy";
}

// Runs `graph` (a copy: the Session keeps it) on `inputs`.
inline std::vector<Tensor> run_graph(const Graph& graph, const std::map<std::string, Tensor>& inputs,
                                     bool reference = false) {
  SessionOptions options;
  options.reference_kernels_only = reference;
  Session session(std::make_shared<const Graph>(graph), options);
  return session.run(inputs);
}

// max |a - b| / max |a|: relative to the output's own scale (0 when both are zero).
inline double max_relative_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return INFINITY;
  const std::vector<double> x = a.to_double_vector(), y = b.to_double_vector();
  double peak = 0.0, diff = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    peak = std::max(peak, std::fabs(x[i]));
    diff = std::max(diff, std::fabs(x[i] - y[i]));
  }
  return peak == 0.0 ? diff : diff / peak;
}

inline Tensor random_tensor(Shape shape, uint32_t seed, float low = -1.0f, float high = 1.0f) {
  Tensor t(DType::Float32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

}  // namespace ocs::testing
