#include "eigh.hpp"

#include <memory>
#include <vector>

#include "blas.hpp"
#include "job.hpp"
#include "kernels.hpp"

namespace specopt {

void SymmetricEigen(const float* s, size_t n, float* values, float* vectors) {
  if (n == 0) return;
  for (size_t i = 0; i < n; ++i) {
    if (!AllFinite(s + i * n, i + 1)) {
      throw ComputeError("eigh: input contains NaN or Infinity (lower triangle, row " +
                             std::to_string(i) + ")",
                         true);
    }
  }
  // The row-major lower triangle is the column-major upper triangle: no transpose needed. Only
  // that triangle is copied (eighAsync's input copy holds nothing else).
  std::vector<float> a(n * n, 0.0f);
  for (size_t i = 0; i < n; ++i) std::copy_n(s + i * n, i + 1, a.data() + i * n);
  SerialBelow serial(static_cast<double>(n) * n * n);
  lapack_int N = static_cast<lapack_int>(n);
  float lworkQuery = 0;
  lapack_int liworkQuery = 0;
  CheckInfo(LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, 'V', 'U', N, a.data(), N, values, &lworkQuery,
                                -1, &liworkQuery, -1),
            "ssyevd", "eigh");
  std::vector<float> work(WorkspaceSize(lworkQuery));
  std::vector<lapack_int> iwork(liworkQuery);
  CheckInfo(LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, 'V', 'U', N, a.data(), N, values, work.data(),
                                static_cast<lapack_int>(work.size()), iwork.data(),
                                static_cast<lapack_int>(iwork.size())),
            "ssyevd", "eigh");
  // Column-major eigenvectors are rows of `a` read row-major; the result wants them as columns.
  Transpose(a.data(), n, n, vectors);
}

namespace {

size_t ParseEigh(const Napi::CallbackInfo& info, FloatView* s) {
  Napi::Env env = info.Env();
  if (info.Length() != 2) throw Napi::TypeError::New(env, "eigh: expected 2 arguments");
  size_t n = Dim(env, info[1], "eigh: s.rows");
  *s = Floats(env, info[0], Count(env, n, n, "eigh: s"), "eigh: s.data");
  return n;
}

}  // namespace

Napi::Value Eigh(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FloatView s;
  size_t n = ParseEigh(info, &s);
  auto values = NewFloats(env, n);
  auto vectors = NewFloats(env, n * n);
  RunSync(env, [&] { SymmetricEigen(s.data, n, values.Data(), vectors.Data()); });
  return Tuple(env, {values, vectors});
}

Napi::Value EighAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FloatView s;
  size_t n = ParseEigh(info, &s);
  struct State {
    Input s;
    Output values, vectors;
  };
  auto state = std::shared_ptr<State>(new State{{env, info[0], s, n}, {n}, {n * n}});
  return Job::Start(
      env, [=] { SymmetricEigen(state->s.Data(), n, state->values.Zeroed(), state->vectors.Zeroed()); },
      [=](Napi::Env env) -> Napi::Value {
        return Tuple(env, {state->values.Take(env), state->vectors.Take(env)});
      });
}

}  // namespace specopt
