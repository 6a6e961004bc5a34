#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace specopt {

enum class TruncatedMethod { kRandomized, kExact };

struct TruncatedOptions {
  TruncatedMethod method = TruncatedMethod::kRandomized;
  size_t oversample = 10;
  size_t powerIters = 2;
  uint64_t seed = 0;
};

// Top-k singular triplets of the row-major m x n matrix a: U (m x k), S (k), Vt (k x n).
void TruncatedSvd(const float* a, size_t m, size_t n, size_t k, const TruncatedOptions& options,
                  float* U, float* S, float* Vt);

// truncatedSvd(a, m, n, k, method, oversample, powerIters, seed) -> [U, S, Vt]
Napi::Value TruncatedSvdSync(const Napi::CallbackInfo& info);
Napi::Value TruncatedSvdAsync(const Napi::CallbackInfo& info);

}  // namespace specopt
