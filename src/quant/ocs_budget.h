// A model-wide cap on what weight OCS adds (`ocs quantize --max-overhead P`).
//
// The expand ratio r gives every layer ceil(r * C_in) splits, whatever they cost or bring: on a
// layer with one input channel, r = 0.02 doubles the layer. Under a cap of B added weights the
// splits go where they shrink a layer's range the most per weight added:
//   - a split of input channel c adds one channel slice (numel / C_in weights) and halves that
//     channel's largest |w|; a layer's range (its largest |w|) drops only when every channel at
//     the top has been split, so the unit considered is the group of splits that lowers it,
//     from range r to r': gain 20 log10(r / r') dB of weight SQNR on a max grid (noise ~ r^2);
//   - greedily, the group with the highest gain per weight added over all layers is taken while
//     it fits in what is left of the cap and the layer stays within its ratio's k.
// The halves are estimated as w / 2 (the QA split moves them by a quarter step: no difference to
// which channels come first).
#pragma once

#include "core/tensor.h"

#include <vector>

namespace ocs {

struct OcsBudgetLayer {
  const Tensor* weight = nullptr;  // float32
  int64_t axis = 1;                // input-channel axis of the weight
  int64_t max_splits = 0;          // the ratio's k: never more than this
};

// Splits per layer (same order as `layers`) adding at most `budget` weights in all.
std::vector<int64_t> ocs_budget_splits(const std::vector<OcsBudgetLayer>& layers, int64_t budget);

}  // namespace ocs
