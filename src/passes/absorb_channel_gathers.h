// absorb_channel_gathers: weight OCS without a Gather in front of the split layer, where the
// layer's input can be computed with the duplicated channels already in it (issue #11, the
// deployable export of docs/QUANTIZE.md).
//
// ocs_split_weights feeds a split layer x' = Gather(x, idx, axis = channel axis) with
// idx = [0, 1, ..., C - 1, dup[0], ..., dup[k-1]]. When x is computed from a producer layer P
// (Conv, Gemm, or MatMul with a constant weight) only through per-channel or element-wise ops
//     x = f_n(... f_1(P(z)) ...)
// each f commuting with a channel gather (Relu, Clip, Sigmoid, HardSwish, ... ; Add/Sub/Mul/Div
// by a scalar constant or a constant with one value per channel; inference BatchNormalization),
// then Gather(x, idx) = f_n'(... f_1'(P'(z)) ...), where P' is P with its output channels
// gathered by idx (weight rows and bias entries copied) and each f_i' has its per-channel
// constants gathered by idx. Every channel of the widened x is computed exactly as the original
// channel it copies, so the rewrite is exact up to the order oneDNN sums a row in.
//
// Conditions (otherwise the Gather stays, with the reason in the report): the Gather's indices
// are a constant of that form along P's output-channel axis (Conv: 1; Gemm and MatMul: the last
// axis); every value on the way is read by exactly one node and is no graph output; P is no
// grouped convolution; a per-channel constant has its channel dim at that axis and 1 elsewhere.
#pragma once

#include "ir/graph.h"

#include <string>
#include <vector>

namespace ocs {

struct ChannelGatherReport {
  std::string gather;    // the Gather node's name
  std::string consumer;  // the layer that reads its output
  std::string producer;  // the layer that now computes the duplicated channels; empty if kept
  std::string kept_because;  // why the Gather stays (empty when absorbed)
};

// Absorbs each Gather named in `gathers` (channel-duplicating Gathers of ocs_split_weights) that
// meets the conditions above; returns one entry per name. verify() holds afterwards.
std::vector<ChannelGatherReport> absorb_channel_gathers(Graph& graph, const std::vector<std::string>& gathers);

}  // namespace ocs
