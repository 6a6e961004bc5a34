// Inverse p-th roots of symmetric matrices, for Shampoo's preconditioners. Measured against a
// coupled Newton iteration: see bench/RESULTS.md; eigh is kept.
#include "inverse_root.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "blas.hpp"
#include "eigh.hpp"
#include "job.hpp"

namespace specopt {

void InverseRoot(const float* s, size_t n, double p, double eps, float* out) {
  if (n == 0) return;
  std::vector<float> shifted(s, s + n * n);
  for (size_t i = 0; i < n; ++i) shifted[i * n + i] += float(eps);
  std::vector<float> values(n), vectors(n * n);
  SymmetricEigen(shifted.data(), n, values.data(), vectors.data());
  // Q·diag(λ^(−1/p))·Qᵀ = (Q·diag(λ^(−1/2p)))·(Q·diag(λ^(−1/2p)))ᵀ: one scaled copy and a syrk.
  std::vector<float> scaled(n * n);
  for (size_t j = 0; j < n; ++j) {
    float f = float(std::pow(std::max(double(values[j]), eps), -0.5 / p));
    for (size_t i = 0; i < n; ++i) scaled[i * n + j] = vectors[i * n + j] * f;
  }
  std::vector<float> result(n * n);
  cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, blasint(n), blasint(n), 1.0f, scaled.data(),
              blasint(n), 0.0f, result.data(), blasint(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) result[i * n + j] = result[j * n + i];
  std::copy(result.begin(), result.end(), out);
}

namespace {

struct RootArgs {
  FloatView s;
  size_t n;
  double p, eps;
};

RootArgs ParseRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) throw Napi::TypeError::New(env, "inverseRoot: expected 4 arguments");
  RootArgs r{};
  r.n = Dim(env, info[1], "inverseRoot: s.rows");
  r.s = Floats(env, info[0], Count(env, r.n, r.n, "inverseRoot: s"), "inverseRoot: s.data");
  r.p = Number(env, info[2], "inverseRoot: p");
  r.eps = Number(env, info[3], "inverseRoot: eps");
  if (!(r.p > 0) || !std::isfinite(r.p)) throw Napi::RangeError::New(env, "inverseRoot: p must be a positive number");
  if (!(r.eps > 0) || !std::isfinite(r.eps)) throw Napi::RangeError::New(env, "inverseRoot: eps must be a positive number");
  return r;
}

}  // namespace

Napi::Value InverseRootSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootArgs r = ParseRoot(info);
  auto out = NewFloats(env, r.n * r.n);
  RunSync(env, [&] { InverseRoot(r.s.data, r.n, r.p, r.eps, out.Data()); });
  return out;
}

Napi::Value InverseRootAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RootArgs r = ParseRoot(info);
  size_t n = r.n;
  double p = r.p, eps = r.eps;
  struct State {
    Input s;
    Output out;
  };
  auto state = std::shared_ptr<State>(new State{{env, info[0], r.s}, {n * n}});
  return Job::Start(
      env, [=] { InverseRoot(state->s.Data(), n, p, eps, state->out.Zeroed()); },
      [=](Napi::Env env) -> Napi::Value { return state->out.Take(env); });
}

}  // namespace specopt
