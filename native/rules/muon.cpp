// Muon (KellerJordan/Muon `muon_update` and `Muon.step`): EMA momentum, Nesterov look-ahead,
// orthogonalised update scaled for the matrix's shape, decoupled weight decay.
#include <vector>

#include "../orthogonalize.hpp"
#include "rules.hpp"

namespace specopt {

// scalars: lr, momentum, nesterov, nsSteps, scale, decay, method (0 newton-schulz, 1 svd)
// buffers: [momentum (rows*cols)]
void MuonStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t n = a.size();
  float beta = float(s[1]), oneMinusBeta = float(1.0 - s[1]);
  float* M = a.buffers[0];
  std::vector<float> X(n);
  for (size_t i = 0; i < n; ++i) {
    M[i] = M[i] + oneMinusBeta * (a.g[i] - M[i]);               // momentum.lerp_(grad, 1 - beta)
    X[i] = s[2] != 0 ? a.g[i] + beta * (M[i] - a.g[i]) : M[i];  // grad.lerp_(momentum, beta)
  }
  Orthogonalize(X.data(), a.rows, a.cols, s[6] != 0 ? OrthoMethod::kSvd : OrthoMethod::kNewtonSchulz,
                size_t(s[3]), X.data());
  float keep = a.Decay(s[5]);
  float step = float(s[0] * s[4]);
  for (size_t i = 0; i < n; ++i) a.w[i] = a.w[i] * keep - step * X[i];
}

}  // namespace specopt
