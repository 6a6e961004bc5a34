#include "svd.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "blas.hpp"
#include "job.hpp"
#include "kernels.hpp"

namespace specopt {

void RequireFinite(const float* a, size_t count, const char* what) {
  if (!AllFinite(a, count)) throw ComputeError(std::string(what) + ": input contains NaN or Infinity", true);
}

namespace {

// sgesvd is slower than sgesdd but converges on the rare inputs where sgesdd's divide and
// conquer does not; it is tried before reporting a failure.
lapack_int FallbackGesvd(char job, lapack_int M, lapack_int N, const float* a, float* S, float* u,
                         lapack_int ldu, float* vt, lapack_int ldvt) {
  std::vector<float> work(a, a + static_cast<size_t>(M) * N);
  float query = 0;
  lapack_int info = LAPACKE_sgesvd_work(LAPACK_COL_MAJOR, job, job, M, N, work.data(), M, S, u,
                                        ldu, vt, ldvt, &query, -1);
  if (info != 0) return info;
  std::vector<float> scratch(WorkspaceSize(query));
  return LAPACKE_sgesvd_work(LAPACK_COL_MAJOR, job, job, M, N, work.data(), M, S, u, ldu, vt,
                             ldvt, scratch.data(), static_cast<lapack_int>(scratch.size()));
}

}  // namespace

void ThinSvd(const float* a, size_t m, size_t n, float* U, float* S, float* Vt) {
  size_t k = std::min(m, n);
  if (k == 0) return;
  RequireFinite(a, m * n, "svd");
  // Row-major A is column-major Aᵀ (n x m). With Aᵀ = U' S V'ᵀ we have A = V' S U'ᵀ, and the
  // buffers LAPACK fills for V'ᵀ (k x m, column-major) and U' (n x k, column-major) are exactly
  // A's U (m x k) and Vt (k x n) in row-major order: no copies.
  bool vectors = U != nullptr;
  char job = vectors ? 'S' : 'N';
  lapack_int M = static_cast<lapack_int>(n), N = static_cast<lapack_int>(m);
  lapack_int K = static_cast<lapack_int>(k);
  lapack_int ldu = vectors ? M : 1, ldvt = vectors ? K : 1;
  float dummy = 0;
  float* u = vectors ? Vt : &dummy;
  float* vt = vectors ? U : &dummy;
  std::vector<float> work(a, a + m * n);
  std::vector<lapack_int> iwork(8 * k);
  SerialBelow serial(static_cast<double>(m) * n * k);
  float query = 0;
  CheckInfo(LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, job, M, N, work.data(), M, S, u, ldu, vt, ldvt,
                                &query, -1, iwork.data()),
            "sgesdd", "svd");
  std::vector<float> scratch(WorkspaceSize(query));
  lapack_int info =
      LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, job, M, N, work.data(), M, S, u, ldu, vt, ldvt,
                          scratch.data(), static_cast<lapack_int>(scratch.size()), iwork.data());
  if (info > 0) {
    char gesvdJob = vectors ? 'S' : 'N';
    info = FallbackGesvd(gesvdJob, M, N, a, S, u, ldu, vt, ldvt);
    CheckInfo(info, "sgesdd and sgesvd", "svd");
    return;
  }
  CheckInfo(info, "sgesdd", "svd");
}

namespace {

struct SvdArgs {
  FloatView a;
  size_t m, n;
};

SvdArgs ParseSvd(const Napi::CallbackInfo& info, const char* name) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) throw Napi::TypeError::New(env, std::string(name) + ": expected 3 arguments");
  SvdArgs r{};
  std::string prefix = name;
  r.m = Dim(env, info[1], (prefix + ": a.rows").c_str());
  r.n = Dim(env, info[2], (prefix + ": a.cols").c_str());
  r.a = Floats(env, info[0], Count(env, r.m, r.n, (prefix + ": a").c_str()), (prefix + ": a.data").c_str());
  return r;
}

}  // namespace

Napi::Value Svd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SvdArgs r = ParseSvd(info, "svd");
  size_t k = std::min(r.m, r.n);
  auto U = NewFloats(env, r.m * k), S = NewFloats(env, k), Vt = NewFloats(env, k * r.n);
  RunSync(env, [&] { ThinSvd(r.a.data, r.m, r.n, U.Data(), S.Data(), Vt.Data()); });
  return Tuple(env, {U, S, Vt});
}

Napi::Value SvdAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SvdArgs r = ParseSvd(info, "svdAsync");
  size_t m = r.m, n = r.n, k = std::min(m, n);
  struct State {
    Input a;
    Output U, S, Vt;
  };
  auto state = std::shared_ptr<State>(new State{{env, info[0], r.a}, {m * k}, {k}, {k * n}});
  return Job::Start(
      env, [=] { ThinSvd(state->a.Data(), m, n, state->U.Zeroed(), state->S.Zeroed(), state->Vt.Zeroed()); },
      [=](Napi::Env env) -> Napi::Value {
        return Tuple(env, {state->U.Take(env), state->S.Take(env), state->Vt.Take(env)});
      });
}

Napi::Value SingularValues(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SvdArgs r = ParseSvd(info, "singularValues");
  auto S = NewFloats(env, std::min(r.m, r.n));
  RunSync(env, [&] { ThinSvd(r.a.data, r.m, r.n, nullptr, S.Data(), nullptr); });
  return S;
}

}  // namespace specopt
