#pragma once

#include <napi.h>

#include <cstddef>

namespace specopt {

enum class OrthoMethod { kNewtonSchulz, kSvd };

// out (m x n, row-major) ≈ U·Vᵀ of g = U·Σ·Vᵀ. Newton-Schulz: KellerJordan/Muon's quintic
// iteration (singular values end near [0.5, 1.5], not exactly 1); Svd: exact U·Vᵀ over the
// singular values above max(m, n)·2^-23·σ₁ (so the zero matrix maps to zero). out may equal g.
void Orthogonalize(const float* g, size_t m, size_t n, OrthoMethod method, size_t steps, float* out);

// out = σ₁u₁v₁ᵀ, the gradient of ½‖W‖₂² (seed 000), from the SVD.
void SpectralNormGradient(const float* w, size_t m, size_t n, float* out);

// orthogonalize(g, m, n, method, steps) -> Float32Array; spectralNormGrad(w, m, n) -> Float32Array
Napi::Value OrthogonalizeSync(const Napi::CallbackInfo& info);
Napi::Value OrthogonalizeAsync(const Napi::CallbackInfo& info);
Napi::Value SpectralNormGradSync(const Napi::CallbackInfo& info);
Napi::Value SpectralNormGradAsync(const Napi::CallbackInfo& info);

}  // namespace specopt
