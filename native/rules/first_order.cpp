// Elementwise rules: one fused pass over W, G and the state (PyTorch's single-tensor formulas,
// in the same order of operations, so trajectories match torch.optim closely in float32).
#include <algorithm>
#include <cmath>

#include "../kernels.hpp"
#include "rules.hpp"

namespace specopt {

namespace {

inline float Sign(float x) { return static_cast<float>((x > 0.0f) - (x < 0.0f)); }


}  // namespace

// scalars: lr, momentum, dampening, nesterov, l2, decay, first, cautious, cautiousFactor; buffers: [momentum]
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

// Cautious SGD with momentum (scalars[7] = 1; the momentum buffer is always there): the update
// (the buffer, or d + μ·b with nesterov) times the mask's factor where it agrees with d.
namespace {
struct SgdNext {
  float d, b, u;
};
inline SgdNext SgdAt(float w, float g, float buf, float gs, float mu, float undamped, bool nesterov, float l2, bool first) {
  float d = g * gs + l2 * w;
  float b = first ? d : mu * buf + undamped * d;
  return {d, b, nesterov ? d + mu * b : b};
}
}  // namespace

SPECOPT_DISPATCH
static void SgdCautiousLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict buf, size_t n,
                            float lr, float mu, float undamped, bool nesterov, float l2, float keep, bool first, float on,
                            float off) {
  for (size_t i = 0; i < n; ++i) {
    SgdNext x = SgdAt(w[i], g[i], buf[i], gs, mu, undamped, nesterov, l2, first);
    buf[i] = x.b;
    w[i] = w[i] * keep - lr * (x.u * (Agree(x.u, x.d) ? on : off));
  }
}

SPECOPT_DISPATCH
static size_t SgdAlignedLoop(const float* __restrict w, const float* __restrict g, float gs, const float* __restrict buf,
                             size_t n, float mu, float undamped, bool nesterov, float l2, bool first) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    SgdNext x = SgdAt(w[i], g[i], buf[i], gs, mu, undamped, nesterov, l2, first);
    count += Agree(x.u, x.d) ? 1 : 0;
  }
  return count;
}

size_t SgdAligned(const RuleArgs& a) {
  const double* s = a.scalars;
  return SgdAlignedLoop(a.w, a.g, a.gradScale, a.buffers[0], a.size(), float(s[1]), float(1.0 - s[2]), s[3] != 0,
                        float(s[4]), s[6] != 0);
}

void SgdStep(const RuleArgs& a) {
  const double* s = a.scalars;
  float keep = a.Decay(s[5]);
  if (s[7] != 0) {
    SgdCautiousLoop(a.w, a.g, a.gradScale, a.buffers[0], a.size(), float(s[0]), float(s[1]), float(1.0 - s[2]),
                    s[3] != 0, float(s[4]), keep, s[6] != 0, a.cautiousAligned, a.cautiousOther);
    return;
  }
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

// scalars: beta1, beta2, eps, l2, decay, stepSize (lr/bc1), bc2Sqrt, amsgrad, cautious, cautiousFactor
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

// Cautious Adam/AdamW (scalars[8] = 1): the update m/denom times the mask's factor where it
// agrees with the gradient d (g + λW with L2), computed as AdamLoop computes it.
namespace {
struct AdamNext {
  float d, m, v, vmax, q;
};
inline AdamNext AdamAt(float w, float g, float m, float v, float vmax, bool amsgrad, float gs, float c1, float b2, float c2,
                       float eps, float l2, float bc2Sqrt) {
  float d = g * gs + l2 * w;
  m = m + c1 * (d - m);
  v = v * b2 + c2 * d * d;
  float second = v;
  if (amsgrad) second = vmax = std::fmax(vmax, v);
  float denom = std::sqrt(second) / bc2Sqrt + eps;
  return {d, m, v, vmax, m / denom};
}
}  // namespace

// One loop per amsgrad setting: a conditional load of vmax would keep them from vectorising.
template <bool Amsgrad>
SPECOPT_DISPATCH static void AdamCautiousLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict m,
                                              float* __restrict v, float* __restrict vmax, size_t n, float c1, float b2,
                                              float c2, float eps, float l2, float keep, float stepSize, float bc2Sqrt,
                                              float on, float off) {
  for (size_t i = 0; i < n; ++i) {
    AdamNext x = AdamAt(w[i], g[i], m[i], v[i], Amsgrad ? vmax[i] : 0.0f, Amsgrad, gs, c1, b2, c2, eps, l2, bc2Sqrt);
    m[i] = x.m;
    v[i] = x.v;
    if constexpr (Amsgrad) vmax[i] = x.vmax;
    w[i] = w[i] * keep - stepSize * (x.q * (Agree(x.q, x.d) ? on : off));
  }
}

