// channels_last_upsampling: nearest upsamplings of the deployable QDQ layout written as copies of
// channels-last rows, the form ONNX Runtime runs fast (docs/QUANTIZE.md step 7; measured in
// docs/PERFORMANCE.md, issue #11), and read back into a Resize for our engine.
//
// ORT runs the uint8 codes between its int8 Convs channels-last. A nearest Resize there is a
// per-element loop (PP-OCRv4 det's six: 6.6 ms of 41 per run); channels-first only scales
// [1, 1, 2, 2] have a copy loop, and moving the data there and back costs as much. So each
// nearest Resize by integer factors (fh, fw) whose input is a DequantizeLinear of codes q
// [N, C, H, W] becomes:
//   t = Transpose(q, [0, 2, 3, 1])                                  [N, H, W, C]
//   e = Expand(Unsqueeze(t, axes [2, 4]), [1, 1, fh, 1, fw, 1])     [N, H, fh, W, fw, C]
//   u = Reshape(e, Shape(t) * [1, fh, fw, 1])                       [N, H fh, W fw, C]
//   y = DequantizeLinear(Transpose(u, [0, 3, 1, 2]), q's grid)
// Pixel (h fh + i, w fw + j) of u is pixel (h, w) of t: nearest upsampling that reads pixel
// floor(x / f), which is what the Resizes rewritten here read (asymmetric coordinates with floor;
// half_pixel with a round-to-nearest mode, where x / f + (1 / f - 1) / 2 never lies on a tie).
// The dequantization moves after the copy, which changes nothing (it is element-wise, per channel
// at most). ORT's layout optimizer cancels the two Transposes against its own around the int8
// Convs, so what it runs is one Expand that copies rows of C bytes.
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// The export: rewrites every such Resize; returns how many.
int64_t write_upsamplings_channels_last(Graph& graph);

// Our engine (on the Session's copy of a graph): every chain of exactly the form above, on any
// codes, becomes DequantizeLinear -> Resize(nearest, asymmetric, floor) again, which the engine
// runs as one fused step. Returns how many.
int64_t read_channels_last_upsamplings(Graph& graph);

}  // namespace ocs
