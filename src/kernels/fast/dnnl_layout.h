// Layout-aware oneDNN kernels: they read and write values that may live in oneDNN memory in a
// blocked layout (nChw16c and friends), so that consecutive oneDNN ops skip the reorders to and
// from plain NCHW that the plain FastKernel interface forces around every op.
//
// Design (see docs/PERFORMANCE.md): a Tensor stays plain for everyone else. During a fast run the
// engine keeps a side table, one DnnlValue per graph value, saying "this value currently lives in
// oneDNN memory with this memory desc". A layout kernel takes DnnlValues and returns one; it
// accepts plain inputs too (viewing the Tensor's buffer). The engine materializes the plain
// Tensor lazily (dnnl_materialize) when a non-oneDNN consumer, a subgraph, an observer or a graph
// output needs it.
//
// Which nodes run as layout kernels is registered per op type with the other kernels
// (dnnl_layout_nodes.cpp, KernelEntry::layout); fused Conv chains are planned by engine/fusion.h.
//
// A layout kernel may decline a configuration it does not map (returns false before touching
// anything); the engine then runs the original nodes on plain tensors, so the fast path never
// changes what a model computes beyond rounding.
#pragma once

#include "kernels/fast/dnnl_common.h"

#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace ocs {

// One value during a fast run. `plain` is defined when the plain form is valid; `memory` is set
// (has_memory) when the value lives in a oneDNN buffer, whose dims are the value's shape and whose
// type is float32, or uint8/int8 for the codes of a QuantizeLinear an int8 Conv computes.
struct DnnlValue {
  Tensor plain;
  dnnl::memory memory;
  std::shared_ptr<void> owner;  // keeps memory's buffer alive (pooled, see dnnl_pool_alloc)
  bool has_memory = false;
  // Set by the engine while the step that reads the value last runs: a kernel may then write its
  // output into this value's pooled buffer (the sum operand of a fused Conv).
  bool dies_here = false;
  // The memory holds uint8 codes with zero point 128 as their int8 view q - 128 (an int8 Conv
  // writes them so for the next one, which reads int8; dnnl_int8.h). The value is the uint8 codes.
  bool int8_view_of_u8 = false;

  bool defined() const { return has_memory || plain.defined(); }
  Shape shape() const;
};

// The plain tensor of `value`, reordering from oneDNN memory (once) when needed.
const Tensor& dnnl_materialize(DnnlValue& value);

// Byte buffers recycled between runs (64-byte aligned), so that a run does not map and fault in
// fresh pages for every intermediate.
std::shared_ptr<void> dnnl_pool_alloc(size_t bytes);

// Helpers for layout kernels in other files (dnnl_int8_conv.cpp): the value as oneDNN memory (its
// own, or a view of its plain tensor); a new value of layout `desc` (a plain Tensor when the
// layout is plain, else a pooled buffer); a reorder between two memories (created once per pair
// of descs and cached).
dnnl::memory dnnl_memory_of(const DnnlValue& value);
// True when the value holds float32 (its memory's type, or its plain tensor's); an int8 Conv
// may leave uint8/int8 codes in oneDNN memory (dnnl_int8.h), which float kernels decline.
bool dnnl_value_is_float(const DnnlValue& value);
void dnnl_allocate_value(const dnnl::memory::desc& desc, DnnlValue& out);
void dnnl_reorder_into(const dnnl::memory& from, const dnnl::memory& to);
// `from` itself when it has layout `desc`, else a scratch copy in `desc` (pooled; lives as long as
// `owner`).
dnnl::memory dnnl_reordered(const dnnl::memory& from, const dnnl::memory::desc& desc, std::shared_ptr<void>& owner);

// An element-wise function oneDNN computes as a post-op or an eltwise primitive.
struct EltwiseOp {
  enum class Kind { Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSwish, Linear };
  Kind kind = Kind::Relu;
  float alpha = 0.0f;  // LeakyRelu slope, Clip low, Linear scale
  float beta = 0.0f;   // Clip high, Linear shift
};

// The element-wise functions `node` applies to its input `from`, when it is a single-input
// function oneDNN computes, else nullopt: Relu, LeakyRelu, Sigmoid, Tanh, HardSwish, HardSigmoid
// (linear, then clip), Clip with constant bounds, and Add/Sub/Mul/Div by a constant scalar
// (linear). `opset` is the graph's default opset. Used by the layout kernels and by fusion.
std::optional<std::vector<EltwiseOp>> dnnl_node_as_eltwise(const Graph& graph, const Node& node, ValueId from,
                                                           int64_t opset);
