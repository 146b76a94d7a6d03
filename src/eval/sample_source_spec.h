// The datasets behind a --calib / --data spec: picks the reader (eval/) that yields the samples.
#pragma once

#include "data/sample_source.h"

#include <memory>
#include <string>
#include <vector>

namespace ocs {

// A source from a --calib / --data spec:
//   fashion-mnist:train | fashion-mnist:test   Debian's dataset-fashion-mnist (labelled)
//   kjv:train|valid|test[,vocab=FILE][,seq=T]   King James Bible token windows (eval/kjv_text.h)
//   FILE.npz[,axis=NAME:K|none ...] | NAME=FILE.npy[,axis=K|none] ...
//                                               arrays keyed by input name, samples on axis 0
//                                               (or axis K; none: one value for every batch)
//   images:DIR[,resize=S][,crop=C][,mean=a/b/c][,std=a/b/c][,bgr][,gray][,classes=FILE]
//                                               ImageNet-layout folders (eval/image_folder.h)
//   text-lines:DIR[,width=W]                    text-line images + labels.tsv (eval/text_lines.h)
//   wav:FILE[,chunk=512][,state=IN:OUT][,fix=NAME:VALUE]
//                                               chunks of audio for streaming models (eval/wav_source.h)
std::unique_ptr<SampleSource> make_sample_source(const std::vector<std::string>& specs,
                                                 const Graph& graph, int64_t limit);

}  // namespace ocs
