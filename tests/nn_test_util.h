// Helpers shared by the nn kernel tests: build a one-node graph by hand and run the reference or
// the fast kernel of its op through the global registry.
#pragma once

#include "ir/graph.h"
#include "kernels/kernel.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace ocs::nn_test {

using testing::compare_tensors;
using testing::random_tensor;
using testing::tensors_close;

inline Attribute attr_int(int64_t v) { Attribute a; a.kind = Attribute::Kind::Int; a.i = v; return a; }
inline Attribute attr_float(float v) { Attribute a; a.kind = Attribute::Kind::Float; a.f = v; return a; }
inline Attribute attr_string(std::string v) { Attribute a; a.kind = Attribute::Kind::String; a.s = std::move(v); return a; }
inline Attribute attr_ints(std::vector<int64_t> v) { Attribute a; a.kind = Attribute::Kind::Ints; a.ints = std::move(v); return a; }

// A graph holding one node of `op_type` whose inputs are values 0..n-1 (absent inputs are
// kNoValue) and outputs follow. Inputs flagged in `constant` carry their tensor as constant data.
struct OneNodeGraph {
  Graph graph;
  std::vector<Tensor> inputs;

  OneNodeGraph(const std::string& op_type, std::map<std::string, Attribute> attributes,
               std::vector<Tensor> input_tensors, size_t num_outputs, std::vector<bool> constant = {},
               int64_t opset = 17)
      : inputs(std::move(input_tensors)) {
    Node node;
    node.name = "n0";
    node.op_type = op_type;
    node.attributes = std::move(attributes);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) { node.inputs.push_back(kNoValue); continue; }
      Value v;
      v.name = "in" + std::to_string(i);
      v.dtype = inputs[i].dtype();
      v.shape = inputs[i].shape();
      if (i < constant.size() && constant[i]) v.constant = inputs[i];
      node.inputs.push_back(graph.add_value(std::move(v)));
      if (!(i < constant.size() && constant[i])) graph.inputs.push_back(node.inputs.back());
    }
    for (size_t i = 0; i < num_outputs; ++i) {
      Value v;
      v.name = "out" + std::to_string(i);
      node.outputs.push_back(graph.add_value(std::move(v)));
      graph.outputs.push_back(node.outputs.back());
    }
    graph.opsets[""] = opset;
    graph.add_node(std::move(node));
  }

  const Node& node() const { return graph.nodes.front(); }
  int64_t opset() const { return graph.opset(""); }

  std::vector<Tensor> run_reference() const {
    const KernelEntry* entry = KernelRegistry::global().find("", node().op_type);
    EXPECT_NE(entry, nullptr) << node().op_type;
    std::vector<Tensor> outputs(node().outputs.size());
    KernelContext ctx{node(), inputs, outputs, opset()};
    entry->reference(ctx);
    return outputs;
  }

  // nullptr when the op has no fast kernel or the factory declines this configuration.
  std::unique_ptr<FastKernel> make_fast() const {
    const KernelEntry* entry = KernelRegistry::global().find("", node().op_type);
    if (!entry || !entry->fast) return nullptr;
    return entry->fast(node(), graph);
  }

  std::vector<Tensor> run_fast(FastKernel& kernel) const {
    std::vector<Tensor> outputs(node().outputs.size());
    KernelContext ctx{node(), inputs, outputs, opset()};
    kernel.run(ctx);
    return outputs;
  }
};

inline void expect_floats_near(const Tensor& actual, const std::vector<float>& expected, float tolerance = 1e-5f) {
  ASSERT_EQ(actual.dtype(), DType::Float32);
  ASSERT_EQ(actual.numel(), static_cast<int64_t>(expected.size()));
  const float* a = actual.data<float>();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(a[i], expected[i], tolerance) << "at " << i;
}

}  // namespace ocs::nn_test
