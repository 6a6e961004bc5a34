// Issue 12's entry-wise rules: Lion (lucidrains/lion-pytorch, lion_pytorch.py and the cautious
// variant of cautious_lion.py) and AdEMAMix (apple/ml-ademamix, pytorch/ademamix.py), each one
// fused pass in the reference's order of float32 operations (torch CPU, one tensor op at a time).
#include <cmath>

#include "../kernels.hpp"
#include "rules.hpp"

namespace specopt {

namespace {

inline float Sign(float x) { return static_cast<float>((x > 0.0f) - (x < 0.0f)); }


// Lion's direction: sign(β₁m + (1 − β₁)g), as exp_avg.clone().mul_(beta1).add(grad, alpha=1 - beta1).sign_().
inline float LionDirection(float m, float d, float b1, float c1) { return Sign(m * b1 + c1 * d); }

}  // namespace

// ------------------------------------------------------------------ lion
// scalars: lr, beta1, beta2, decay (lr·λ), cautious, cautiousFactor; buffers: [expAvg]
//   W ← W·(1 − lr·λ);  W ← W − lr·sign(β₁m + (1 − β₁)g)·s;  m ← β₂m + (1 − β₂)g
// (s = 1 unless cautious). torch: p.mul_(1 - lr*wd); p.add_(update, alpha=-lr); exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2).
template <bool Cautious>
SPECOPT_DISPATCH static void LionLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict m,
                                      size_t n, float negLr, float b1, float c1, float b2, float c2, float keep, float on,
                                      float off) {
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs;
    float u = LionDirection(m[i], d, b1, c1);
    if constexpr (Cautious) u = u * (Agree(u, d) ? on : off);
    float wi = w[i] * keep;
    w[i] = wi + negLr * u;
    m[i] = m[i] * b2 + c2 * d;
  }
}

SPECOPT_DISPATCH
static size_t LionAlignedLoop(const float* __restrict g, float gs, const float* __restrict m, size_t n, float b1, float c1) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    float d = g[i] * gs;
    count += Agree(LionDirection(m[i], d, b1, c1), d) ? 1 : 0;
  }
  return count;
}

size_t LionAligned(const RuleArgs& a) {
  const double* s = a.scalars;
  return LionAlignedLoop(a.g, a.gradScale, a.buffers[0], a.size(), float(s[1]), float(1.0 - s[1]));
}

void LionStep(const RuleArgs& a) {
  const double* s = a.scalars;
  float keep = a.Decay(s[3]);
  // 1 − β in double, rounded once, as the Python float torch is given.
  auto loop = s[4] != 0 ? LionLoop<true> : LionLoop<false>;
  loop(a.w, a.g, a.gradScale, a.buffers[0], a.size(), float(-s[0]), float(s[1]), float(1.0 - s[1]), float(s[2]),
       float(1.0 - s[2]), keep, a.cautiousAligned, a.cautiousOther);
}

// ------------------------------------------------------------------ ademamix
// scalars: beta1, beta2, beta3 (this step's, after its warm-up), alpha (this step's), eps, lambda,
// lr, bc1 (1 − β₁ᵗ), bc2Sqrt (√(1 − β₂ᵗ)), cautious, cautiousFactor
// buffers: [expAvgFast, expAvgSlow, expAvgSq]
//   m₁ ← β₁m₁ + (1 − β₁)g;  m₂ ← β₃m₂ + (1 − β₃)g;  v ← β₂v + (1 − β₂)g²
//   u = (m₁/bc1 + α·m₂)/(√v/bc2Sqrt + ε)·s + λW;  W ← W + (−lr)·u
// (s = 1 unless cautious: the mask scales the moment part, not the decay.) With β₁ = 0 the
// reference uses g itself for m₁; β₁m₁ + 1·g is g exactly, so the buffer is kept regardless.
namespace {
struct AdemamixNext {
  float d, m1, m2, v, q;
};
inline AdemamixNext AdemamixAt(float g, float m1, float m2, float v, float gs, float b1, float c1, float b2, float c2,
                               float b3, float c3, float alpha, float eps, float bc1, float bc2Sqrt) {
  float d = g * gs;
  m1 = m1 * b1 + c1 * d;
  m2 = m2 * b3 + c3 * d;
  v = v * b2 + c2 * d * d;
  float denom = std::sqrt(v) / bc2Sqrt + eps;
  return {d, m1, m2, v, (m1 / bc1 + alpha * m2) / denom};
}
}  // namespace

template <bool Cautious>
SPECOPT_DISPATCH static void AdemamixLoop(float* __restrict w, const float* __restrict g, float gs,
                                          float* __restrict m1, float* __restrict m2, float* __restrict v, size_t n,
                                          float b1, float c1, float b2, float c2, float b3, float c3, float alpha,
                                          float eps, float lambda, float negLr, float bc1, float bc2Sqrt, float on,
                                          float off) {
  for (size_t i = 0; i < n; ++i) {
    AdemamixNext x = AdemamixAt(g[i], m1[i], m2[i], v[i], gs, b1, c1, b2, c2, b3, c3, alpha, eps, bc1, bc2Sqrt);
    m1[i] = x.m1;
    m2[i] = x.m2;
    v[i] = x.v;
    float u = x.q;
    if constexpr (Cautious) u = u * (Agree(x.q, x.d) ? on : off);
    u = u + lambda * w[i];
    w[i] = w[i] + negLr * u;
  }
}

SPECOPT_DISPATCH
static size_t AdemamixAlignedLoop(const float* __restrict g, float gs, const float* __restrict m1,
                                  const float* __restrict m2, const float* __restrict v, size_t n, float b1, float c1,
                                  float b2, float c2, float b3, float c3, float alpha, float eps, float bc1,
                                  float bc2Sqrt) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    AdemamixNext x = AdemamixAt(g[i], m1[i], m2[i], v[i], gs, b1, c1, b2, c2, b3, c3, alpha, eps, bc1, bc2Sqrt);
    count += Agree(x.q, x.d) ? 1 : 0;
  }
  return count;
}

size_t AdemamixAligned(const RuleArgs& a) {
  const double* s = a.scalars;
  return AdemamixAlignedLoop(a.g, a.gradScale, a.buffers[0], a.buffers[1], a.buffers[2], a.size(), float(s[0]),
                             float(1.0 - s[0]), float(s[1]), float(1.0 - s[1]), float(s[2]), float(1.0 - s[2]),
                             float(s[3]), float(s[4]), float(s[7]), float(s[8]));
}

void AdemamixStep(const RuleArgs& a) {
  const double* s = a.scalars;
  auto loop = s[9] != 0 ? AdemamixLoop<true> : AdemamixLoop<false>;
  loop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], a.buffers[2], a.size(), float(s[0]), float(1.0 - s[0]),
       float(s[1]), float(1.0 - s[1]), float(s[2]), float(1.0 - s[2]), float(s[3]), float(s[4]), float(s[5]),
       float(-s[6]), float(s[7]), float(s[8]), a.cautiousAligned, a.cautiousOther);
}

}  // namespace specopt
