// Muon (KellerJordan/Muon `muon_update` and `Muon.step`): EMA momentum, Nesterov look-ahead,
// orthogonalised update scaled for the matrix's shape, decoupled weight decay.
// NorMuon (zichongli5/NorMuon `normuon_update` and `SingleDeviceNorMuon.step`): Muon's
// orthogonalised update divided row by row by the square root of an EMA of its rows' mean square,
// then rescaled to the orthogonalised update's Frobenius norm.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "../orthogonalize.hpp"
#include "../common.hpp"
#include "rules.hpp"

namespace specopt {

// Muon's scalars: lr, momentum, nesterov, scale, decay, then the Newton-Schulz block at 5.
// NorMuon's: lr, momentum, nesterov, scale, decay, beta2, then the Newton-Schulz block at 6.
// The block (rules.hpp): method (0 newton-schulz, 1 svd), nsSteps, eps, normalisation (0:
// X/(s·‖X‖ + eps), 1: X/max(s·‖X‖, eps)), s, coefficient sets K, then 3K coefficients.
// buffers: muon [momentum (rows*cols)]; normuon [momentum (rows*cols), second moment (rows)]
namespace {

// The new momentum of entry i (momentum.lerp_(grad, 1 - beta)) and the direction orthogonalised
// from it (grad.lerp_(momentum, beta) with Nesterov).
struct Direction {
  float beta, oneMinusBeta;
  bool nesterov;
  float Momentum(float m, float g) const { return m + oneMinusBeta * (g - m); }
  float Of(float m, float g) const { return nesterov ? g + beta * (m - g) : m; }
};

Direction DirectionOf(const double* s) { return {float(s[1]), float(1.0 - s[1]), s[2] != 0}; }

// Before any parameter of the step is written: the direction must be finite (a momentum that
// overflowed, or a corrupted state, would make the orthogonalisation fail halfway).
void CheckDirection(const RuleArgs& a, const char* rule) {
  Direction d = DirectionOf(a.scalars);
  float* M = a.buffers[0];
  float acc = 0.0f;
  for (size_t i = 0, n = a.size(); i < n; ++i) acc += 0.0f * d.Of(d.Momentum(M[i], a.g[i]), a.g[i]);
  if (acc != 0.0f) {
    throw ComputeError(std::string(rule) + ": the momentum is not finite (an overflow, or a corrupted state); nothing was changed", true);
  }
}

// X ← the orthogonalised direction of the new momentum (M itself is not written).
std::vector<float> OrthogonalDirection(const RuleArgs& a, size_t block) {
  const double* s = a.scalars;
  Direction d = DirectionOf(s);
  const float* M = a.buffers[0];
  size_t n = a.size();
  std::vector<float> X(n);
  for (size_t i = 0; i < n; ++i) X[i] = d.Of(d.Momentum(M[i], a.g[i]), a.g[i]);
  const double* ns = s + block;
  NewtonSchulzOptions options;
  options.eps = ns[2];
  options.clampNorm = ns[3] != 0;
  options.normScale = ns[4];
  options.sets = size_t(ns[5]);
  options.coefficients = ns + kNsFixed;
  Orthogonalize(X.data(), a.rows, a.cols, ns[0] != 0 ? OrthoMethod::kSvd : OrthoMethod::kNewtonSchulz, size_t(ns[1]),
                X.data(), options);
  return X;
}

void WriteMomentum(const RuleArgs& a) {
  Direction d = DirectionOf(a.scalars);
  float* M = a.buffers[0];
  for (size_t i = 0, n = a.size(); i < n; ++i) M[i] = d.Momentum(M[i], a.g[i]);
}

// √(Σx²) of float32 values, summed in double (torch's float32 norm is within an ulp or two of it).
float Norm(const float* x, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += double(x[i]) * double(x[i]);
  return float(std::sqrt(sum));
}

}  // namespace

void CheckNsScalars(const double* ns, const char* rule, size_t maxSets) {
  auto fail = [&](const char* what) { throw std::invalid_argument(std::string(rule) + ": " + what); };
  if (!(ns[0] == 0 || ns[0] == 1)) fail("method must be 0..1");
  if (!(ns[1] >= 0 && ns[1] <= 1000 && ns[1] == std::floor(ns[1]))) fail("nsSteps must be an integer in 0..1000");
  if (!(ns[2] > 0) || !std::isfinite(ns[2])) fail("eps must be finite and > 0");
  if (!(ns[3] == 0 || ns[3] == 1)) fail("the normalisation mode must be 0..1");
  if (!(ns[4] > 0) || !std::isfinite(ns[4])) fail("the norm's scale must be finite and > 0");
  double sets = ns[5];
  if (!(sets >= 0 && sets <= double(maxSets) && sets == std::floor(sets))) fail("too many coefficient sets");
  if (sets > 1 && sets != ns[1]) fail("one coefficient triple, or one per step");
  for (size_t k = 0; k < 3 * size_t(sets); ++k) {
    if (!std::isfinite(ns[kNsFixed + k])) fail("the coefficients must be finite");
  }
}

size_t NsScalarsNeeded(const double* ns, size_t maxSets) {
  double sets = ns[5];
  return sets >= 0 && sets <= double(maxSets) && sets == std::floor(sets) ? kNsFixed + 3 * size_t(sets) : size_t(0);
}

void MuonCheck(const RuleArgs& a) { CheckDirection(a, "muon"); }

void MuonStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t n = a.size();
  // The direction first, the momentum written only once the orthogonalisation has succeeded.
  std::vector<float> X = OrthogonalDirection(a, 5);
  WriteMomentum(a);
  float keep = a.Decay(s[4]);
  float step = float(s[0] * s[3]);
  for (size_t i = 0; i < n; ++i) a.w[i] = a.w[i] * keep - step * X[i];
}

