// Builds a small but valid ONNX model from fuzz bytes, for fuzz_graph.cpp: one float input
// (rank 4 or 2) and a chain of 1 to 6 ops. Each step's op is drawn from the ops below that the
// kernel registry implements and that accept the current shape; attributes and constant
// operands are drawn too, and the step computes its output shape by ONNX's rules so that the
// graph stays valid (a step whose attributes would give an empty output is skipped). The bytes
// steer the structure; weights and the input come from a PRNG seeded by the bytes.
#pragma once

#include "kernels/kernel.h"
#include "model_builder.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace ocs::fuzz {

struct RandomModel {
  onnx::ModelProto model;
  Tensor input;  // for the graph input "x"
};

class GraphBuilder {
 public:
  explicit GraphBuilder(FuzzedDataProvider& fdp)
      : fdp_(fdp), rng_(fdp.ConsumeIntegral<uint32_t>()), model_(ocs::testing::model(14)) {}

  RandomModel build();

 private:
  using Step = bool (GraphBuilder::*)();
  struct OpChoice {
    const char* op;
    int rank;  // the rank the op takes here (4 = NCHW, 2 = matrix, 0 = any)
    Step step;
  };

  // Steps: each appends one node (plus its constants) and updates shape_, or returns false.
  bool conv();
  bool conv_transpose();
  bool pool(const char* op);
  bool max_pool() { return pool("MaxPool"); }
  bool average_pool() { return pool("AveragePool"); }
  bool global_average_pool();
  bool batch_norm();
  bool unary();
  bool binary();
  bool softmax();
  bool transpose();
  bool flatten();
  bool gemm();
  bool matmul();

  static const std::vector<OpChoice>& choices();
  int64_t pick(int64_t lo, int64_t hi) { return fdp_.ConsumeIntegralInRange<int64_t>(lo, hi); }
  std::string fresh(const std::string& stem) { return stem + std::to_string(counter_++); }
  // A constant initializer of the given shape, values uniform in [lo, hi].
  std::string constant(const Shape& shape, float lo, float hi);
  onnx::NodeProto& add_node(const std::string& op, std::vector<std::string> inputs);
  void ints(onnx::NodeProto& n, const std::string& key, std::vector<int64_t> values);
  void integer(onnx::NodeProto& n, const std::string& key, int64_t value);
  void real(onnx::NodeProto& n, const std::string& key, float value);

  FuzzedDataProvider& fdp_;
  std::mt19937 rng_;
  onnx::ModelProto model_;
  std::string current_ = "x";
  Shape shape_;
  int counter_ = 0;
};

}  // namespace ocs::fuzz
