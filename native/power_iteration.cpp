// Power iteration (seeds 000 and 001). Both schemes apply AᵀA to the right vector each round;
// they differ in the start vector and in where sigma is read. Each matrix-vector product is
// normalised on its own, so AᵀA is never formed and 1e30-scale inputs do not overflow.
#include "power_iteration.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "blas.hpp"
#include "kernels.hpp"
#include "svd.hpp"

namespace specopt {

namespace {

// x <- x/|x|; returns |x| (0 leaves x unchanged).
float Normalize(float* x, size_t n) {
  float norm = cblas_snrm2(static_cast<blasint>(n), x, 1);
  if (norm > 0) cblas_sscal(static_cast<blasint>(n), 1.0f / norm, x, 1);
  return norm;
}

// A fixed, sign-varying start for when the given one is orthogonal to A's row or column space.
void FallbackStart(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = std::sin(static_cast<float>(i + 1));
}

}  // namespace

namespace {

struct Operator {
  const float* a;
  blasint m, n;
  void Times(const float* x, float* y) const {  // y = A x
    cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0f, a, n, x, 1, 0.0f, y, 1);
  }
  void TimesTransposed(const float* y, float* x) const {  // x = Aᵀ y
    cblas_sgemv(CblasRowMajor, CblasTrans, m, n, 1.0f, a, n, y, 1, 0.0f, x, 1);
  }
};

// Scheme 2 from unit u. Returns sigma, or 0 when an iterate vanished.
float Alternating(const Operator& A, size_t iters, float* u, float* v) {
  A.TimesTransposed(u, v);
  float sigma = Normalize(v, A.n);  // with no rounds, uᵀAv = |Aᵀu|
  for (size_t it = 0; it < iters && sigma > 0; ++it) {
    if (it > 0) {
      A.TimesTransposed(u, v);
      if (Normalize(v, A.n) == 0) return 0;
    }
    A.Times(v, u);
    sigma = Normalize(u, A.m);  // u = Av/|Av|, so uᵀAv = |Av|
  }
  return sigma;
}

// Scheme 1 from unit v. Returns sigma, or 0 when an iterate vanished.
float Gram(const Operator& A, size_t iters, float* u, float* v) {
  for (size_t it = 0; it < iters; ++it) {
    A.Times(v, u);
    if (Normalize(u, A.m) == 0) return 0;
    A.TimesTransposed(u, v);
    if (Normalize(v, A.n) == 0) return 0;
  }
  A.Times(v, u);
  return Normalize(u, A.m);
}

}  // namespace

float PowerIterate(const float* a, size_t m, size_t n, size_t iters, PowerScheme scheme,
                   const float* init, float* u, float* v) {
  if (m == 0 || n == 0) return 0.0f;
  RequireFinite(a, m * n, "powerIteration");
  Operator A{a, static_cast<blasint>(m), static_cast<blasint>(n)};
  bool alternating = scheme == PowerScheme::kAlternating;
  float* start = alternating ? u : v;
  size_t startLength = alternating ? m : n;
  for (size_t i = 0; i < startLength; ++i) start[i] = init ? init[i] : 1.0f;
  bool zero = std::all_of(a, a + m * n, [](float x) { return x == 0.0f; });
  // Starts to try in turn: the given one, a fixed sign-varying vector, then each e_j (one of
  // which is not orthogonal to A's row/column space unless A = 0).
  for (size_t attempt = 0; !zero && attempt < startLength + 2; ++attempt) {
    if (attempt == 1) FallbackStart(start, startLength);
    if (attempt >= 2) {
      std::fill(start, start + startLength, 0.0f);
      start[attempt - 2] = 1.0f;
    }
    if (Normalize(start, startLength) == 0) continue;
    float sigma = alternating ? Alternating(A, iters, u, v) : Gram(A, iters, u, v);
    if (sigma > 0) return sigma;
  }
  // A = 0: sigma is 0 and any unit pair is exact.
  std::fill(u, u + m, 0.0f);
  std::fill(v, v + n, 0.0f);
  u[0] = v[0] = 1.0f;
  return 0.0f;
}

Napi::Value PowerIteration(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6) throw Napi::TypeError::New(env, "powerIteration: expected 6 arguments");
  size_t m = Dim(env, info[1], "powerIteration: a.rows");
  size_t n = Dim(env, info[2], "powerIteration: a.cols");
  FloatView a = Floats(env, info[0], Count(env, m, n, "powerIteration: a"), "powerIteration: a.data");
  size_t iters = Dim(env, info[3], "powerIteration: iters");
  std::string name = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  if (name != "alternating" && name != "gram") {
    throw Napi::TypeError::New(env, "powerIteration: scheme must be 'alternating' or 'gram'");
  }
  PowerScheme scheme = name == "gram" ? PowerScheme::kGram : PowerScheme::kAlternating;
  FloatView init = OptionalFloats(env, info[5], scheme == PowerScheme::kGram ? n : m,
                                  "powerIteration: init");
  if (init.data && !AllFinite(init.data, init.length)) {
    throw Napi::RangeError::New(env, "powerIteration: init contains NaN or Infinity");
  }
  auto u = NewFloats(env, m), v = NewFloats(env, n);
  float sigma = 0;
  RunSync(env, [&] { sigma = PowerIterate(a.data, m, n, iters, scheme, init.data, u.Data(), v.Data()); });
  return Tuple(env, {Napi::Number::New(env, sigma), u, v});
}

}  // namespace specopt
