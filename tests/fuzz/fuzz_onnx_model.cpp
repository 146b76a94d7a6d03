// ONNX model bytes -> import (ONNX checker + ocs's own checks), Graph::verify, and the plan of
// an engine Session (fast and reference-only). Nothing is run: inputs would have to be invented.
// External data resolves against an empty scratch folder, so every reference to it is refused.
#include "engine/session.h"
#include "fuzz_util.h"
#include "onnx/onnx_io.h"

#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ocs::fuzz::expect_user_errors_only([&] {
    auto graph = std::make_shared<ocs::Graph>(
        ocs::import_onnx_bytes(ocs::fuzz::bytes_of(data, size), ocs::fuzz::scratch_dir(), "fuzz.onnx"));
    graph->verify();
    ocs::Session fast(graph, {.threads = 1});
    ocs::Session reference(graph, {.reference_kernels_only = true, .threads = 1});
  });
  return 0;
}
