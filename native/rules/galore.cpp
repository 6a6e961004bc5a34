// GaLore-AdamW (jiaweizzhao/GaLore: galore_projector.py with proj_type 'std', adamw.py): AdamW on
// the gradient projected onto its top-r singular subspace (the smaller side), the projector
// refreshed every updateProjGap steps, the moments kept as they are across refreshes, weight
// decay after the step.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../blas.hpp"
#include "../kernels.hpp"
#include "../truncated_svd.hpp"
#include "rules.hpp"

namespace specopt {

namespace {

// Flips each of `count` vectors (vector k: entries at k*step + e*stride, e < length) so that its
// entry of largest magnitude (the first on ties) is positive: LAPACK's signs are arbitrary, and
// the moments are not rotated when the projector changes, so the sign must be reproducible.
template <typename T>
void FixSigns(T* x, size_t count, size_t length, size_t step, size_t stride) {
  for (size_t k = 0; k < count; ++k) {
    size_t top = 0;
    for (size_t e = 1; e < length; ++e)
      if (std::fabs(x[k * step + e * stride]) > std::fabs(x[k * step + top * stride])) top = e;
    if (x[k * step + top * stride] < 0)
      for (size_t e = 0; e < length; ++e) x[k * step + e * stride] = -x[k * step + e * stride];
  }
}

// The top-r singular vectors of the smaller side of G (m x n), written to P as the rule stores
// them (right: rows of Vᵀ, r x n; left: columns of U, m x r). They are the top eigenvectors of
// the smaller Gram matrix (GᵀG or GGᵀ), formed and decomposed in float64. Squaring costs nothing
// at that precision: such an eigenvector is off by ~ε₆₄·σ₁²/(σᵢ² − σⱼ²), below a float32 SVD's
// ε₃₂·σ₁/|σᵢ − σⱼ| whenever σᵢ > 1e-9·σ₁. And it is faster than a float32 SVD of G (measured on
// 2 cores: 768×3072, 92 ms against 414).
void TopSingularVectors(const float* g, size_t m, size_t n, size_t r, bool right, float* P) {
  size_t k = right ? n : m, along = right ? m : n;
  SerialBelow serial(double(k) * k * k + double(along) * k * k);
  // Gram = Σ over blocks of the long side of Bᵀ·B (right) or B·Bᵀ (left), B converted to float64
  // a block at a time so the copy stays small.
  std::vector<double> gram(k * k);
  size_t block = std::max<size_t>(64, (size_t{1} << 20) / k);
  std::vector<double> b(std::min(block, along) * k);
  for (size_t start = 0; start < along; start += block) {
    size_t len = std::min(block, along - start);
    if (right) {
      std::copy_n(g + start * n, len * n, b.data());  // rows start.., len x n
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(n), blasint(len), 1.0, b.data(), blasint(n),
                  start ? 1.0 : 0.0, gram.data(), blasint(n));
    } else {
      for (size_t i = 0; i < m; ++i) std::copy_n(g + i * n + start, len, &b[i * len]);  // columns start.., m x len
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, blasint(m), blasint(len), 1.0, b.data(), blasint(len),
                  start ? 1.0 : 0.0, gram.data(), blasint(m));
    }
  }
  // The row-major upper triangle is LAPACK's column-major lower one. Eigenvalues ascending;
  // eigenvector j is column j of the column-major result (k contiguous doubles).
  lapack_int K = lapack_int(k);
  std::vector<double> values(k), vectors;
  const double* top;  // the r largest, ascending
  if (k <= 1024 || 4 * r > k) {
    // All of them by divide and conquer: as fast as a partial solve at these sizes (768: 63 ms
    // against 65 for the top 128 by dsyevr, which would use inverse iteration for a subset).
    double lworkQuery = 0;
    lapack_int liworkQuery = 0;
    CheckInfo(LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', K, gram.data(), K, values.data(), &lworkQuery, -1,
                                  &liworkQuery, -1),
              "dsyevd", "galore-adamw projector");
    std::vector<double> work(size_t(lworkQuery) + 1);
    std::vector<lapack_int> iwork(liworkQuery);
    CheckInfo(LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', K, gram.data(), K, values.data(), work.data(),
                                  lapack_int(work.size()), iwork.data(), lapack_int(iwork.size())),
              "dsyevd", "galore-adamw projector");
    top = gram.data() + (k - r) * k;
  } else {
    // Only the top r (2048, r = 128: 474 ms against 760 for all).
    vectors.resize(k * r);
    std::vector<lapack_int> support(2 * r);
    lapack_int found = 0;
    double lworkQuery = 0;
    lapack_int liworkQuery = 0;
    lapack_int lo = lapack_int(k - r + 1);
    CheckInfo(LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, 'V', 'I', 'L', K, gram.data(), K, 0, 0, lo, K, 0, &found,
                                  values.data(), vectors.data(), K, support.data(), &lworkQuery, -1, &liworkQuery, -1),
              "dsyevr", "galore-adamw projector");
    std::vector<double> work(size_t(lworkQuery) + 1);
    std::vector<lapack_int> iwork(liworkQuery);
    CheckInfo(LAPACKE_dsyevr_work(LAPACK_COL_MAJOR, 'V', 'I', 'L', K, gram.data(), K, 0, 0, lo, K, 0, &found,
                                  values.data(), vectors.data(), K, support.data(), work.data(),
                                  lapack_int(work.size()), iwork.data(), lapack_int(iwork.size())),
              "dsyevr", "galore-adamw projector");
    if (size_t(found) != r) throw ComputeError("galore-adamw projector: LAPACK dsyevr found too few eigenvectors");
    top = vectors.data();
  }
  // Largest first: vector i of P is column r−1−i of `top`.
  std::vector<double> p(r * k);
  for (size_t i = 0; i < r; ++i) std::copy_n(top + (r - 1 - i) * k, k, &p[i * k]);
  FixSigns(p.data(), r, k, k, 1);
  if (right) {
    std::copy(p.begin(), p.end(), P);  // r x n
  } else {
    for (size_t e = 0; e < m; ++e)
      for (size_t i = 0; i < r; ++i) P[e * r + i] = float(p[i * k + e]);  // m x r
  }
}