// The single float value of a constant input, when it is one (rank 0 or 1, one element).
std::optional<float> dnnl_scalar_constant(const Graph& graph, ValueId id);

// A post-op of a fused Conv: an element-wise function, or `sum`: add the kernel's last input (a
// tensor of the output's shape) to the result at this point of the chain.
struct PostOp {
  bool sum = false;
  EltwiseOp eltwise;
};

class LayoutKernel {
 public:
  virtual ~LayoutKernel() = default;
  // Returns false (having changed nothing) when this configuration is outside the kernel.
  virtual bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) = 0;
};

// Conv or ConvTranspose (2-D, float32, constant weights and bias) times `scale` plus `shift`
// (one element, or one per output channel; folded into the weights and bias once), followed by
// `post_ops`. Inputs: X, W, B (an undefined DnnlValue when absent), then the sum operand when a
// post-op is a sum. nullptr when the node is outside this kernel.
std::unique_ptr<LayoutKernel> dnnl_make_layout_conv(const Node& conv, const Graph& graph,
                                                    std::vector<PostOp> post_ops,
                                                    const std::vector<float>& scale = {1.0f},
                                                    const std::vector<float>& shift = {0.0f});
// The output channel count of a Conv or ConvTranspose dnnl_make_layout_conv accepts, else 0.
int64_t dnnl_layout_conv_channels(const Node& conv, const Graph& graph);
// A quantized tensor's round trip, DequantizeLinear(QuantizeLinear(x)) per tensor, with the
// element-wise functions in front of it and after it, as post-ops of another step's primitive
// (dnnl_post_ops.h): x / s becomes x * (1 / s), so a value may round differently from the nodes
// only within float rounding of a rounding boundary (docs/INT8.md).
struct RoundTripOps {
  std::vector<EltwiseOp> before;
  float scale = 1.0f;
  int32_t zero_point = 0;
  DType type = DType::UInt8;
  std::vector<EltwiseOp> after;
  // The step writes the codes QuantizeLinear(x) themselves instead of their round trip (no
  // functions after them), channels-last, for int8 Convs that read them (dnnl_int8.h, codes_in):
  // the destination's type rounds (half to even) and saturates; uint8 codes with zero point 128
  // are written as their int8 view (DnnlValue::int8_view_of_u8).
  bool codes = false;
};

// Add, Mul, Sub, Div of two 4-D float32 tensors; the second may broadcast along axes of size 1
// (Add and Mul also take the broadcasting operand first). With `then`, followed by it in the same
// primitive; nullptr when that needs two post-ops of one oneDNN algorithm (engine/fusion.h).
std::unique_ptr<LayoutKernel> dnnl_make_layout_binary(const Node& node,
                                                      const std::optional<RoundTripOps>& then = std::nullopt);
// MaxPool (no Indices), AveragePool, GlobalAveragePool on 4-D float32; with `then` as above
// (not its codes: oneDNN 2.6 pools float into float only).
std::unique_ptr<LayoutKernel> dnnl_make_layout_pool(const Node& node, const Graph& graph,
                                                    const std::optional<RoundTripOps>& then = std::nullopt);
// Resize (opset >= 11), mode nearest, with constant scales or sizes that upsample H and W by
// integer factors, in the coordinate modes where oneDNN's nearest resampling reads the same
// element as ONNX (see dnnl_layout.cpp); other configurations decline at run time. With `then`
// as above.
std::unique_ptr<LayoutKernel> dnnl_make_layout_resize(const Node& node, const Graph& graph, int64_t opset,
                                                      const std::optional<RoundTripOps>& then = std::nullopt);
// Concat of 4-D float32 tensors (any layouts) along `axis`. With `then`, only its codes (no
// functions): each input quantized straight into its place in the codes.
std::unique_ptr<LayoutKernel> dnnl_make_layout_concat(const Node& node, const Graph& graph,
                                                      const std::optional<RoundTripOps>& then = std::nullopt);
// A chain of element-wise functions of one input, applied in order.
std::unique_ptr<LayoutKernel> dnnl_make_layout_eltwise(std::vector<EltwiseOp> ops);

}  // namespace ocs
