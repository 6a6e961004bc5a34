// Muon (KellerJordan/Muon `muon_update` and `Muon.step`): EMA momentum, Nesterov look-ahead,
// orthogonalised update scaled for the matrix's shape, decoupled weight decay.
#include <vector>

#include "../orthogonalize.hpp"
#include "../common.hpp"
#include "rules.hpp"

namespace specopt {

// scalars: lr, momentum, nesterov, nsSteps, scale, decay, method (0 newton-schulz, 1 svd), eps,
// normalisation (0: X/(‖X‖ + eps), 1: X/max(‖X‖, eps)), coefficient sets K, then 3K coefficients
// buffers: [momentum (rows*cols)]
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

}  // namespace

// Before any parameter of the step is written: the direction must be finite (a momentum that
// overflowed, or a corrupted state, would make the orthogonalisation fail halfway).
void MuonCheck(const RuleArgs& a) {
  Direction d = DirectionOf(a.scalars);
  float* M = a.buffers[0];
  float acc = 0.0f;
  for (size_t i = 0, n = a.size(); i < n; ++i) acc += 0.0f * d.Of(d.Momentum(M[i], a.g[i]), a.g[i]);
  if (acc != 0.0f) {
    throw ComputeError("muon: the momentum is not finite (an overflow, or a corrupted state); nothing was changed", true);
  }
}

void MuonStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t n = a.size();
  Direction d = DirectionOf(s);
  float* M = a.buffers[0];
  // The direction first, the momentum written only once the orthogonalisation has succeeded.
  std::vector<float> X(n);
  for (size_t i = 0; i < n; ++i) X[i] = d.Of(d.Momentum(M[i], a.g[i]), a.g[i]);
  NewtonSchulzOptions ns;
  ns.eps = s[7];
  ns.clampNorm = s[8] != 0;
  ns.sets = size_t(s[9]);
  ns.coefficients = s + 10;
  Orthogonalize(X.data(), a.rows, a.cols, s[6] != 0 ? OrthoMethod::kSvd : OrthoMethod::kNewtonSchulz,
                size_t(s[3]), X.data(), ns);
  for (size_t i = 0; i < n; ++i) M[i] = d.Momentum(M[i], a.g[i]);
  float keep = a.Decay(s[5]);
  float step = float(s[0] * s[4]);
  for (size_t i = 0; i < n; ++i) a.w[i] = a.w[i] * keep - step * X[i];
}

}  // namespace specopt
