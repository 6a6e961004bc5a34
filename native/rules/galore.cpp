// GaLore-AdamW (jiaweizzhao/GaLore: galore_projector.py with proj_type 'std', adamw.py): AdamW on
// the gradient projected onto its top-r singular subspace (the smaller side), the projector
// refreshed every updateProjGap steps, the moments kept as they are across refreshes, weight
// decay after the step.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../blas.hpp"
#include "../svd.hpp"
#include "../truncated_svd.hpp"
#include "rules.hpp"

namespace specopt {

namespace {

// Flips each of `count` vectors (vector k: entries at k*step + e*stride, e < length) so that its
// entry of largest magnitude (the first on ties) is positive: LAPACK's signs are arbitrary, and
// the moments are not rotated when the projector changes, so the sign must be reproducible.
void FixSigns(float* x, size_t count, size_t length, size_t step, size_t stride) {
  for (size_t k = 0; k < count; ++k) {
    size_t top = 0;
    for (size_t e = 1; e < length; ++e)
      if (std::fabs(x[k * step + e * stride]) > std::fabs(x[k * step + top * stride])) top = e;
    if (x[k * step + top * stride] < 0)
      for (size_t e = 0; e < length; ++e) x[k * step + e * stride] = -x[k * step + e * stride];
  }
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
    std::vector<float> U(m * r), S(r), Vt(r * n);
    if (s[8] != 0) {
      TruncatedOptions o;
      TruncatedSvd(a.g, m, n, r, o, U.data(), S.data(), Vt.data());
    } else {
      size_t k = std::min(m, n);
      std::vector<float> Uf(m * k), Sf(k), Vtf(k * n);
      ThinSvd(a.g, m, n, Uf.data(), Sf.data(), Vtf.data());
      for (size_t i = 0; i < m; ++i) std::copy_n(&Uf[i * k], r, &U[i * r]);
      std::copy_n(Vtf.begin(), r * n, Vt.begin());
    }
    if (right) {
      FixSigns(Vt.data(), r, n, n, 1);  // rows of Vt
      std::copy(Vt.begin(), Vt.end(), P);
    } else {
      FixSigns(U.data(), r, m, 1, r);  // columns of U
      std::copy(U.begin(), U.end(), P);
    }
  }
  // R = G·Pᵀ (m x r) or Pᵀ·G (r x n).
  size_t count = right ? m * r : r * n;
  std::vector<float> R(count);
  if (right) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(r), blasint(n), 1.0f, a.g, blasint(n),
                P, blasint(n), 0.0f, R.data(), blasint(r));
  } else {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(r), blasint(n), blasint(m), 1.0f, P, blasint(r),
                a.g, blasint(n), 0.0f, R.data(), blasint(n));
  }
  float b1 = float(s[1]), c1 = float(1.0 - s[1]), b2 = float(s[2]), c2 = float(1.0 - s[2]), eps = float(s[3]);
  for (size_t i = 0; i < count; ++i) {
    M[i] = b1 * M[i] + c1 * R[i];
    V[i] = b2 * V[i] + c2 * R[i] * R[i];
    R[i] = M[i] / (std::sqrt(V[i]) + eps);  // N, in R's place
  }
  // W ← W − stepScale·back(N), back(N) = N·P (m x r · r x n) or P·N (m x r · r x n).
  float stepScale = float(s[5]);
  if (right) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(r), -stepScale, R.data(),
                blasint(r), P, blasint(n), 1.0f, a.w, blasint(n));
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(r), -stepScale, P,
                blasint(r), R.data(), blasint(n), 1.0f, a.w, blasint(n));
  }
  // Weight decay after the step (GaLore's adamw.py).
  float keep = a.Decay(s[4]);
  if (keep != 1.0f) for (size_t i = 0; i < m * n; ++i) a.w[i] *= keep;
}

}  // namespace specopt
