#include "qr.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "blas.hpp"
#include "job.hpp"
#include "kernels.hpp"
#include "svd.hpp"

namespace specopt {

namespace {

// Householder QR in place on a column-major rows x cols matrix; returns the reflector scalars.
std::vector<float> Geqrf(float* y, lapack_int rows, lapack_int cols) {
  std::vector<float> tau(std::min(rows, cols));
  float query = 0;
  CheckInfo(LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, rows, cols, y, rows, tau.data(), &query, -1),
            "sgeqrf", "qr");
  std::vector<float> work(WorkspaceSize(query));
  CheckInfo(LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, rows, cols, y, rows, tau.data(), work.data(),
                                static_cast<lapack_int>(work.size())),
            "sgeqrf", "qr");
  return tau;
}

// Forms the first k columns of Q from the reflectors Geqrf left in y.
void Orgqr(float* y, lapack_int rows, lapack_int k, const std::vector<float>& tau) {
  float query = 0;
  CheckInfo(LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, rows, k, k, y, rows, tau.data(), &query, -1),
            "sorgqr", "qr");
  std::vector<float> work(WorkspaceSize(query));
  CheckInfo(LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, rows, k, k, y, rows, tau.data(), work.data(),
                                static_cast<lapack_int>(work.size())),
            "sorgqr", "qr");
}

}  // namespace

void OrthonormalizeColumns(float* y, size_t rows, size_t cols) {
  if (rows == 0 || cols == 0) return;
  SerialBelow serial(static_cast<double>(rows) * cols * cols);
  lapack_int M = static_cast<lapack_int>(rows), N = static_cast<lapack_int>(cols);
  std::vector<float> tau = Geqrf(y, M, N);
  Orgqr(y, M, N, tau);
}

void ThinQr(const float* a, size_t m, size_t n, float* Q, float* R) {
  size_t k = std::min(m, n);
  if (k == 0) return;
  RequireFinite(a, m * n, "qr");
  // LAPACK wants column-major A: that is the row-major transpose.
  std::vector<float> y(m * n);
  Transpose(a, m, n, y.data());
  SerialBelow serial(static_cast<double>(m) * n * k);
  lapack_int M = static_cast<lapack_int>(m), N = static_cast<lapack_int>(n);
  std::vector<float> tau = Geqrf(y.data(), M, N);
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < n; ++j) R[i * n + j] = j >= i ? y[j * m + i] : 0.0f;
  }
  Orgqr(y.data(), M, static_cast<lapack_int>(k), tau);
  // Q's k columns, column-major, are a k x m row-major block; transpose into m x k.
  Transpose(y.data(), k, m, Q);
}

namespace {

struct QrArgs {
  FloatView a;
  size_t m, n;
};

QrArgs ParseQr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) throw Napi::TypeError::New(env, "qr: expected 3 arguments");
  QrArgs r{};
  r.m = Dim(env, info[1], "qr: a.rows");
  r.n = Dim(env, info[2], "qr: a.cols");
  r.a = Floats(env, info[0], Count(env, r.m, r.n, "qr: a"), "qr: a.data");
  return r;
}

}  // namespace

Napi::Value Qr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  QrArgs r = ParseQr(info);
  size_t k = std::min(r.m, r.n);
  auto Q = NewFloats(env, r.m * k), R = NewFloats(env, k * r.n);
  RunSync(env, [&] { ThinQr(r.a.data, r.m, r.n, Q.Data(), R.Data()); });
  return Tuple(env, {Q, R});
}

Napi::Value QrAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  QrArgs r = ParseQr(info);
  size_t m = r.m, n = r.n, k = std::min(m, n);
  struct State {
    Input a;
    Output Q, R;
  };
  auto state = std::shared_ptr<State>(new State{{env, info[0], r.a}, {m * k}, {k * n}});
  return Job::Start(
      env, [=] { ThinQr(state->a.Data(), m, n, state->Q.Zeroed(), state->R.Zeroed()); },
      [=](Napi::Env env) -> Napi::Value { return Tuple(env, {state->Q.Take(env), state->R.Take(env)}); });
}

}  // namespace specopt
