#pragma once

#include <napi.h>

#include <cstddef>

namespace specopt {

// Replaces the column-major rows x cols matrix y (rows >= cols) by an orthonormal basis of its
// column space (Householder QR, Q's first cols columns).
void OrthonormalizeColumns(float* y, size_t rows, size_t cols);

// Thin QR of the row-major m x n matrix a: Q (m x k), R (k x n, upper triangular), k = min(m, n).
void ThinQr(const float* a, size_t m, size_t n, float* Q, float* R);

// qr(a, m, n) -> [Q, R]
Napi::Value Qr(const Napi::CallbackInfo& info);
Napi::Value QrAsync(const Napi::CallbackInfo& info);

}  // namespace specopt
