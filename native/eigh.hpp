#pragma once

#include <napi.h>

#include <cstddef>

namespace specopt {

// Eigendecomposition of the symmetric n x n matrix whose lower triangle is `s` (row-major).
// values ascending; vectors row-major with column i belonging to values[i].
void SymmetricEigen(const float* s, size_t n, float* values, float* vectors);

// eigh(s, n) -> [values, vectors]
Napi::Value Eigh(const Napi::CallbackInfo& info);
Napi::Value EighAsync(const Napi::CallbackInfo& info);

}  // namespace specopt
