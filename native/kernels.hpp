// Elementwise and data-movement loops, compiled for several instruction sets and picked at load
// time (GCC target_clones), so one shipped binary uses AVX-512 where the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>

// Marks a loop function to be compiled for AVX-512, AVX2 and baseline x86-64, chosen at load.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SPECOPT_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SPECOPT_DISPATCH
#endif

namespace specopt {

// True when no element is NaN or +-Inf.
bool AllFinite(const float* x, size_t n);

// Σ x², accumulated in double (exact enough for any float32 input: no square overflows or
// underflows a double). Not finite exactly when some element is NaN or ±Inf.
double SumSquares(const float* x, size_t n);

// The largest |x| as its bit pattern (the order of non-negative floats' bits is their values'
// order): >= 0x7f800000 exactly when some element is NaN or ±Inf.
uint32_t MaxAbsBits(const float* x, size_t n);

// dst (cols x rows, row-major) = transpose of src (rows x cols, row-major).
void Transpose(const float* src, size_t rows, size_t cols, float* dst);

}  // namespace specopt
