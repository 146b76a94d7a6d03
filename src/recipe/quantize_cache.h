// What quantize_model (recipe/quantizer.h) reuses between runs on one float model and one
// calibration source: `ocs sweep` quantizes the same model once per configuration of its grid.
// Every entry is keyed by everything its value depends on, so a run with the cache gives the same
// graph and plan, bit for bit, as a run without (tests/quantize_cache_test.cpp checks it):
//  - the prepared graph (steps 0 to 1b: --fix-input / --fix-shape, BatchNorm folding, unrolling),
//    keyed by the options that shape it;
//  - the float activation statistics (step 3), keyed by the layers and tensors watched;
//  - the clip threshold of a weight tensor (or one channel of it), keyed by the method, the bit
//    width and the tensor's contents: the unsplit weight's threshold serves every OCS ratio of a
//    (layer, bits, method), a split weight's every ratio giving the same number of splits;
//  - the naive split of a weight (quant/ocs_split.h), keyed by its contents, the axis and the
//    number of splits k: it serves every bit width, clip method and ratio giving that k. The
//    quant-aware halves depend on the grid and are redone (one pass over the weight).
// Contents are compared in full, not only hashed: a key can never match another tensor.
//
// Thread-safe: configurations quantize concurrently. Whatever reads the calibration source holds
// `calibration_mutex` (the source is one stream).
#pragma once

#include "calib/clip_method.h"
#include "calib/tensor_stats.h"
#include "ir/graph.h"
#include "quant/ocs_split.h"
#include "recipe/layer_plan.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace ocs {

class QuantizeCache {
 public:
  // Steps 0 to 1b of the recipe on the float graph, and what they recorded in the plan.
  struct Prepared {
    Graph graph;
    int64_t weights_before = 0;
    int64_t batchnorms_folded = 0;
    std::vector<StepRecord> steps;
  };
  // The prepared graph for `key`, made by `make` the first time.
  std::shared_ptr<const Prepared> prepared(const std::string& key, const std::function<Prepared()>& make);

  // method.threshold_of_tensor(values, bits), computed once per (method, bits, contents).
  double threshold(const ClipMethod& method, const Tensor& values, int bits);

  // ocs_split_naive(weight, axis, k), computed once per (contents, axis, k).
  OcsNaiveSplit naive_split(const Tensor& weight, int64_t axis, int64_t k);

  // Step 3's statistics per key (the watched layers and tensors); used under calibration_mutex.
  std::mutex calibration_mutex;
  std::map<std::string, std::map<std::string, TensorStats>> float_stats;
  std::map<std::string, std::map<std::string, TensorStats>> tensor_stats;  // deployable layout's
  int64_t hits = 0, misses = 0;  // calibration passes saved and made

  // Reuse counts of the threshold and split entries (tests, diagnostics).
  int64_t threshold_hits() const;
  int64_t split_hits() const;

 private:
  // A tensor's identity: dtype, shape and a hash of its bytes; entries under one key keep a copy
  // of their tensor to compare in full.
  using ContentKey = std::tuple<int, Shape, size_t>;
  static ContentKey content_key(const Tensor& t);
  static bool same_contents(const Tensor& a, const Tensor& b);

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Prepared>> prepared_;
  std::mutex prepare_mutex_;
  std::map<std::tuple<std::string, int, ContentKey>, std::vector<std::pair<Tensor, double>>> thresholds_;
  std::map<std::tuple<ContentKey, int64_t, int64_t>, std::vector<std::pair<Tensor, OcsNaiveSplit>>> splits_;
  int64_t threshold_hits_ = 0, split_hits_ = 0;
};

}  // namespace ocs
