// Structure-aware target: the bytes describe a small valid ONNX model (random_graph.h), which
// goes through import, then runs on the fast kernels (fused and unfused) and on the reference
// kernels, which must agree; then `quantize --format split-float` with weight OCS, whose model
// must compute the same function as the original (OCS splits are exact in float; only the
// summation order changes), also after an export / import round trip. The models are valid, so
// only quantize may refuse one (no layer to quantize); any other UserError escapes and counts as
// a finding, and a disagreement is reported on stderr and aborts, which libFuzzer records.
#include "engine/session.h"
#include "fuzz_util.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"
#include "random_graph.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

namespace {

using namespace ocs;

// NaN-aware: NaN must meet NaN, an infinity the same infinity, finite values agree within
// `rel` of the output's scale.
void expect_close(const Tensor& expected, const Tensor& actual, double rel, const char* what) {
  bool ok = expected.shape() == actual.shape() && expected.dtype() == DType::Float32 &&
            actual.dtype() == DType::Float32;
  int64_t worst = -1;
  if (ok) {
    const float* e = expected.data<float>();
    const float* a = actual.data<float>();
    double scale = 1;
    for (int64_t i = 0; i < expected.numel(); ++i)
      if (std::isfinite(e[i])) scale = std::max(scale, std::abs(static_cast<double>(e[i])));
    for (int64_t i = 0; i < expected.numel() && ok; ++i) {
      const bool same_special = (std::isnan(e[i]) && std::isnan(a[i])) || (std::isinf(e[i]) && e[i] == a[i]);
      const bool close = std::isfinite(e[i]) && std::isfinite(a[i]) &&
                         std::abs(static_cast<double>(a[i]) - e[i]) <= rel * scale;
      if (!same_special && !close) ok = false, worst = i;
    }
  }
  if (ok) return;
  std::fprintf(stderr, "%s: outputs differ (shapes %s vs %s", what, shape_str(expected.shape()).c_str(),
               shape_str(actual.shape()).c_str());
  if (worst >= 0)
    std::fprintf(stderr, "; index %lld: expected %g, got %g", static_cast<long long>(worst),
                 expected.data<float>()[worst], actual.data<float>()[worst]);
  std::fprintf(stderr, ")\n");
  std::abort();
}

Tensor run(std::shared_ptr<const Graph> graph, const Tensor& x, SessionOptions options) {
  options.threads = 1;
  Session session(std::move(graph), options);
  return session.run({{"x", x}}).at(0);
}

void check_model(const fuzz::RandomModel& m, FuzzedDataProvider& fdp) {
  auto graph = std::make_shared<const Graph>(
      import_onnx_bytes(testing::serialize(m.model), fuzz::scratch_dir(), "fuzz_graph.onnx"));
  graph->verify();
  const Tensor expected = run(graph, m.input, {.reference_kernels_only = true});
  expect_close(expected, run(graph, m.input, {}), 1e-4, "fast (fused) vs reference");
  expect_close(expected, run(graph, m.input, {.fuse = false}), 1e-4, "fast (unfused) vs reference");

  QuantizeOptions options;
  options.format = "split-float";
  options.activation_bits = 0;
  options.keep_first_last_float = false;
  options.ocs_ratio = fdp.ConsumeIntegralInRange(1, 50) / 100.0;
  options.split = fdp.ConsumeBool() ? "qa" : "naive";
  options.fold_batchnorm = fdp.ConsumeBool();
  options.threads = 1;
  std::shared_ptr<const Graph> split;
  try {
    split = std::make_shared<const Graph>(quantize_model(*graph, options, nullptr).graph);
  } catch (const UserError& e) {
    // Expected when the chain has no Conv, Gemm or MatMul with a constant weight.
    if (std::getenv("OCS_FUZZ_VERBOSE")) std::fprintf(stderr, "quantize: %s\n", e.what());
    return;
  }
  split->verify();
  expect_close(expected, run(split, m.input, {.reference_kernels_only = true}), 1e-4, "split-float vs original");
  auto reimported = std::make_shared<const Graph>(
      import_onnx_bytes(export_onnx_bytes(*split), fuzz::scratch_dir(), "split.onnx"));
  expect_close(expected, run(reimported, m.input, {}), 1e-4, "split-float re-imported (fast) vs original");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  const fuzz::RandomModel m = fuzz::GraphBuilder(fdp).build();
  // To see what a crash file builds: OCS_FUZZ_DUMP=model.onnx fuzz_graph crash-file.
  if (const char* dump = std::getenv("OCS_FUZZ_DUMP")) {
    std::ofstream(dump, std::ios::binary) << testing::serialize(m.model);
    write_npy(std::string(dump) + ".x.npy", m.input);
  }
  check_model(m, fdp);
  return 0;
}
