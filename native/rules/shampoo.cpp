// Shampoo (Gupta, Koren & Singer 2018; facebookresearch/optimizers distributed_shampoo) and
// Shampoo² (exponent −1/2): Kronecker-factored statistics L = ΣGGᵀ, R = ΣGᵀG, update
// L^(−1/p)·G·R^(−1/p), optional filtered gradient, grafting, decoupled weight decay.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../blas.hpp"
#include "../inverse_root.hpp"
#include "rules.hpp"

namespace specopt {

namespace {

double FrobeniusNorm(const std::vector<float>& x) {
  double sum = 0;
  for (float v : x) sum += double(v) * v;
  return std::sqrt(sum);
}

// side (k x k, lower triangle) ← bc-corrected statistic's inverse root; false if LAPACK failed.
bool RefreshRoot(const float* stat, size_t k, double bc, double p, double eps, float* root) {
  std::vector<float> s(stat, stat + k * k);
  if (bc != 1.0) for (float& v : s) v = float(v / bc);
  try {
    InverseRoot(s.data(), k, p, eps, s.data());
  } catch (const ComputeError&) {
    return false;  // keep the previous root; the failure is counted by the caller
  }
  std::copy(s.begin(), s.end(), root);
  return true;
}

}  // namespace

// scalars: lr, beta1, beta2, eps, p, t, preconditionFrequency, start, grafting (0 none, 1 sgd,
//          2 adagrad, 3 adam), decay, useLeft, useRight, bc1, bc2, graftBc
// buffers: [M if beta1 > 0] [L if useLeft] [R if useRight] [Lroot if useLeft] [Rroot if useRight]
//          [A if grafting is adagrad or adam] info (2: rootsReady, rootFailures)
void ShampooStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t m = a.rows, n = a.cols, count = a.size();
  double beta1 = s[1], beta2 = s[2], eps = s[3], p = s[4];
  double t = s[5], freq = s[6], start = s[7];
  int grafting = int(s[8]);
  bool useLeft = s[10] != 0, useRight = s[11] != 0;
  float* const* b = a.buffers;
  size_t k = 0;
  float* M = beta1 > 0 ? b[k++] : nullptr;
  float* L = useLeft ? b[k++] : nullptr;
  float* R = useRight ? b[k++] : nullptr;
  float* Lroot = useLeft ? b[k++] : nullptr;
  float* Rroot = useRight ? b[k++] : nullptr;
  float* A = grafting >= 2 ? b[k++] : nullptr;
  float* info = b[k];

  // 1. The filtered, bias-corrected gradient.
  std::vector<float> mhat(a.g, a.g + count);
  if (M) {
    float oneMinusBeta1 = float(1.0 - beta1), inv = float(1.0 / s[12]);
    for (size_t i = 0; i < count; ++i) {
      M[i] = float(beta1) * M[i] + oneMinusBeta1 * a.g[i];
      mhat[i] = M[i] * inv;
    }
  }
  // 2. Statistics from the raw gradient (lower triangles only: that is all eigh reads).
  float w = beta2 == 1.0 ? 1.0f : float(1.0 - beta2);
  if (L) cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, blasint(m), blasint(n), w, a.g, blasint(n), float(beta2), L, blasint(m));
  if (R) cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, blasint(n), blasint(m), w, a.g, blasint(n), float(beta2), R, blasint(n));
  // 3. Roots, every preconditionFrequency steps (and at the first preconditioned step).
  bool ready = info[0] != 0;
  if (std::fmod(t, freq) == 0 || (t >= start && !ready)) {
    // A root that was never computed is the identity (no preconditioning on that side).
    auto fallback = [ready](float* root, size_t k) {
      if (ready) return;
      std::fill(root, root + k * k, 0.0f);
      for (size_t i = 0; i < k; ++i) root[i * k + i] = 1.0f;
    };
    if (L && !RefreshRoot(L, m, s[13], p, eps, Lroot)) {
      info[1] += 1;
      fallback(Lroot, m);
    }
    if (R && !RefreshRoot(R, n, s[13], p, eps, Rroot)) {
      info[1] += 1;
      fallback(Rroot, n);
    }
    info[0] = 1;
    ready = true;
  }
  // 4. The grafted rule's direction.
  std::vector<float> graft;
  if (grafting == 1) graft = mhat;
  if (grafting >= 2) {
    graft.resize(count);
    float decayA = grafting == 3 ? 0.999f : 1.0f, fresh = grafting == 3 ? float(1.0 - 0.999) : 1.0f;
    for (size_t i = 0; i < count; ++i) {
      A[i] = decayA * A[i] + fresh * a.g[i] * a.g[i];
      graft[i] = grafting == 2 ? mhat[i] / (std::sqrt(A[i]) + 1e-10f)
                               : mhat[i] / (std::sqrt(A[i] / float(s[14])) + 1e-8f);
    }
  }
  // 5. The preconditioned direction, rescaled to the grafted one's norm.
  std::vector<float> P;
  if (t >= start && ready) {
    std::vector<float> left(count);
    if (L) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(m), 1.0f, Lroot,
                  blasint(m), mhat.data(), blasint(n), 0.0f, left.data(), blasint(n));
    } else {
      left = mhat;
    }
    if (R) {
      P.resize(count);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(n), 1.0f, left.data(),
                  blasint(n), Rroot, blasint(n), 0.0f, P.data(), blasint(n));
    } else {
      P = std::move(left);
    }
    if (grafting != 0) {
      float scale = float(FrobeniusNorm(graft) / (FrobeniusNorm(P) + 1e-16));
      for (float& v : P) v *= scale;
    }
  } else {
    P = grafting != 0 ? std::move(graft) : std::move(mhat);
  }
  // 6. Decoupled decay, then the step.
  float keep = a.Decay(s[9]);
  float lr = float(s[0]);
  for (size_t i = 0; i < count; ++i) a.w[i] = a.w[i] * keep - lr * P[i];
}

}  // namespace specopt
