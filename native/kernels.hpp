// Elementwise and data-movement loops, compiled for several instruction sets and picked at load
// time (GCC target_clones), so one shipped binary uses AVX-512 where the CPU has it.
#pragma once

#include <cstddef>

namespace specopt {

// True when no element is NaN or +-Inf.
bool AllFinite(const float* x, size_t n);

// dst (cols x rows, row-major) = transpose of src (rows x cols, row-major).
void Transpose(const float* src, size_t rows, size_t cols, float* dst);

}  // namespace specopt