// Adam in the projected space, N = m/(√v + ε) written over R. c1 = 1 − β₁ and c2 = 1 − β₂ come
// rounded from double: formed in float32 from the rounded β₂ = 0.999 they would be ~100u off.
SPECOPT_DISPATCH void ProjectedAdam(float* __restrict M, float* __restrict V, float* __restrict R, size_t count,
                                    float b1, float c1, float b2, float c2, float eps) {
  for (size_t i = 0; i < count; ++i) {
    M[i] = b1 * M[i] + c1 * R[i];
    V[i] = b2 * V[i] + c2 * R[i] * R[i];
    R[i] = M[i] / (std::sqrt(V[i]) + eps);
  }
}

// The projected gradient's buffer, kept between steps (no page faults on every step). Safe to
// share: every optimizer step holds BlasMutex.
std::vector<float>& Projected() {
  static std::vector<float> projected;
  return projected;
}

}  // namespace

// scalars: lr, beta1, beta2, eps, decay (lr·λ), stepScale (lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·scale), refresh,
//          rank, projector (0 svd, 1 randomized)
// buffers: [P (rank x cols when rows >= cols, else rows x rank), m, v (the projected shape)]
void GaloreStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t m = a.rows, n = a.cols, r = size_t(s[7]);
  bool right = m >= n;  // project on the right singular vectors (the smaller side)
  float* P = a.buffers[0];
  float* M = a.buffers[1];
  float* V = a.buffers[2];
  if (s[6] != 0) {
    // The projector from the current gradient, computed aside: a failure changes nothing.
    std::vector<float> fresh(right ? r * n : m * r);
    if (s[8] != 0) {
      std::vector<float> U(m * r), S(r), Vt(r * n);
      TruncatedOptions o;
      TruncatedSvd(a.g, m, n, r, o, U.data(), S.data(), Vt.data());
      if (right) {
        FixSigns(Vt.data(), r, n, n, 1);  // rows of Vt
        fresh = Vt;
      } else {
        FixSigns(U.data(), r, m, 1, r);  // columns of U
        fresh = U;
      }
    } else {
      TopSingularVectors(a.g, m, n, r, right, fresh.data());
    }
    std::copy(fresh.begin(), fresh.end(), P);
  }
  // R = G·Pᵀ (m x r) or Pᵀ·G (r x n).
  size_t count = right ? m * r : r * n;
  std::vector<float>& R = Projected();
  if (R.size() < count) R.resize(count);
  if (right) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(r), blasint(n), 1.0f, a.g, blasint(n),
                P, blasint(n), 0.0f, R.data(), blasint(r));
  } else {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(r), blasint(n), blasint(m), 1.0f, P, blasint(r),
                a.g, blasint(n), 0.0f, R.data(), blasint(n));
  }
  // One thread: splitting this short pass over two (measured on the transformer block) gains
  // nothing, as OpenBLAS's workers still hold the other core between the two GEMMs.
  ProjectedAdam(M, V, R.data(), count, float(s[1]), float(1.0 - s[1]), float(s[2]), float(1.0 - s[2]), float(s[3]));
  // W ← keep·(W − stepScale·back(N)) in one GEMM, back(N) = N·P or P·N (decay after the step, as
  // GaLore's adamw.py has it); the spectral decay, a rank-1 term, is applied by Decay instead.
  float keep = a.Decay(s[4]);
  float alpha = -float(s[5]) * keep;
  if (right) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(r), alpha, R.data(),
                blasint(r), P, blasint(n), keep, a.w, blasint(n));
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(r), alpha, P,
                blasint(r), R.data(), blasint(n), keep, a.w, blasint(n));
  }
}

}  // namespace specopt