void NormuonCheck(const RuleArgs& a) { CheckDirection(a, "normuon"); }

// normuon_update's float32 operations in its order: vnorm = ‖O‖_F; v = mean(O∘O, dim=-1);
// V.lerp_(v, 1 − β₂); O *= 1/(√V + 1e-10) row by row; O *= vnorm/(‖O‖_F + 1e-10); O *= scale;
// then W.mul_(1 − lr·λ) and W.add_(O, alpha=−lr).
void NormuonStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t rows = a.rows, cols = a.cols, n = a.size();
  std::vector<float> X = OrthogonalDirection(a, 6);
  const float* V = a.buffers[1];
  float oneMinusBeta2 = float(1.0 - s[5]);
  float vnorm = Norm(X.data(), n);
  std::vector<float> nextV(rows);
  for (size_t i = 0; i < rows; ++i) {
    const float* row = X.data() + i * cols;
    double sum = 0;
    for (size_t j = 0; j < cols; ++j) sum += double(row[j] * row[j]);
    float mean = float(sum) / float(cols);
    nextV[i] = V[i] + oneMinusBeta2 * (mean - V[i]);
  }
  for (size_t i = 0; i < rows; ++i) {
    float stepSize = 1.0f / (std::sqrt(nextV[i]) + 1e-10f);
    float* row = X.data() + i * cols;
    for (size_t j = 0; j < cols; ++j) row[j] *= stepSize;
  }
  float factor = vnorm / (Norm(X.data(), n) + 1e-10f);
  float scale = float(s[3]);
  for (size_t i = 0; i < n; ++i) X[i] = X[i] * factor * scale;
  // Nothing can fail from here on: the state and the parameter are written.
  WriteMomentum(a);
  std::copy(nextV.begin(), nextV.end(), a.buffers[1]);
  float keep = a.Decay(s[4]);
  float lr = float(s[0]);
  for (size_t i = 0; i < n; ++i) a.w[i] = a.w[i] * keep - lr * X[i];
}

}  // namespace specopt
