// Calls one reference kernel directly, for kernel unit tests.
#pragma once

#include "kernels/kernel.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace ocs::testing {

// Runs the reference kernel of `op_type` on `inputs` (undefined Tensor = absent input).
inline std::vector<Tensor> run_kernel(const std::string& op_type, std::vector<Tensor> inputs,
                                      std::map<std::string, Attribute> attributes, int64_t opset,
                                      size_t num_outputs = 1) {
  Node node;
  node.name = "test";
  node.op_type = op_type;
  node.attributes = std::move(attributes);
  for (size_t i = 0; i < inputs.size(); ++i)
    node.inputs.push_back(inputs[i].defined() ? static_cast<ValueId>(i) : kNoValue);
  for (size_t i = 0; i < num_outputs; ++i) node.outputs.push_back(static_cast<ValueId>(100 + i));
  std::vector<Tensor> outputs(num_outputs);
  KernelContext ctx{node, inputs, outputs, opset};
  const KernelEntry* entry = KernelRegistry::global().find("", op_type);
  EXPECT_NE(entry, nullptr) << op_type;
  entry->reference(ctx);
  return outputs;
}

}  // namespace ocs::testing
