// OCS_VECTOR_CLONES: a function compiled for AVX-512, AVX2 and the baseline, the version picked
// at load time (GCC's target_clones), for the plain loops the compiler vectorises (quantization,
// calibration statistics).
#pragma once

#define OCS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
