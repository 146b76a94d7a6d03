// Runs a graph with ONNX Runtime (onnxruntime-node via scripts/ort_run.js), the independent
// reference engine of the tests. scripts/fetch_models.sh installs it into $OCS_CACHE/ort; tests
// end through OCS_SKIP_OR_FAIL (test_util.h) when it is absent.
#pragma once

#include "io/npy.h"
#include "onnx/onnx_io.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

namespace ocs::testing {

inline bool ort_available() {
  return std::filesystem::exists(ocs_cache() / "ort" / "node_modules" / "onnxruntime-node") &&
         std::system("command -v node >/dev/null 2>&1") == 0;
}

// Exports `g` into `dir`, runs it with ONNX Runtime on `inputs`, returns output 0.
inline Tensor run_ort(const Graph& g, const std::map<std::string, Tensor>& inputs,
                      const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  export_onnx_file(g, dir / "model.onnx", /*overwrite=*/true);
  std::string command = fmt::format("node '{}' '{}' '{}'", std::string(OCS_SOURCE_DIR) + "/scripts/ort_run.js",
                                    (dir / "model.onnx").string(), (dir / "out").string());
  for (const auto& [name, t] : inputs) {
    const auto file = dir / (escape_file_name(name) + ".npy");
    write_npy(file, t);
    command += fmt::format(" '{}={}'", name, file.string());
  }
  command += " >'" + (dir / "ort.log").string() + "' 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return read_npy(dir / "out" / (escape_file_name(g.values[g.outputs[0]].name) + ".npy"));
}

}  // namespace ocs::testing
