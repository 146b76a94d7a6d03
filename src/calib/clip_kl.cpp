#include "calib/clip_kl.h"

#include "calib/clip_method.h"
#include "core/error.h"

#include <cmath>
#include <limits>

namespace ocs {

float float32_pairwise_sum(const float* values, size_t n) {
  struct Pairwise {
    static float sum(const float* a, size_t n) {
      if (n < 8) {
        float total = -0.0f;
        for (size_t i = 0; i < n; ++i) total += a[i];
        return total;
      }
      if (n <= 128) {
        float r[8];
        for (size_t j = 0; j < 8; ++j) r[j] = a[j];
        size_t i = 8;
        for (; i < n - n % 8; i += 8)
          for (size_t j = 0; j < 8; ++j) r[j] += a[i + j];
        float total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) total += a[i];
        return total;
      }
      size_t half = n / 2;
      half -= half % 8;
      return sum(a, half) + sum(a + half, n - half);
    }
  };
  return 0.0f + Pairwise::sum(values, n);
}

namespace {

constexpr int64_t kBins = 1001;
constexpr int64_t kZeroBin = kBins / 2;

// MXNet's _smooth_distribution in float32. False when it cannot make a distribution.
bool smooth(const std::vector<double>& counts, std::vector<float>& out) {
  size_t zeros = 0;
  for (double c : counts) zeros += c == 0.0 ? 1 : 0;
  const size_t nonzeros = counts.size() - zeros;
  if (nonzeros == 0) return false;
  const double eps = 1e-4;
  const float taken = static_cast<float>(-(eps * static_cast<double>(zeros) / static_cast<double>(nonzeros)));
  out.resize(counts.size());
  for (size_t k = 0; k < counts.size(); ++k) {
    out[k] = static_cast<float>(counts[k]) + (counts[k] == 0.0 ? static_cast<float>(eps) : taken);
    if (!(out[k] > 0.0f)) return false;
  }
  return true;
}

// scipy.stats.entropy(p, q) on float32 vectors.
float entropy(std::vector<float>& p, std::vector<float>& q) {
  const float p_total = float32_pairwise_sum(p.data(), p.size());
  const float q_total = float32_pairwise_sum(q.data(), q.size());
  std::vector<float> terms(p.size());
  for (size_t k = 0; k < p.size(); ++k) {
    const double pk = p[k] / p_total, qk = q[k] / q_total;
    terms[k] = static_cast<float>(pk * std::log(pk / qk));
  }
  return float32_pairwise_sum(terms.data(), terms.size());
}

}  // namespace

std::vector<KlReferenceCandidate> kl_reference_candidates(const ValueDistribution& values, int bits) {
  check_clip_bits(bits);
  const double max_abs = values.max_abs();
  OCS_CHECK(max_abs > 0.0, "kl candidates of an all-zero tensor");
  const std::vector<double> h = values.histogram(kBins, -max_abs, max_abs);
  const std::vector<double> edges = ValueDistribution::edges(kBins, -max_abs, max_abs);
  const int64_t n = (int64_t{1} << bits) - 1;
  std::vector<KlReferenceCandidate> candidates;
  std::vector<double> p, q;
  std::vector<float> p_smooth, q_smooth;
  for (int64_t i = n / 2; i <= kZeroBin; ++i) {
    const int64_t start = kZeroBin - i, stop = kZeroBin + i + 1, size = 2 * i + 1;
    const double* slice = h.data() + start;
    // 1. P: the slice with the outliers folded into its end bins.
    p.assign(slice, slice + size);
    for (int64_t k = 0; k < start; ++k) p.front() += h[static_cast<size_t>(k)];
    for (int64_t k = stop; k < kBins; ++k) p.back() += h[static_cast<size_t>(k)];
    // 2. Q: n groups of the unmodified slice, spread over its non-zero bins.
    q.assign(static_cast<size_t>(size), 0.0);
    const int64_t merged = size / n;
    for (int64_t group = 0; group < n; ++group) {
      const int64_t from = group * merged;
      const bool last = group == n - 1;
      const int64_t sum_to = last ? size : from + merged;
      const int64_t fill_to = last ? size - 1 : from + merged;  // the reference's off-by-one
      double total = 0.0;
      for (int64_t k = from; k < sum_to; ++k) total += slice[k];
      int64_t nonzero = 0;
      for (int64_t k = from; k < fill_to; ++k) nonzero += slice[k] != 0.0 ? 1 : 0;
      if (nonzero == 0) continue;
      for (int64_t k = from; k < fill_to; ++k)
        if (slice[k] != 0.0) q[static_cast<size_t>(k)] = static_cast<float>(total / static_cast<double>(nonzero));
    }
    // 3-4. Smooth, then the divergence.
    KlReferenceCandidate candidate;
    candidate.i = i;
    candidate.threshold = edges[static_cast<size_t>(stop)];
    candidate.divergence = smooth(p, p_smooth) && smooth(q, q_smooth) ? entropy(p_smooth, q_smooth)
                                                                      : std::numeric_limits<float>::infinity();
    candidates.push_back(candidate);
  }
  return candidates;
}

namespace {

double kl_threshold(const ValueDistribution& values, int bits) {
  check_clip_bits(bits);
  OCS_CHECK(values.count() > 0, "clip threshold of a tensor that was never observed");
  if (values.max_abs() == 0.0) return 0.0;
  const std::vector<KlReferenceCandidate> candidates = kl_reference_candidates(values, bits);
  if (candidates.empty()) return values.max_abs();  // b >= 10: more levels than the 1001 bins
  const KlReferenceCandidate* best = &candidates.front();
  for (const KlReferenceCandidate& c : candidates)
    if (c.divergence < best->divergence) best = &c;
  return best->threshold;
}

class ClipKl : public ClipMethod {
 public:
  std::string name() const override { return "kl"; }
  StatsNeeds needs() const override { return StatsNeeds{false, false, true}; }
  double threshold(const TensorStats& stats, int bits) const override {
    return kl_threshold(StreamedValues(stats), bits);
  }
  double threshold_of_tensor(const Tensor& values, int bits) const override {
    return kl_threshold(TensorValues(values), bits);
  }
};

}  // namespace

std::unique_ptr<ClipMethod> make_clip_kl() { return std::make_unique<ClipKl>(); }

}  // namespace ocs
