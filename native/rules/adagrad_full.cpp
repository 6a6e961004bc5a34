// Full-matrix AdaGrad (Duchi, Hazan & Singer; seed 004) on g = vec(G): S ← S + ggᵀ,
// W ← W − lr·(S^(1/2) + εI)^(−1)·g through eigh(S). Only for small parameters (d ≤ maxDim).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../blas.hpp"
#include "../common.hpp"
#include "../eigh.hpp"
#include "rules.hpp"

namespace specopt {

// Before any parameter of the step is written: S + ggᵀ must be finite, or its eigh would fail
// (g is finite, but the sum can overflow, and a corrupted state can hold anything).
void AdagradFullCheck(const RuleArgs& a) {
  size_t d = a.size();
  const float* S = a.buffers[0];
  float acc = 0.0f;
  for (size_t i = 0; i < d; ++i)
    for (size_t j = 0; j <= i; ++j) acc += 0.0f * (S[i * d + j] + a.g[i] * a.g[j]);
  if (acc != 0.0f) {
    throw ComputeError("adagrad-full: the statistic S + ggT is not finite (an overflow, or a corrupted state); nothing was changed", true);
  }
}

// scalars: lr, eps; buffers: [S (d x d, lower triangle)]
void AdagradFullStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t d = a.size();
  blasint D = blasint(d);
  float* S = a.buffers[0];
  // The new statistic is decomposed before it is stored: a LAPACK failure changes nothing.
  std::vector<float> next(S, S + d * d);
  cblas_ssyr(CblasRowMajor, CblasLower, D, 1.0f, a.g, 1, next.data(), D);
  std::vector<float> values(d), vectors(d * d);
  SymmetricEigen(next.data(), d, values.data(), vectors.data());
  std::copy(next.begin(), next.end(), S);
  // direction = Q·diag(1/(√max(λ, 0) + ε))·Qᵀ·g. g lies in S's range (S includes ggᵀ), so its
  // components along S's null space are zero in exact arithmetic; in float32 they are rounding
  // noise (~2^-23·‖g‖) that 1/ε would blow up by 1e10. Eigenvalues at S's rounding level
  // (≤ d·2^-23·λ_max) are therefore taken as that null space and their components dropped.
  std::vector<float> y(d), direction(d);
  cblas_sgemv(CblasRowMajor, CblasTrans, D, D, 1.0f, vectors.data(), D, a.g, 1, 0.0f, y.data(), 1);
  double noise = double(d) * 0x1p-23 * std::max(0.0f, values[d - 1]);
  for (size_t i = 0; i < d; ++i) {
    y[i] = values[i] <= noise ? 0.0f : float(y[i] / (std::sqrt(double(values[i])) + s[1]));
  }
  cblas_sgemv(CblasRowMajor, CblasNoTrans, D, D, 1.0f, vectors.data(), D, y.data(), 1, 0.0f, direction.data(), 1);
  float lr = float(s[0]);
  for (size_t i = 0; i < d; ++i) a.w[i] -= lr * direction[i];
}

}  // namespace specopt
