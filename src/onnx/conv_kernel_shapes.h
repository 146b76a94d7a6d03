// Internal to onnx/onnx_import.cpp: keeps ONNX 1.12's shape inference away from a crash.
#pragma once

#include <onnx/onnx_pb.h>

namespace ocs::detail {

// ONNX 1.12's shape inference for Conv, ConvInteger and QLinearConv reads past the end of the
// data input's dims when `kernel_shape` is absent and the weight has more dims than the input
// (a SIGSEGV inside libonnx, found by tests/fuzz/fuzz_onnx_model). The kernel shape is the
// weight's spatial dims by definition, so this writes it into every such node whose weight has
// a declared shape (initializer, Constant or graph input), in `graph` and its subgraphs.
// Returns false when some weight's shape is not declared: the caller must then not run shape
// inference (its shapes are a help, not a requirement).
bool make_conv_kernel_shapes_explicit(onnx::GraphProto& graph);

}  // namespace ocs::detail
