// Shared plumbing of the oneDNN-backed fast kernels. Only the files under kernels/fast/ include
// oneDNN. Tensors between ops are plain row-major (NCHW); a kernel reorders into whatever layout
// its primitive prefers and back.
//
// Every fast kernel follows one pattern: created once per node, it prepares a plan (primitive,
// reorders, weights in the primitive's layout) the first time it sees an input shape and reuses
// it afterwards (PlanCache, plan_cache.h). A configuration oneDNN cannot run (or that this file does not map) falls back
// to the reference kernel for that shape, so the fast path never changes what a model computes.
#pragma once

#include "ir/graph.h"
#include "kernels/kernel.h"

#include <dnnl.hpp>

#include <memory>

namespace ocs {

// One CPU engine for the whole process and one stream per thread (oneDNN threads internally with OpenMP).
dnnl::engine& dnnl_cpu_engine();
dnnl::stream& dnnl_cpu_stream();

dnnl::memory::dims dnnl_dims(const Shape& shape);
// Row-major float32 descriptor of `shape`.
dnnl::memory::desc dnnl_plain_desc(const Shape& shape);
// Row-major descriptor of `shape` with another element type (the uint8/int8 codes).
dnnl::memory::desc dnnl_plain_desc(const Shape& shape, dnnl::memory::data_type type);
// Float32 descriptor with explicit strides (in elements).
dnnl::memory::desc dnnl_strided_desc(const Shape& shape, const std::vector<int64_t>& strides);
// A memory object viewing `tensor`'s buffer (no copy). Inputs are only ever read through it.
dnnl::memory dnnl_view(const dnnl::memory::desc& desc, const Tensor& tensor);

// Facts from the graph used by the factories.
bool dnnl_input_is_constant(const Node& node, const Graph& graph, size_t input);
// True unless the graph knows the input's element type and it is not float32.
bool dnnl_input_may_be_float(const Node& node, const Graph& graph, size_t input);
// The rank of an input when the graph knows its shape, else -1.
int64_t dnnl_input_rank(const Node& node, const Graph& graph, size_t input);

// A buffer in a primitive's layout plus the reorder between it and the plain user layout.
// When the layouts agree there is no buffer and the user memory is used directly.
class DnnlStaging {
 public:
  DnnlStaging() = default;
  // `to_primitive`: true for inputs (user -> primitive), false for outputs (primitive -> user).
  DnnlStaging(const dnnl::memory::desc& user, const dnnl::memory::desc& primitive, bool to_primitive);

  bool needed() const { return needed_; }
  // Input side: memory in the primitive's layout holding user_memory's data.
  dnnl::memory input(const dnnl::memory& user_memory);
  // Output side: memory for the primitive to write; call output_done afterwards.
  dnnl::memory output(const dnnl::memory& user_memory) { return needed_ ? buffer_ : user_memory; }
  void output_done(const dnnl::memory& user_memory);

 private:
  bool needed_ = false;
  dnnl::memory buffer_;
  dnnl::reorder reorder_;
};

// Reorders `user` into a new memory of `primitive_desc` now (for weights prepared once).
dnnl::memory dnnl_reorder_now(const dnnl::memory& user, const dnnl::memory::desc& primitive_desc);

// Counts runs where a fast kernel handed its node to the reference kernel (shape or type outside
// the fast path). Tests read it to make sure a configuration really ran on oneDNN.
// True when any of the `count` floats is NaN. oneDNN's max pooling skips NaN (its maximum starts
// at the lowest float), where ONNX's MaxPool, as our reference kernel reads it, keeps a NaN met
// first in a window: pooling falls back to the reference on such data.
bool dnnl_holds_nan(const float* data, int64_t count);

void dnnl_note_fallback();
int64_t dnnl_fallback_count();

// Factories (nullptr when the node is outside the fast path).
std::unique_ptr<FastKernel> dnnl_make_conv(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> dnnl_make_conv_transpose(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> dnnl_make_matmul(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> dnnl_make_gemm(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> dnnl_make_max_pool(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> dnnl_make_average_pool(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> dnnl_make_global_average_pool(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> dnnl_make_softmax(const Node& node, const Graph& graph);  // and LogSoftmax
std::unique_ptr<FastKernel> dnnl_make_lstm(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> dnnl_make_gru(const Node& node, const Graph& graph);
// QuantizeLinear and DequantizeLinear (quant_fast.cpp; plain loops, not oneDNN).
std::unique_ptr<FastKernel> fast_make_quantize_linear(const Node& node, const Graph& graph);
std::unique_ptr<FastKernel> fast_make_dequantize_linear(const Node& node, const Graph& graph);

}  // namespace ocs
