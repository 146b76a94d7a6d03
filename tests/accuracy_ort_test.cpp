// Issue #4's acceptance on Fashion-MNIST, against ONNX Runtime on all 10,000 test images, for
// each model we trained (the ResNet, the VGG and the DenseNet of scripts/train_fashion_mnist.py):
//  - the float model: our engine predicts the same class as ONNX Runtime for every image;
//  - the exported QDQ model (6-bit weights, 8-bit activations, OCS r = 0.02): ONNX Runtime's
//    accuracy equals what `ocs eval` measures on our simulation within 0.1 percentage point.
#include "engine/session.h"
#include "eval/fashion_mnist.h"
#include "eval/topk_fidelity.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"
#include "recipe/quantizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace ocs {
namespace {
namespace fs = std::filesystem;
using namespace ocs::testing;

struct TrainedModel {
  const char* name;
  const char* file;
  double float_top1_floor;  // a little under what the training script reported
};

void PrintTo(const TrainedModel& m, std::ostream* out) { *out << m.file; }

fs::path model_path(const TrainedModel& m) { return fs::path(OCS_SOURCE_DIR) / "models" / m.file; }

struct Predictions {
  TopKAccuracy ocs, ort;
};

// Both engines over the whole test split, 1000 images per ONNX Runtime call.
Predictions predict_test_split(const Graph& graph, const fs::path& scratch) {
  Predictions p;
  Session session(std::make_shared<const Graph>(graph));
  FashionMnistSource test(kFashionMnistDir, "test", "input", 10000, 1000);
  while (auto feed = test.next()) {
    p.ocs.add(session.run(*feed)[0], *test.batch_labels());
    p.ort.add(run_ort(graph, *feed, scratch), *test.batch_labels());
  }
  return p;
}

bool inputs_present() { return ort_available() && fs::exists(kFashionMnistDir); }

class AccuracyVsOrt : public ::testing::TestWithParam<TrainedModel> {};

TEST_P(AccuracyVsOrt, FloatModelPredictsTheSameClassOnEveryTestImage) {
  if (!inputs_present())
    OCS_SKIP_OR_FAIL("ONNX Runtime or dataset-fashion-mnist is missing (run scripts/fetch_models.sh, "
                     "scripts/install_deps.sh)");
  const fs::path scratch = fs::temp_directory_path() / ("ocs_acc_float_" + std::to_string(getpid()));
  Predictions p = predict_test_split(import_onnx_file(model_path(GetParam())), scratch);
  fs::remove_all(scratch);
  ASSERT_EQ(p.ocs.count(), 10000);
  int64_t differ = 0;
  for (size_t i = 0; i < p.ocs.predictions().size(); ++i) differ += p.ocs.predictions()[i] != p.ort.predictions()[i];
  std::cout << fmt::format("[ info ] {} float: ocs top-1 {:.4f}, ONNX Runtime {:.4f}, {} images differ\n",
                           GetParam().file, p.ocs.top1(), p.ort.top1(), differ);
  EXPECT_EQ(differ, 0);
  EXPECT_EQ(p.ocs.top1(), p.ort.top1());
  EXPECT_GT(p.ocs.top1(), GetParam().float_top1_floor);
}

// The QDQ check runs on the ResNet and the VGG only: on the DenseNet it took 8 minutes here (our
// engine runs its unfolded BatchNorms and Concats slowly), and the float check covers its ops.
class AccuracyVsOrtQdq : public AccuracyVsOrt {};

TEST_P(AccuracyVsOrtQdq, ExportedQdqModelKeepsOurAccuracyWithinATenthOfAPoint) {
  if (!inputs_present())
    OCS_SKIP_OR_FAIL("ONNX Runtime or dataset-fashion-mnist is missing (run scripts/fetch_models.sh, "
                     "scripts/install_deps.sh)");
  const Graph float_graph = import_onnx_file(model_path(GetParam()));
  QuantizeOptions options;
  options.weight_bits = 6;
  options.activation_bits = 8;
  options.ocs_ratio = 0.02;
  options.activation_clip = "max";  // the configuration docs/RESULTS.md's "Engine agreement" quotes
  FashionMnistSource calib(kFashionMnistDir, "train", "input", 512, 32);
  QuantizeResult q = quantize_model(float_graph, options, &calib);
  const fs::path scratch = fs::temp_directory_path() / ("ocs_acc_qdq_" + std::to_string(getpid()));
  Predictions p = predict_test_split(q.graph, scratch);
  fs::remove_all(scratch);
  int64_t differ = 0;
  for (size_t i = 0; i < p.ocs.predictions().size(); ++i) differ += p.ocs.predictions()[i] != p.ort.predictions()[i];
  std::cout << fmt::format("[ info ] {} W6A8 OCS r=0.02: ocs top-1 {:.4f}, ONNX Runtime {:.4f}, {} images differ\n",
                           GetParam().file, p.ocs.top1(), p.ort.top1(), differ);
  EXPECT_LE(std::abs(p.ocs.top1() - p.ort.top1()), 0.001) << "ocs " << p.ocs.top1() << " ORT " << p.ort.top1();
  EXPECT_LE(differ, 10) << "images classified differently by the two engines";
  EXPECT_GT(p.ocs.top1(), GetParam().float_top1_floor - 0.01);
}

INSTANTIATE_TEST_SUITE_P(TrainedModels, AccuracyVsOrt,
                         ::testing::Values(TrainedModel{"ResNet", "fashion_resnet.onnx", 0.92},
                                           TrainedModel{"Vgg", "fashion_vgg.onnx", 0.91},
                                           TrainedModel{"DenseNet", "fashion_densenet.onnx", 0.91}),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(TrainedModels, AccuracyVsOrtQdq,
                         ::testing::Values(TrainedModel{"ResNet", "fashion_resnet.onnx", 0.92},
                                           TrainedModel{"Vgg", "fashion_vgg.onnx", 0.91}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ocs
