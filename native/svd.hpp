#pragma once

#include <napi.h>

#include <cstddef>

namespace specopt {

// Thin SVD of the row-major m x n matrix a: U (m x k), S (k, descending), Vt (k x n),
// k = min(m, n). With U and Vt null, only the singular values are computed (much cheaper).
void ThinSvd(const float* a, size_t m, size_t n, float* U, float* S, float* Vt);

// Throws a RangeError-kind ComputeError when a holds NaN or Infinity.
void RequireFinite(const float* a, size_t count, const char* what);

// svd(a, m, n) -> [U, S, Vt]; singularValues(a, m, n) -> S
Napi::Value Svd(const Napi::CallbackInfo& info);
Napi::Value SvdAsync(const Napi::CallbackInfo& info);
Napi::Value SingularValues(const Napi::CallbackInfo& info);

}  // namespace specopt
