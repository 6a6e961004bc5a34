#pragma once

#include <napi.h>

#include <cstddef>

namespace specopt {

// out (n x n) = (S + εI)^(−1/p) for the symmetric S whose lower triangle is s: eigh of S + εI,
// eigenvalues floored at ε, Q·diag(λ^(−1/p))·Qᵀ. Throws ComputeError on NaN/Inf or if LAPACK
// fails; out is written only on success. out may equal s.
void InverseRoot(const float* s, size_t n, double p, double eps, float* out);

// inverseRoot(s, n, p, eps) -> Float32Array
Napi::Value InverseRootSync(const Napi::CallbackInfo& info);
Napi::Value InverseRootAsync(const Napi::CallbackInfo& info);

}  // namespace specopt
