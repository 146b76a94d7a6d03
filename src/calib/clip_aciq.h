// ACIQ (Banner, Nahshan, Soudry, "Post training 4-bit quantization of convolutional networks for
// rapid-deployment", NeurIPS 2019): the clip threshold that minimises the expected quantization
// MSE under a Gaussian or a Laplace prior fitted to the tensor. Two methods share the constants:
//
// `aciq`, the reference's definition (docs/METHOD.md, "Clip methods"), aciq_choose():
//   Gaussian: t_g = alpha_b * sigma, sigma = (max x - min x) * 0.175 * (1 + sqrt(pi ln 4)) / sqrt(2 ln N)
//   Laplace:  t_l = beta_b * mean|x - mean x|
//   the Gaussian candidate is kept if its histogram_clip_cost (quant_error.h; 101 bins over
//   [-max|x|, max|x|], counts) is strictly lower, otherwise the Laplace one. t may exceed max|x|.
//   A candidate that is 0 or not finite (a constant tensor, or N = 1) becomes max|x|.
//
// `aciq-std`, our variant, aciq_std_choose():
//   Gaussian: t = alpha_b * sigma,   sigma = the population standard deviation
//   Laplace:  t = beta_b * b,        b = mean|x - mean| (TensorStats::mean_abs_deviation)
//   keeping the prior whose histogram-estimated MSE (quant_error.h, the |x| histogram) is lower;
//   a candidate above max|x| is clamped to max|x|; on equal estimated errors the Gaussian prior.
//
// Constants for b = 2..8 are docs/METHOD.md's table, used verbatim. They are the minimisers, for
// unit scale, of  clip_error(a) + c_b * a^2  with  c_b = (2^(b-1) - 1) / (3 * 8^(b-1))  and the
// exact two-sided clipping error of the prior:
//   Laplace:  2 e^-a                                      ->  a e^a = 1 / c_b
//   Gaussian: 2 ((1 + a^2) Q(a) - a phi(a))               ->  2 (phi(a) - a Q(a)) = c_b a
// (we found this c_b reproduces all 14 table entries to about 1e-7; a test checks 1e-6). For
// b = 9..16, where the reference has no constants, both methods use these equations' roots,
// solved by bisection.
// Note: on the grid of docs/METHOD.md the rounding noise is D^2/12 = a^2 / (12 (2^(b-1) - 1)^2),
// about 4x smaller than c_b a^2; the table therefore clips harder than the MSE optimum on this
// grid (8-bit Gaussian: 3.62 sigma, where `mse-fine` finds 3.93 sigma).
#pragma once

#include "calib/tensor_stats.h"
#include "calib/value_distribution.h"

namespace ocs {

double aciq_gaussian_alpha(int bits);  // the table for 2..8, solved above
double aciq_laplace_beta(int bits);
// The equations' roots for any bits in [2, 16] (for tests and for b > 8).
double aciq_solve_gaussian_alpha(int bits);
double aciq_solve_laplace_beta(int bits);

struct AciqChoice {
  double gaussian_threshold = 0.0;
  double laplace_threshold = 0.0;
  double gaussian_mse = 0.0;        // histogram estimates
  double laplace_mse = 0.0;
  bool laplace = false;             // the chosen prior
  double threshold = 0.0;           // the chosen threshold
};
// The reference's `aciq` (gaussian/laplace_threshold not clamped, *_mse its histogram costs).
AciqChoice aciq_choose(const ValueDistribution& values, int bits);
// Our `aciq-std` (thresholds clamped to max|x|, *_mse the |x|-histogram MSE estimates).
AciqChoice aciq_std_choose(const TensorStats& stats, int bits);

}  // namespace ocs
