// fold_batchnorm: merges an inference-mode BatchNormalization into the Conv, ConvTranspose (one
// group) or Gemm before it.
//
// Per output channel o, with a = gamma / sqrt(var + eps):
//   BN(y) = gamma * (y - mean) / sqrt(var + eps) + beta = a * y + (beta - a * mean)
// and y = W x + b is linear, so
//   BN(W x + b) = (a W) x + (a (b - mean) + beta):
//   W'[o, ...] = a[o] * W[o, ...],   b'[o] = (b[o] - mean[o]) * a[o] + beta[o]   (b = 0 if absent).
// Folding is exact in real arithmetic; in float32 it differs by a few ulps of each product.
//
// Matched when exact (pure condition, no rewriting): a default-domain BatchNormalization whose
// input X is produced by a Conv, a ConvTranspose of one group or a Gemm, X has that BN as its only consumer and is not a graph
// output, scale/B/mean/var are float32 constants (or Identity nodes of such: a parameter PyTorch shares) with one entry per output channel, the layer's
// weight (and bias) are float32 constants, and the BN runs in inference mode (training_mode = 0
// from opset 14; its optional statistic outputs unused).
//
// fold_affine_constants does the same for Mul, Add and Sub by a constant that is one value per
// output channel (or a single value) after a Conv or Gemm, as MobileOne-style blocks export their
// learnable scale and shift (PP-OCRv4): W' = a W, b' = a b + shift. Same conditions on the layer.
#pragma once

#include "ir/graph.h"

namespace ocs {

// Folds every matching BatchNormalization of the top-level graph; returns how many.
int64_t fold_batchnorm(Graph& graph);
// Folds every matching Mul/Add/Sub by a per-channel constant (repeatedly: a scale then a shift);
// returns how many nodes went.
int64_t fold_affine_constants(Graph& graph);

}  // namespace ocs
