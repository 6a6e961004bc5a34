#include "kernels.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace specopt {

SPECOPT_DISPATCH
bool AllFinite(const float* x, size_t n) {
  // Bit test instead of std::isfinite: it vectorises and is not affected by math flags.
  const uint32_t* bits = reinterpret_cast<const uint32_t*>(x);
  constexpr size_t kBlock = 4096;
  for (size_t start = 0; start < n; start += kBlock) {
    size_t end = std::min(n, start + kBlock);
    uint32_t bad = 0;
    for (size_t i = start; i < end; ++i) bad |= ((bits[i] & 0x7f800000u) == 0x7f800000u);
    if (bad) return false;
  }
  return true;
}

SPECOPT_DISPATCH
double SumSquares(const float* x, size_t n) {
  // Eight independent partial sums: without -ffast-math the compiler keeps one sum's order, so
  // one accumulator would be a serial chain; eight vectorise (and sum in a fixed order).
  double acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t k = 0; k < 8; ++k) acc[k] += double(x[i + k]) * double(x[i + k]);
  for (; i < n; ++i) acc[0] += double(x[i]) * double(x[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

SPECOPT_DISPATCH
uint32_t MaxAbsBits(const float* x, size_t n) {
  const uint32_t* bits = reinterpret_cast<const uint32_t*>(x);
  uint32_t m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, bits[i] & 0x7fffffffu);
  return m;
}

SPECOPT_DISPATCH
void Transpose(const float* src, size_t rows, size_t cols, float* dst) {
  // Tiles keep both the reads and the writes within cache lines.
  constexpr size_t kTile = 32;
  for (size_t i0 = 0; i0 < rows; i0 += kTile) {
    size_t i1 = std::min(rows, i0 + kTile);
    for (size_t j0 = 0; j0 < cols; j0 += kTile) {
      size_t j1 = std::min(cols, j0 + kTile);
      for (size_t i = i0; i < i1; ++i)
        for (size_t j = j0; j < j1; ++j) dst[j * rows + i] = src[i * cols + j];
    }
  }
}

}  // namespace specopt
