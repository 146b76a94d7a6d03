// The kernel interface shared by reference kernels (plain loops, the oracle) and fast kernels
// (oneDNN-backed). A kernel reads its node's attributes by ONNX name and fills `outputs`.
//
// Contract:
//  - inputs.size() == node.inputs.size(); an absent optional input is an undefined Tensor.
//  - outputs.size() == node.outputs.size() on entry (all undefined); the kernel allocates each
//    output it produces (an absent optional output may be left undefined).
//  - Inputs must not be written: they may share buffers with constants or graph inputs.
//  - A bad model that import could not catch (e.g. shapes that do not broadcast) is reported
//    with user_error naming ctx.node.describe().
#pragma once

#include "core/tensor.h"
#include "ir/graph.h"

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ocs {

struct KernelContext {
  const Node& node;
  std::span<const Tensor> inputs;
  std::vector<Tensor>& outputs;
  int64_t opset = 0;  // the model's opset for the node's domain

  const Tensor& input(size_t i) const;  // undefined Tensor when absent or out of range
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].defined(); }
  size_t num_inputs() const { return inputs.size(); }
  size_t num_outputs() const { return outputs.size(); }
};

using ReferenceKernel = void (*)(KernelContext& ctx);

// A fast kernel is created once per node, so it can cache prepared primitives and reordered
// weights between runs. `graph` gives static facts (which inputs are constant, known shapes).
class FastKernel {
 public:
  virtual ~FastKernel() = default;
  virtual void run(KernelContext& ctx) = 0;
};
// Returns nullptr when the node's configuration is outside the fast path (then the reference
// kernel runs).
using FastKernelFactory = std::unique_ptr<FastKernel> (*)(const Node& node, const Graph& graph);

// Layout kernels (kernels/fast/dnnl_layout.h): fast kernels whose inputs and output may stay in
// oneDNN's blocked layouts between steps of a fused run. A factory sees where the node would run
// and which of its inputs come from other layout steps.
class LayoutKernel;
struct LayoutSite {
  const Node& node;
  const Graph& graph;
  int64_t opset = 0;               // the graph's default-domain opset
  std::vector<bool> from_layout;   // per node input: produced by a layout step
  bool any_from_layout() const;
};
// The kernel and the values it reads (kNoValue: absent), or no kernel when the factory declines.
struct LayoutStep {
  std::unique_ptr<LayoutKernel> kernel;
  std::vector<ValueId> inputs;
};
using LayoutKernelFactory = LayoutStep (*)(const LayoutSite& site);
struct LayoutFactory {
  std::string kind;  // the name OCS_NO_LAYOUT turns off: pool, resize, concat, depth_to_space, eltwise, binary
  LayoutKernelFactory make = nullptr;
};

struct KernelEntry {
  ReferenceKernel reference = nullptr;
  FastKernelFactory fast = nullptr;
  std::vector<LayoutFactory> layout;  // tried in order; the first kernel made is used
};

class KernelRegistry {
 public:
  // The process-wide registry with every kernel family registered.
  static const KernelRegistry& global();

  void add_reference(const std::string& op_type, ReferenceKernel kernel, const std::string& domain = "");
  void add_fast(const std::string& op_type, FastKernelFactory factory, const std::string& domain = "");
  void add_layout(const std::string& op_type, const std::string& kind, LayoutKernelFactory factory,
                  const std::string& domain = "");
  const KernelEntry* find(const std::string& domain, const std::string& op_type) const;
  std::vector<std::string> op_types() const;  // "domain:op" or "op", sorted

 private:
  std::map<std::string, KernelEntry> entries_;  // key: domain + ":" + op_type
};

// Kernel families; each is defined in its own file under kernels/reference or kernels/fast.
void register_elementwise_kernels(KernelRegistry& registry);  // reference/elementwise.cpp ...
void register_reduction_kernels(KernelRegistry& registry);
void register_tensor_kernels(KernelRegistry& registry);       // shape and data movement
void register_nn_kernels(KernelRegistry& registry);           // conv, pool, norm, gemm, matmul
void register_quant_kernels(KernelRegistry& registry);        // QuantizeLinear, DequantizeLinear
void register_recurrent_kernels(KernelRegistry& registry);    // LSTM, GRU, RNN
void register_fast_kernels(KernelRegistry& registry);         // fast/*.cpp (oneDNN)
void register_layout_kernels(KernelRegistry& registry);       // fast/dnnl_layout_nodes.cpp

}  // namespace ocs
