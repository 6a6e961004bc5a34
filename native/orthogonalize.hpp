#pragma once

#include <napi.h>

#include <cstddef>

namespace specopt {

enum class OrthoMethod { kNewtonSchulz, kSvd };

// The Newton-Schulz iteration's settings: the (a, b, c) of each step and how X is normalised.
struct NewtonSchulzOptions {
  // 3·sets numbers: sets 0 is KellerJordan's (3.4445, −4.7750, 2.0315) for every step, 1 one
  // triple for every step, else one triple per step (sets == steps).
  const double* coefficients = nullptr;
  size_t sets = 0;
  double eps = 1e-7;
  // X/(s·‖X‖_F + eps) (KellerJordan/Muon, s = 1; nanochat's Polar Express, s = 1.01), or
  // X/max(s·‖X‖_F, eps) (torch.optim.Muon, s = 1).
  bool clampNorm = false;
  double normScale = 1.0;
};

// out (m x n, row-major) ≈ U·Vᵀ of g = U·Σ·Vᵀ. Newton-Schulz: the quintic iteration (with
// KellerJordan/Muon's coefficients singular values end near [0.5, 1.5], not exactly 1); Svd: exact
// U·Vᵀ over the singular values above max(m, n)·2^-23·σ₁ (so the zero matrix maps to zero). out
// may equal g.
void Orthogonalize(const float* g, size_t m, size_t n, OrthoMethod method, size_t steps, float* out,
                   const NewtonSchulzOptions& options = {});

// out = σ₁u₁v₁ᵀ, the gradient of ½‖W‖₂² (seed 000), from the SVD.
void SpectralNormGradient(const float* w, size_t m, size_t n, float* out);

// orthogonalize(g, m, n, method, steps) -> Float32Array; spectralNormGrad(w, m, n) -> Float32Array
Napi::Value OrthogonalizeSync(const Napi::CallbackInfo& info);
Napi::Value OrthogonalizeAsync(const Napi::CallbackInfo& info);
Napi::Value SpectralNormGradSync(const Napi::CallbackInfo& info);
Napi::Value SpectralNormGradAsync(const Napi::CallbackInfo& info);

}  // namespace specopt
