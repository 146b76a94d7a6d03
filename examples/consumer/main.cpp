// The common path of the ocs library from another project (examples/consumer/CMakeLists.txt):
// describe a model, run it, quantize it with OCS on random calibration data, run the result.
//   ocs_consumer MODEL.onnx OUT_DIR
// Prints the first output's values of both runs on one all-0.5 input, one line each
// ("float: v0 v1 ..." and "quantized: ..."), for tests/package/run_test.sh to compare with `ocs run`.
#include <ocs/ocs.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

void print_first_output(const char* label, const ocs::Arrays& outputs) {
  const ocs::Array& out = outputs.begin()->second;
  std::printf("%s:", label);
  const auto* values = static_cast<const float*>(out.data);
  for (int64_t i = 0; i < out.size(); ++i) std::printf(" %.9g", values[i]);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: ocs_consumer MODEL.onnx OUT_DIR\n");
    return 2;
  }
  const std::string model = argv[1], out_dir = argv[2];
  try {
    std::printf("ocs %s\n", ocs::version().c_str());
    const ocs::ModelInfo info = ocs::inspect(model);
    const ocs::TensorInfo& input = info.inputs.at(0);
    std::printf("%s: %lld nodes, input %s\n", model.c_str(), static_cast<long long>(info.nodes), input.name.c_str());

    // One input of the declared shape (open dimensions as 1), every value 0.5.
    std::vector<int64_t> shape = input.shape;
    for (auto& d : shape) d = d < 0 ? 1 : d;
    int64_t size = 1;
    for (auto d : shape) size *= d;
    std::vector<float> half(static_cast<size_t>(size), 0.5f);
    const ocs::Arrays feed = {{input.name, ocs::Array::copy_of("float32", shape, half.data())}};

    ocs::InferenceSession float_session(model, {/*threads=*/1});
    print_first_output("float", float_session.run(feed));

    // 64 calibration samples of uniform noise, stacked on axis 0.
    std::vector<int64_t> stacked_shape = shape;
    stacked_shape[0] = 64 * shape[0];
    std::vector<float> noise(static_cast<size_t>(64 * size));
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(0.f, 1.f);
    for (auto& v : noise) v = uniform(rng);
    ocs::QuantizeSettings settings;
    settings.weight_bits = 6;
    settings.ocs_ratio = 0.05;
    settings.threads = 1;
    const std::string quantized = out_dir + "/quantized.onnx";
    const std::string report = ocs::quantize(
        model, quantized, settings,
        ocs::Calibration::from_arrays({{input.name, ocs::Array::copy_of("float32", stacked_shape, noise.data())}}),
        [](const std::string& stage, int64_t done, int64_t total) {
          if (done == total) std::printf("%s: %lld samples\n", stage.c_str(), static_cast<long long>(total));
        },
        /*overwrite=*/true);
    std::printf("wrote %s (report: %zu bytes of JSON)\n", quantized.c_str(), report.size());

    ocs::InferenceSession quantized_session(quantized, {1});
    print_first_output("quantized", quantized_session.run(feed));
  } catch (const ocs::UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
