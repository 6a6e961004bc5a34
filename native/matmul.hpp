#pragma once

#include <napi.h>

#include <cstddef>

namespace specopt {

struct GemmShape {
  size_t aRows, aCols, bRows, bCols;
  bool transA, transB;
  size_t m() const { return transA ? aCols : aRows; }
  size_t k() const { return transA ? aRows : aCols; }
  size_t n() const { return transB ? bRows : bCols; }
};

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major. With beta == 0, C is not read.
void Gemm(const GemmShape& shape, const float* a, const float* b, float alpha, float beta,
          float* c);

// matmul(a, aRows, aCols, b, bRows, bCols, transA, transB, alpha, beta, out)
Napi::Value Matmul(const Napi::CallbackInfo& info);
Napi::Value MatmulAsync(const Napi::CallbackInfo& info);

}  // namespace specopt
