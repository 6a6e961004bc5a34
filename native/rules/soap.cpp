// SOAP (Vyas et al. 2025; nikhilvyas/SOAP soap.py): Adam run in the eigenbasis of Shampoo's
// statistics L = EMA(GGᵀ), R = EMA(GᵀG). The first call only sets the bases; later calls refresh
// them every preconditionFrequency Adam steps by one power-iteration step and a QR, with the
// second moment re-sorted to follow its eigenvectors.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "../blas.hpp"
#include "../eigh.hpp"
#include "../qr.hpp"
#include "rules.hpp"

namespace specopt {

namespace {

// The bases of the two sides (null: that side is not rotated).
struct Bases {
  const float* left;   // m x m, column j the j-th eigenvector
  const float* right;  // n x n
  size_t m, n;

  // x (m x n) ← Q_Lᵀ·x·Q_R (into the eigenbasis) or Q_L·x·Q_Rᵀ (back); tmp has m·n floats.
  void Rotate(float* x, bool intoEigenbasis, float* tmp) const {
    auto op = intoEigenbasis ? CblasTrans : CblasNoTrans;
    if (left) {
      cblas_sgemm(CblasRowMajor, op, CblasNoTrans, blasint(m), blasint(n), blasint(m), 1.0f, left, blasint(m), x,
                  blasint(n), 0.0f, tmp, blasint(n));
    }
    if (right) {
      auto opRight = intoEigenbasis ? CblasNoTrans : CblasTrans;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, opRight, blasint(m), blasint(n), blasint(n), 1.0f, left ? tmp : x,
                  blasint(n), right, blasint(n), 0.0f, left ? x : tmp, blasint(n));
      if (!left) std::copy_n(tmp, m * n, x);
    } else if (left) {
      std::copy_n(tmp, m * n, x);
    }
  }
};

// The statistic's eigenvectors (lower triangle read, + 1e-30·I as the reference adds) in
// descending eigenvalue order; false, and Q untouched, when LAPACK fails.
bool EigenBasis(const float* stat, size_t k, float* Q) {
  std::vector<float> s(stat, stat + k * k), values(k), vectors(k * k);
  for (size_t i = 0; i < k; ++i) s[i * k + i] += 1e-30f;
  try {
    SymmetricEigen(s.data(), k, values.data(), vectors.data());
  } catch (const ComputeError&) {
    return false;
  }
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) Q[i * k + j] = vectors[i * k + (k - 1 - j)];
  return true;
}

void Identity(float* Q, size_t k) {
  std::fill(Q, Q + k * k, 0.0f);
  for (size_t i = 0; i < k; ++i) Q[i * k + i] = 1.0f;
}

// One refresh of a side: order the columns of Q by the eigenvalue estimates diag(QᵀSQ),
// descending, then Q ← qr(S·Q).Q. One product S·Q serves both (S·Q[:, order] = (S·Q)[:, order]).
// False, and Q untouched, when the QR fails; `order` is the new column order.
bool RefreshBasis(const float* stat, size_t k, float* Q, std::vector<size_t>& order) {
  std::vector<float> SQ(k * k);
  cblas_ssymm(CblasRowMajor, CblasLeft, CblasLower, blasint(k), blasint(k), 1.0f, stat, blasint(k), Q, blasint(k),
              0.0f, SQ.data(), blasint(k));
  std::vector<double> estimate(k, 0.0);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) estimate[j] += double(Q[i * k + j]) * SQ[i * k + j];
  order.resize(k);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return estimate[x] > estimate[y]; });
  std::vector<float> sorted(k * k), next(k * k), R(k * k);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) sorted[i * k + j] = SQ[i * k + order[j]];
  try {
    ThinQr(sorted.data(), k, k, next.data(), R.data());
  } catch (const ComputeError&) {
    return false;
  }
  std::copy(next.begin(), next.end(), Q);
  return true;
}

}  // namespace

