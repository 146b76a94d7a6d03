// The calibration data of the installed API's quantize() as the recipe reads it: a SampleSource.
#pragma once

#include "data/sample_source.h"
#include "ocs/ocs.h"

#include <memory>

namespace ocs::api {

// Specs go through the CLI's reader (eval/sample_source_spec.h). Stacked arrays and batches from
// a callback become one set of arrays (batches concatenated along axis 0, at most `samples`
// samples pulled) fed as ArraySampleSource feeds an .npz: the same batches, so the same result.
// Null when `calibration` holds nothing.
std::unique_ptr<SampleSource> calibration_source(const Calibration& calibration, const Graph& graph, int64_t samples);

}  // namespace ocs::api