template <bool Amsgrad>
SPECOPT_DISPATCH static size_t AdamAlignedLoop(const float* __restrict w, const float* __restrict g, float gs,
                                               const float* __restrict m, const float* __restrict v,
                                               const float* __restrict vmax, size_t n, float c1, float b2, float c2,
                                               float eps, float l2, float bc2Sqrt) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    AdamNext x = AdamAt(w[i], g[i], m[i], v[i], Amsgrad ? vmax[i] : 0.0f, Amsgrad, gs, c1, b2, c2, eps, l2, bc2Sqrt);
    count += Agree(x.q, x.d) ? 1 : 0;
  }
  return count;
}

size_t AdamAligned(const RuleArgs& a) {
  const double* s = a.scalars;
  auto loop = s[7] != 0 ? AdamAlignedLoop<true> : AdamAlignedLoop<false>;
  return loop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], s[7] != 0 ? a.buffers[2] : nullptr, a.size(),
              float(1.0 - s[0]), float(s[1]), float(1.0 - s[1]), float(s[2]), float(s[3]), float(s[6]));
}

void AdamStep(const RuleArgs& a) {
  const double* s = a.scalars;
  float keep = a.Decay(s[4]);
  if (s[8] != 0) {
    auto loop = s[7] != 0 ? AdamCautiousLoop<true> : AdamCautiousLoop<false>;
    loop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], s[7] != 0 ? a.buffers[2] : nullptr, a.size(), float(1.0 - s[0]),
         float(s[1]), float(1.0 - s[1]), float(s[2]), float(s[3]), keep, float(s[5]), float(s[6]), a.cautiousAligned,
         a.cautiousOther);
    return;
  }
  // 1 - beta in double, rounded once (as PyTorch's Python float does): float(1 - float(beta2))
  // would carry beta2's rounding error magnified ~1/(1 - beta2) times.
  AdamLoop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], s[7] != 0 ? a.buffers[2] : nullptr, a.size(),
           float(1.0 - s[0]), float(s[1]), float(1.0 - s[1]), float(s[2]), float(s[3]), keep, float(s[5]),
           float(s[6]));
}


// ------------------------------------------------------------------ the rest of torch.optim
// PyTorch 2.x's single-tensor steps (torch/optim/<name>.py), in their order of float32 operations.

namespace {

// torch.maximum(a, b) for finite inputs.
inline float Max(float a, float b) { return a > b ? a : b; }

}  // namespace

// scalars: beta1, beta2, eps, l2, decay, lr, mu, muNext, bc2; buffers: [expAvg, expAvgSq, muProduct (1)]
// Not split into chunks: the μ product (one float32, as torch keeps it) is updated once per step.
SPECOPT_DISPATCH
static void NadamLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict m,
                      float* __restrict v, size_t n, float c1, float b2, float c2, float eps, float l2, float keep,
                      float bc2, float gradCoef, float momentumCoef) {
  for (size_t i = 0; i < n; ++i) {
    float wi = w[i] * keep;
    float d = g[i] * gs + l2 * wi;
    m[i] = m[i] + c1 * (d - m[i]);
    v[i] = v[i] * b2 + c2 * d * d;
    float denom = std::sqrt(v[i] / bc2) + eps;
    // torch's addcdiv_: self + value·t1/t2, evaluated left to right.
    wi = wi + gradCoef * d / denom;
    w[i] = wi + momentumCoef * m[i] / denom;
  }
}

void NadamStep(const RuleArgs& a) {
  const double* s = a.scalars;
  float keep = a.Decay(s[4]);
  float* product = a.buffers[2];
  // torch: mu_product *= mu (a float32 tensor times a Python float), then its value as a double.
  float next = product[0] * float(s[6]);
  double pi = double(next), muNext = s[7], lr = s[5];
  double gradCoef = -lr * (1.0 - s[6]) / (1.0 - pi);
  double momentumCoef = (-lr * muNext) / (1.0 - pi * muNext);
  NadamLoop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], a.size(), float(1.0 - s[0]), float(s[1]),
            float(1.0 - s[1]), float(s[2]), float(s[3]), keep, float(s[8]), float(gradCoef), float(momentumCoef));
  product[0] = next;
}

