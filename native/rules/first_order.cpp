// Elementwise rules: one fused pass over W, G and the state (PyTorch's single-tensor formulas,
// in the same order of operations, so trajectories match torch.optim closely in float32).
#include <cmath>

#include "../kernels.hpp"
#include "rules.hpp"

namespace specopt {

namespace {

inline float Sign(float x) { return static_cast<float>((x > 0.0f) - (x < 0.0f)); }

}  // namespace

// scalars: lr, momentum, dampening, nesterov, l2, decay, first; buffers: [momentum]
SPECOPT_DISPATCH
static void SgdLoop(float* w, const float* g, float gs, float* buf, size_t n, float lr, float mu, float undamped,
                    bool nesterov, float l2, float keep, bool first) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs + l2 * w[i];
    if (buf) {
      float b = first ? d : mu * buf[i] + undamped * d;
      buf[i] = b;
      d = nesterov ? d + mu * b : b;
    }
    w[i] = w[i] * keep - lr * d;
  }
}

void SgdStep(const RuleArgs& a) {
  const double* s = a.scalars;
  float keep = a.Decay(s[5]);
  SgdLoop(a.w, a.g, a.gradScale, s[1] > 0 ? a.buffers[0] : nullptr, a.size(), float(s[0]), float(s[1]),
          float(1.0 - s[2]), s[3] != 0, float(s[4]), keep, s[6] != 0);
}

// scalars: lr, momentum, decay; buffers: [m]
SPECOPT_DISPATCH
static void SignSgdLoop(float* w, const float* g, float gs, float* m, size_t n, float lr, float mu, float oneMinusMu,
                        float keep) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs;
    if (m) {
      m[i] = mu * m[i] + oneMinusMu * d;
      d = m[i];
    }
    w[i] = w[i] * keep - lr * Sign(d);
  }
}

void SignSgdStep(const RuleArgs& a) {
  const double* s = a.scalars;
  float keep = a.Decay(s[2]);
  SignSgdLoop(a.w, a.g, a.gradScale, s[1] > 0 ? a.buffers[0] : nullptr, a.size(), float(s[0]), float(s[1]),
              float(1.0 - s[1]), keep);
}

// scalars: lr, gamma, momentum, normalize, decay; buffers: [b]
// Kind 0: γ = 1/2 (sqrt), 1: γ = 1, 2: any γ (powf, which does not vectorise).
template <int Kind>
SPECOPT_DISPATCH static void PbSgdLoop(float* __restrict w, const float* __restrict g, float* __restrict b,
                                       size_t n, float lr, float gamma, float mu, float scale, float keep) {
  for (size_t i = 0; i < n; ++i) {
    float x = std::fabs(g[i]);
    float p = Kind == 0 ? std::sqrt(x) : Kind == 1 ? x : std::pow(x, gamma);
    float d = Sign(g[i]) * p * scale;
    if (b) {
      b[i] = mu * b[i] + d;
      d = b[i];
    }
    w[i] = w[i] * keep - lr * d;
  }
}

void PbSgdStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t n = a.size();
  float lr = float(s[0]), gamma = float(s[1]), mu = float(s[2]);
  float scale = 1.0f;
  if (s[3] != 0) {
    // ‖sign(g)|g|^γ‖_p with p = 1 + 1/γ is (Σ|g|^(γ+1))^(γ/(γ+1)).
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::pow(std::fabs(double(a.g[i])), double(gamma) + 1.0);
    double norm = std::pow(sum, double(gamma) / (double(gamma) + 1.0));
    scale = norm > 0 ? float(1.0 / norm) : 0.0f;
  }
  float keep = a.Decay(s[4]);
  float* b = mu > 0 ? a.buffers[0] : nullptr;
  auto loop = gamma == 0.5f ? PbSgdLoop<0> : gamma == 1.0f ? PbSgdLoop<1> : PbSgdLoop<2>;
  loop(a.w, a.g, b, n, lr, gamma, mu, scale, keep);
}

