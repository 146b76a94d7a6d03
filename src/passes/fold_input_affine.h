// fold_input_affine: a scalar affine function y = a * h + b whose every reader is a Conv (as its
// data input) folds into those Convs, for the deployable QDQ layout (docs/QUANTIZE.md, "Two
// layouts"). PP-OCRv4's learnable affine blocks put one after every HardSwish; between two
// quantized Convs ONNX Runtime runs them as two float passes over the data.
//
// A Conv is linear in its input, and its zero padding is zero before and after a scaling:
//   Conv(W, a h)     = Conv(a W, h)                          (any padding)
//   Conv(W, a h + b) = Conv(a W, h) + b * sum(W[co])         (no padding: every tap reads data)
// So with `a` a one-element float constant (Mul, either input order), `b` one (Add, either
// order; absent: b = 0), h no constant, each intermediate read only by the next op:
//   - every reader unpadded (pads 0, auto_pad NOTSET or VALID), or b = 0: Mul and Add go;
//     W' = a W, bias' = bias + b * sum(W[co]) (a bias is added when there was none);
//   - otherwise, a != 0: h + b / a replaces a h + b (one Add instead of Mul and Add) and W' = a W.
// Readers: Convs with float constant weights (and bias), h their input 0 and nothing else.
// Anything else is left alone. Float32 rounding moves outputs by a few ulps.
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// Folds every match; returns how many Mul/Add nodes went.
int64_t fold_input_affine(Graph& graph);

}  // namespace ocs
