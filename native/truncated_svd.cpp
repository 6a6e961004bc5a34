// Truncated SVD. 'randomized' is Halko, Martinsson & Tropp (2011), Algorithm 4.4: a Gaussian
// sketch of the range, `powerIters` subspace iterations re-orthonormalised by QR after every
// product, then the exact SVD of the small projected matrix. 'exact' is the full SVD, cut.
// (LAPACK's sgesvdx was measured too: no faster than the full sgesdd at 2048x1024, k <= 64, and
// OpenBLAS 0.3.21's copy writes past its singular-value array on rank-deficient input.)
#include "truncated_svd.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "blas.hpp"
#include "job.hpp"
#include "qr.hpp"
#include "svd.hpp"

namespace specopt {

namespace {

// Deterministic Gaussian samples (SplitMix64 + Box-Muller): the same seed gives the same sketch
// on every machine, so results are reproducible.
void FillGaussian(float* x, size_t count, uint64_t seed) {
  uint64_t state = seed ^ 0x9E3779B97F4A7C15ull;
  auto next = [&state] {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  auto uniform = [&next] { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; };
  for (size_t i = 0; i < count; i += 2) {
    double radius = std::sqrt(-2.0 * std::log(uniform()));
    double angle = 2.0 * M_PI * uniform();
    x[i] = static_cast<float>(radius * std::cos(angle));
    if (i + 1 < count) x[i + 1] = static_cast<float>(radius * std::sin(angle));
  }
}

void Randomized(const float* at, size_t m, size_t n, size_t k, const TruncatedOptions& o,
                float* U, float* S, float* Vt) {
  // Row-major A is column-major Aᵀ ("at", n x m, ld n): every product below reads it in place.
  size_t l = std::min(k + o.oversample, std::min(m, n));
  blasint M = static_cast<blasint>(m), N = static_cast<blasint>(n), L = static_cast<blasint>(l);
  std::vector<float> omega(n * l), Q(m * l), Z(n * l);
  FillGaussian(omega.data(), omega.size(), o.seed);
  auto timesA = [&](const float* x, float* y) {  // y (m x l) = A x, x n x l
    cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, M, L, N, 1.0f, at, N, x, N, 0.0f, y, M);
  };
  auto timesAt = [&](const float* y, float* x) {  // x (n x l) = Aᵀ y, y m x l
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, N, L, M, 1.0f, at, N, y, M, 0.0f, x, N);
  };
  timesA(omega.data(), Q.data());
  OrthonormalizeColumns(Q.data(), m, l);
  for (size_t it = 0; it < o.powerIters; ++it) {
    timesAt(Q.data(), Z.data());
    OrthonormalizeColumns(Z.data(), n, l);
    timesA(Z.data(), Q.data());
    OrthonormalizeColumns(Q.data(), m, l);
  }
  // B = Qᵀ A (l x n): its column-major transpose Aᵀ Q is, read row-major, B itself.
  timesAt(Q.data(), Z.data());
  std::vector<float> uSmall(l * l), sSmall(l), vtSmall(l * n);
  ThinSvd(Z.data(), l, n, uSmall.data(), sSmall.data(), vtSmall.data());
  // A ≈ Q B = (Q uSmall) S vtSmall.
  std::copy_n(sSmall.begin(), k, S);
  std::copy_n(vtSmall.begin(), k * n, Vt);
  // Row-major U (m x k) is column-major Uᵀ = uSmall[:, :k]ᵀ Qᵀ, and row-major uSmall read
  // column-major is uSmallᵀ, whose first k rows are uSmall[:, :k]ᵀ.
  cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(k), M, L, 1.0f,
              uSmall.data(), L, Q.data(), M, 0.0f, U, static_cast<blasint>(k));
}

}  // namespace

void TruncatedSvd(const float* a, size_t m, size_t n, size_t k, const TruncatedOptions& o,
                  float* U, float* S, float* Vt) {
  RequireFinite(a, m * n, "truncatedSvd");
  if (k == 0) return;
  size_t full = std::min(m, n);
  // A sketch as large as the matrix costs more than the exact SVD and is no more accurate.
  if (o.method == TruncatedMethod::kRandomized && k + o.oversample < full) {
    Randomized(a, m, n, k, o, U, S, Vt);
    return;
  }
  std::vector<float> u(m * full), s(full), vt(full * n);
  ThinSvd(a, m, n, u.data(), s.data(), vt.data());
  for (size_t i = 0; i < m; ++i) std::copy_n(&u[i * full], k, &U[i * k]);
  std::copy_n(s.begin(), k, S);
  std::copy_n(vt.begin(), k * n, Vt);
}

namespace {

struct TruncatedArgs {
  FloatView a;
  size_t m, n, k;
  TruncatedOptions options;
};

TruncatedArgs ParseTruncated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 8) throw Napi::TypeError::New(env, "truncatedSvd: expected 8 arguments");
  TruncatedArgs r{};
  r.m = Dim(env, info[1], "truncatedSvd: a.rows");
  r.n = Dim(env, info[2], "truncatedSvd: a.cols");
  r.a = Floats(env, info[0], Count(env, r.m, r.n, "truncatedSvd: a"), "truncatedSvd: a.data");
  r.k = Dim(env, info[3], "truncatedSvd: k");
  if (r.k > std::min(r.m, r.n)) {
    throw Napi::RangeError::New(env, "truncatedSvd: k must be at most min(rows, cols) = " +
                                         std::to_string(std::min(r.m, r.n)) + ", got " +
                                         std::to_string(r.k));
  }
  std::string method = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  if (method == "randomized") {
    r.options.method = TruncatedMethod::kRandomized;
  } else if (method == "exact") {
    r.options.method = TruncatedMethod::kExact;
  } else {
    throw Napi::TypeError::New(env, "truncatedSvd: method must be 'randomized' or 'exact'");
  }
  r.options.oversample = Dim(env, info[5], "truncatedSvd: oversample");
  r.options.powerIters = Dim(env, info[6], "truncatedSvd: powerIters");
  r.options.seed = static_cast<uint64_t>(Dim(env, info[7], "truncatedSvd: seed"));
  return r;
}

}  // namespace

Napi::Value TruncatedSvdSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TruncatedArgs r = ParseTruncated(info);
  auto U = NewFloats(env, r.m * r.k), S = NewFloats(env, r.k), Vt = NewFloats(env, r.k * r.n);
  RunSync(env, [&] { TruncatedSvd(r.a.data, r.m, r.n, r.k, r.options, U.Data(), S.Data(), Vt.Data()); });
  return Tuple(env, {U, S, Vt});
}

Napi::Value TruncatedSvdAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TruncatedArgs r = ParseTruncated(info);
  size_t m = r.m, n = r.n, k = r.k;
  TruncatedOptions options = r.options;
  struct State {
    Input a;
    Output U, S, Vt;
  };
  auto state = std::shared_ptr<State>(new State{{env, info[0], r.a}, {m * k}, {k}, {k * n}});
  return Job::Start(
      env,
      [=] {
        TruncatedSvd(state->a.Data(), m, n, k, options, state->U.Zeroed(), state->S.Zeroed(),
                     state->Vt.Zeroed());
      },
      [=](Napi::Env env) -> Napi::Value {
        return Tuple(env, {state->U.Take(env), state->S.Take(env), state->Vt.Take(env)});
      });
}

}  // namespace specopt
