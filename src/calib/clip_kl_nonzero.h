// kl-nonzero: our variant of kl (docs/METHOD.md; `kl` is the reference definition, clip_kl.h): entropy calibration as in TensorRT (Migacz, "8-bit Inference with TensorRT", GTC 2017) and
// MXNet's _get_optimal_threshold, on the |x| histogram.
//
// With L = 2^(b-1) quantized levels (0 .. 2^(b-1) - 1 on the positive side of the signed grid)
// and h the histogram counts, for every candidate i = L .. used_bins (the first i bins):
//  1. Reference P: h[0 .. i-1], with the outliers sum(h[i ..]) folded into P[i-1].
//  2. Candidate Q: h[0 .. i-1] WITHOUT the outliers, merged into L groups of m = floor(i / L)
//     consecutive bins (the last group also takes the i - L*m remainder bins), then expanded
//     back to i bins: a group's total is shared equally among its bins where P != 0; bins where
//     P == 0 get 0.
//  3. Smoothing (MXNet's _smooth_distribution, on counts, eps = 1e-4): in a vector with z zeros
//     and n non-zeros, zeros become eps and non-zeros lose eps * z / n. If a vector has no
//     non-zero entry, or smoothing would make an entry <= 0, the candidate's divergence is +inf.
//  4. divergence = KL(P || Q) = sum_k p_k ln(p_k / q_k) with P and Q normalised to sum 1.
// The threshold is the upper edge of the best candidate's last bin, i * bin_width (as MXNet
// takes hist_edges[stop]; TensorRT's slides use the bin middle), clamped to max|x|. The smallest
// divergence wins; on equal divergences the smaller i. Exact zeros are not counted (like
// skip_zeros in NVIDIA's pytorch-quantization): 0 is on every grid, and as a point mass in bin 0
// they would decide the threshold for ReLU outputs. If fewer than L bins are in use (only possible with tiny
// histograms or b > 11 at 2048 bins), or every candidate is +inf, the threshold is max|x|.
// Cost: O(used_bins^2) per call, about 2 million log() for 2048 bins.
#pragma once

#include "calib/histogram.h"

#include <cstdint>
#include <vector>

namespace ocs {

struct KlCandidate {
  int64_t bins = 0;         // i
  double threshold = 0.0;   // i * bin_width (not clamped)
  double divergence = 0.0;  // KL(P || Q), +inf when undefined
};

// All candidates in order of i (empty when used_bins < 2^(b-1)).
std::vector<KlCandidate> kl_candidates(const AbsHistogram& histogram, int bits);

}  // namespace ocs