// scalars: clr, l2, eps; buffers: [sum]
SPECOPT_DISPATCH
static void AdagradLoop(float* w, const float* g, float gs, float* sum, size_t n, float clr, float l2, float eps) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs + l2 * w[i];
    sum[i] += d * d;
    w[i] -= clr * (d / (std::sqrt(sum[i]) + eps));
  }
}

void AdagradStep(const RuleArgs& a) {
  const double* s = a.scalars;
  AdagradLoop(a.w, a.g, a.gradScale, a.buffers[0], a.size(), float(s[0]), float(s[1]), float(s[2]));
}

// scalars: lr, alpha, eps, l2, momentum, centered; buffers: [squareAvg, gradAvg?, momentum?]
// One loop per option combination, so the inner loop has no branches and vectorises.
template <bool Centered, bool Momentum>
SPECOPT_DISPATCH static void RmspropLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict sq,
                                         float* __restrict ga, float* __restrict mb, size_t n, float lr,
                                         float alpha, float oneMinusAlpha, float eps, float l2, float mu) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs + l2 * w[i];
    sq[i] = sq[i] * alpha + oneMinusAlpha * d * d;
    float avg;
    if constexpr (Centered) {
      ga[i] = ga[i] + oneMinusAlpha * (d - ga[i]);
      avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
    } else {
      avg = std::sqrt(sq[i]) + eps;
    }
    if constexpr (Momentum) {
      mb[i] = mb[i] * mu + d / avg;
      w[i] -= lr * mb[i];
    } else {
      w[i] -= lr * (d / avg);
    }
  }
}

void RmspropStep(const RuleArgs& a) {
  const double* s = a.scalars;
  bool centered = s[5] != 0, momentum = s[4] > 0;
  float* ga = centered ? a.buffers[1] : nullptr;
  float* mb = momentum ? a.buffers[centered ? 2 : 1] : nullptr;
  auto loop = centered ? (momentum ? RmspropLoop<true, true> : RmspropLoop<true, false>)
                       : (momentum ? RmspropLoop<false, true> : RmspropLoop<false, false>);
  loop(a.w, a.g, a.gradScale, a.buffers[0], ga, mb, a.size(), float(s[0]), float(s[1]), float(1.0 - s[1]), float(s[2]),
       float(s[3]), float(s[4]));
}

// scalars: beta1, beta2, eps, l2, decay, stepSize (lr/bc1), bc2Sqrt, amsgrad
// buffers: [expAvg, expAvgSq, maxExpAvgSq?]
SPECOPT_DISPATCH
static void AdamLoop(float* w, const float* g, float gs, float* m, float* v, float* vmax, size_t n, float c1,
                     float b2, float c2, float eps, float l2, float keep, float stepSize, float bc2Sqrt) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs + l2 * w[i];
    m[i] = m[i] + c1 * (d - m[i]);  // torch: exp_avg.lerp_(grad, 1 - beta1)
    v[i] = v[i] * b2 + c2 * d * d;
    float second = v[i];
    if (vmax) second = vmax[i] = std::fmax(vmax[i], v[i]);
    float denom = std::sqrt(second) / bc2Sqrt + eps;
    w[i] = w[i] * keep - stepSize * (m[i] / denom);
  }
}

void AdamStep(const RuleArgs& a) {
  const double* s = a.scalars;
  float keep = a.Decay(s[4]);
  // 1 - beta in double, rounded once (as PyTorch's Python float does): float(1 - float(beta2))
  // would carry beta2's rounding error magnified ~1/(1 - beta2) times.
  AdamLoop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], s[7] != 0 ? a.buffers[2] : nullptr, a.size(),
           float(1.0 - s[0]), float(s[1]), float(1.0 - s[1]), float(s[2]), float(s[3]), keep, float(s[5]),
           float(s[6]));
}

}  // namespace specopt
