// The mean squared quantization error of a tensor, estimated from its |x| histogram, for the
// symmetric signed b-bit grid of docs/METHOD.md:
//   q = clamp(round(x * s), -2^(b-1), 2^(b-1) - 1),  x_hat = q / s,  s = (2^(b-1) - 1) / t.
// Shared by the MSE and ACIQ clip methods.
//
// Model (what is exact and what is assumed)
//  - Within a bin the values are spread uniformly over [lower, upper), except that the top
//    bin's upper edge is cut at the exact max|x|, and the exact zeros (counted separately by the
//    histogram) are a point mass with no error.
//  - |x| <= t: rounding error to the nearest grid point k/s. Integrated exactly over each bin:
//    the squared distance to the nearest multiple of D = 1/s is periodic with period D, so
//    G(u) = integral_0^u = floor(u/D) * D^3/12 + g(u mod D), g(r) = r^3/3 for r <= D/2 and
//    D^3/12 + (r - D)^3/3 above (ties have measure zero, so the tie rule does not matter).
//  - |x| > t: clipping error (|x| - t)^2, integrated exactly: ((b-t)^3 - (a-t)^3) / 3.
//  - Sign: the histogram holds |x|, so both signs are treated as clipping at t. The grid's extra
//    negative level -2^(b-1) (reaching -(t + D)) is ignored: for negative values beyond t the
//    estimate is an upper bound of the true error. Everything else is exact under the
//    uniform-within-bin assumption.
#pragma once

#include "calib/histogram.h"

#include <vector>

namespace ocs {

// Mean over all finite values of (x - x_hat)^2. threshold > 0, bits in [2, 16]. 0 when empty.
double histogram_quantization_mse(const AbsHistogram& histogram, double threshold, int bits);

}  // namespace ocs

namespace ocs {

// The reference's cost of a threshold on a histogram (docs/METHOD.md, mse and aciq): bin centres
// c_i standing for weights w_i (probabilities or counts),
//   sum_{|c_i| > t} (|c_i| - t)^2 w_i  +  sum_{|c_i| <= t} (c_i - Q_t(c_i))^2 w_i,
// Q_t the b-bit symmetric quantizer with threshold t (round half to even). t > 0.
double histogram_clip_cost(const std::vector<double>& centres, const std::vector<double>& weights,
                           double threshold, int bits);
// The centres of numpy's bins from their edges: float32((e_k + e_{k+1}) / 2) in float32 arithmetic.
std::vector<double> bin_centres(const std::vector<double>& edges);

}  // namespace ocs