// scalars: beta1, beta2, eps, l2, decay, lr, bc1, bc2Sqrt, rect (-1: not rectified yet)
// buffers: [expAvg, expAvgSq]
SPECOPT_DISPATCH
static void RadamLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict m,
                      float* __restrict v, size_t n, float c1, float b2, float c2, float eps, float l2, float keep,
                      float lr, float bc1, float bc2Sqrt, float rect, bool rectified) {
  for (size_t i = 0; i < n; ++i) {
    float wi = w[i] * keep;
    float d = g[i] * gs + l2 * wi;
    m[i] = m[i] + c1 * (d - m[i]);
    v[i] = v[i] * b2 + c2 * d * d;
    float corrected = m[i] / bc1;
    float step = rectified ? corrected * lr * (bc2Sqrt / (std::sqrt(v[i]) + eps)) * rect : corrected * lr;
    w[i] = wi - step;
  }
}

void RadamStep(const RuleArgs& a) {
  const double* s = a.scalars;
  float keep = a.Decay(s[4]);
  RadamLoop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], a.size(), float(1.0 - s[0]), float(s[1]),
            float(1.0 - s[1]), float(s[2]), float(s[3]), keep, float(s[5]), float(s[6]), float(s[7]), float(s[8]),
            s[8] >= 0);
}

// scalars: beta1, beta2, eps, l2, clr (lr/(1 − β₁ᵗ)); buffers: [expAvg, expInf]
SPECOPT_DISPATCH
static void AdamaxLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict m,
                       float* __restrict u, size_t n, float c1, float b2, float eps, float l2, float clr) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs + l2 * w[i];
    m[i] = m[i] + c1 * (d - m[i]);
    u[i] = Max(u[i] * b2, std::fabs(d) + eps);
    w[i] = w[i] + -clr * m[i] / u[i];  // addcdiv_(exp_avg, exp_inf, value=-clr)
  }
}

void AdamaxStep(const RuleArgs& a) {
  const double* s = a.scalars;
  AdamaxLoop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], a.size(), float(1.0 - s[0]), float(s[1]),
             float(s[2]), float(s[3]), float(s[4]));
}

// scalars: lr, rho, eps, l2; buffers: [squareAvg, accDelta]
SPECOPT_DISPATCH
static void AdadeltaLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict sq,
                         float* __restrict acc, size_t n, float lr, float rho, float oneMinusRho, float eps, float l2) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs + l2 * w[i];
    sq[i] = sq[i] * rho + oneMinusRho * d * d;
    float std_ = std::sqrt(sq[i] + eps);
    float delta = std::sqrt(acc[i] + eps) / std_ * d;
    acc[i] = acc[i] * rho + oneMinusRho * delta * delta;
    w[i] = w[i] - lr * delta;
  }
}

void AdadeltaStep(const RuleArgs& a) {
  const double* s = a.scalars;
  AdadeltaLoop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], a.size(), float(s[0]), float(s[1]),
               float(1.0 - s[1]), float(s[2]), float(s[3]));
}

// scalars: etaMinus, etaPlus, stepSizeMin, stepSizeMax; buffers: [prev, stepSize]
SPECOPT_DISPATCH
static void RpropLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict prev,
                      float* __restrict size, size_t n, float minus, float plus, float lo, float hi) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs;
    float q = d * prev[i];  // its sign, as torch's sign(grad * prev)
    float factor = q > 0 ? plus : q < 0 ? minus : 1.0f;
    float st = std::min(std::max(size[i] * factor, lo), hi);
    size[i] = st;
    // torch: grad[sign.eq(etaminus)] = 0, comparing the factor (as float32) with η₋.
    float kept = factor == minus ? 0.0f : d;
    w[i] = w[i] - Sign(kept) * st;
    prev[i] = kept;
  }
}

void RpropStep(const RuleArgs& a) {
  const double* s = a.scalars;
  RpropLoop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], a.size(), float(s[0]), float(s[1]), float(s[2]),
            float(s[3]));
}

}  // namespace specopt