// scalars: lr, beta1, beta2, shampooBeta, eps, decay (lr·λ), stepSize (lr·√(1−β₂ˢ)/(1−β₁ˢ)),
//          setup (the first call), refresh, useLeft, useRight, normalizeGrads
// buffers: m, v (in the eigenbasis), [L, Q_L if useLeft] [R, Q_R if useRight]
//          info (2: bases set, failed eigh/QR computations so far)
void SoapStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t m = a.rows, n = a.cols, count = a.size();
  bool useLeft = s[9] != 0, useRight = s[10] != 0;
  float* const* b = a.buffers;
  size_t k = 0;
  float* M = b[k++];
  float* V = b[k++];
  float* L = useLeft ? b[k++] : nullptr;
  float* QL = useLeft ? b[k++] : nullptr;
  float* R = useRight ? b[k++] : nullptr;
  float* QR = useRight ? b[k++] : nullptr;
  float* info = b[k];
  if (count == 0) return;
  float statDecay = float(s[3]), statWeight = float(1.0 - s[3]);

  // The first call: statistics from this gradient and their eigenbases; W is not changed.
  if (s[7] != 0) {
    if (L) cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, blasint(m), blasint(n), statWeight, a.g, blasint(n), 0.0f, L, blasint(m));
    if (R) cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, blasint(n), blasint(m), statWeight, a.g, blasint(n), 0.0f, R, blasint(n));
    // A failed decomposition leaves that side unrotated (the identity) and is counted.
    if (L && !EigenBasis(L, m, QL)) {
      Identity(QL, m);
      info[1] += 1;
    }
    if (R && !EigenBasis(R, n, QR)) {
      Identity(QR, n);
      info[1] += 1;
    }
    info[0] = 1;
    return;
  }

  // Adam on G' = Q_LᵀGQ_R, its direction rotated back: N = Q_L·(m/(√v + ε))·Q_Rᵀ.
  Bases bases{QL, QR, m, n};
  std::vector<float> x(a.g, a.g + count), tmp(count);
  bases.Rotate(x.data(), true, tmp.data());
  float b1 = float(s[1]), c1 = float(1.0 - s[1]), b2 = float(s[2]), c2 = float(1.0 - s[2]), eps = float(s[4]);
  for (size_t i = 0; i < count; ++i) {
    M[i] = b1 * M[i] + c1 * x[i];
    V[i] = b2 * V[i] + c2 * x[i] * x[i];
    x[i] = M[i] / (std::sqrt(V[i]) + eps);
  }
  bases.Rotate(x.data(), false, tmp.data());
  float stepSize = float(s[6]);
  if (s[11] != 0) {
    double sum = 0;
    for (size_t i = 0; i < count; ++i) sum += double(x[i]) * x[i];
    stepSize = float(s[6] / (1e-30 + std::sqrt(sum / double(count))));
  }
  for (size_t i = 0; i < count; ++i) a.w[i] -= stepSize * x[i];
  // Decay after the step, with lr (the reference's "fixed version").
  float keep = a.Decay(s[5]);
  if (keep != 1.0f) for (size_t i = 0; i < count; ++i) a.w[i] *= keep;

  // The statistics from the raw gradient (lower triangles: all that eigh and symm read).
  if (L) cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, blasint(m), blasint(n), statWeight, a.g, blasint(n), statDecay, L, blasint(m));
  if (R) cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, blasint(n), blasint(m), statWeight, a.g, blasint(n), statDecay, R, blasint(n));
  if (s[8] == 0 || (!L && !R)) return;

  // Refresh: m back to the original space, new bases (v's rows/columns follow their
  // eigenvectors), m into the new eigenbasis. Between refreshes the reference rotates m back
  // and forth through unchanged bases; that round trip is the identity and is skipped here.
  bases.Rotate(M, false, tmp.data());
  std::vector<size_t> order;
  if (L && RefreshBasis(L, m, QL, order)) {
    std::copy_n(V, count, tmp.data());
    for (size_t i = 0; i < m; ++i) std::copy_n(&tmp[order[i] * n], n, &V[i * n]);
  } else if (L) {
    info[1] += 1;
  }
  if (R && RefreshBasis(R, n, QR, order)) {
    std::copy_n(V, count, tmp.data());
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) V[i * n + j] = tmp[i * n + order[j]];
  } else if (R) {
    info[1] += 1;
  }
  bases.Rotate(M, true, tmp.data());
}

}  // namespace specopt
