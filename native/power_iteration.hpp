#pragma once

#include <napi.h>

#include <cstddef>

namespace specopt {

enum class PowerScheme {
  kAlternating,  // v <- Aᵀu/|Aᵀu|, u <- Av/|Av|, sigma = uᵀAv; starts from u (length m)
  kGram,         // x <- AᵀAx/|AᵀAx|; starts from x = v (length n)
};

// Power iteration for the top singular triplet of the row-major m x n matrix a. `init` (length m
// for kAlternating, n for kGram) or, when null, the all-ones vector. Returns sigma.
float PowerIterate(const float* a, size_t m, size_t n, size_t iters, PowerScheme scheme,
                   const float* init, float* u, float* v);

// powerIteration(a, m, n, iters, scheme, init | null) -> [sigma, u, v]
Napi::Value PowerIteration(const Napi::CallbackInfo& info);

}  // namespace specopt
