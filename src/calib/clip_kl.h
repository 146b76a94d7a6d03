// kl: the reference's definition (docs/METHOD.md, "Clip methods"): MXNet's
// _get_optimal_threshold (as TensorRT's entropy calibrator) on a histogram of the SIGNED values,
// 1001 bins over [-T, T], T = max|x|, with n = 2^b - 1 quantized bins. For i = n/2 .. 500 (integer
// division), with the slice s = the 2i + 1 central bins:
//  1. P = s, all counts left of it added to its first bin and all counts right of it to its last.
//  2. Q: s (unmodified) merged into n groups of m = (2i + 1) / n bins, the last group also taking
//     the remainder; each group's total spread evenly over its bins where s != 0 (other bins 0).
//     The reference's off-by-one, matched: the last group's non-zero count and its fill stop one
//     bin early, so the slice's last bin gets q = 0 (its count still enters the group's total).
//  3. Both smoothed as MXNet's _smooth_distribution, in float32 as the reference computes it:
//     z zero bins become 1e-4, the others lose 1e-4 * z / (2i + 1 - z); a vector that would get
//     an entry <= 0, or has no non-zero entry, makes the candidate's divergence +inf.
//  4. divergence = scipy.stats.entropy(P, Q) in float32: both divided by their sums, then the
//     sum of p ln(p / q), each term computed in double and rounded to float32, and every sum a
//     float32 pairwise sum as numpy's (float32_pairwise_sum below). Why float32: in the flat
//     region of the divergence neighbouring candidates differ by less than a float32 ulp, and the
//     reference's choice among them is decided by its rounding (two of the 35 reference
//     thresholds move otherwise, by 1% and 38%).
// t = the upper edge of the slice (numpy's float32 edge 500 + i + 1) of the first smallest
// divergence. max|x| = 0 gives 0. For b >= 10 (n / 2 > 500) there is no candidate (the reference
// would fail) and t = max|x|. Cost: about 500 candidates of up to 1001 bins each.
// Our variant on the |x| histogram without exact zeros is `kl-nonzero` (clip_kl_nonzero.h).
#pragma once

#include "calib/value_distribution.h"

#include <cstdint>
#include <vector>

namespace ocs {

struct KlReferenceCandidate {
  int64_t i = 0;            // half-width of the central slice, in bins
  double threshold = 0.0;   // its upper edge
  float divergence = 0.0f;  // +inf when undefined
};

// Every candidate in order of i.
std::vector<KlReferenceCandidate> kl_reference_candidates(const ValueDistribution& values, int bits);

// numpy's float32 np.sum of a contiguous array: 0 + the pairwise sum (blocks of up to 128
// summed with 8 interleaved accumulators, longer ones split in halves rounded down to a
// multiple of 8), every addition in float32.
float float32_pairwise_sum(const float* values, size_t n);

}  // namespace ocs
