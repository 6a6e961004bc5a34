// LAMB with optax's semantics: optax.lamb = chain(scale_by_adam, add_decayed_weights,
// scale_by_trust_ratio, scale_by_learning_rate), applied as optax.apply_updates does. Each line
// below is one of optax's jnp operations on float32 (no fused multiply-adds: jnp evaluates them
// one at a time, so contraction is switched off in this file). The trust ratio needs ‖W‖ and ‖u‖
// before W is written: a read-only pass sums them (in float64), the writing pass recomputes the
// same u (bit for bit: the same float32 operations) and updates m, v and W. With `cautious`, one
// more read-only pass first counts the entries whose direction agrees with the gradient.
#include <cmath>
#include <cstddef>

#include "../kernels.hpp"
#include "rules.hpp"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace specopt {

namespace {

struct Lamb {
  float c1, b1, c2, b2;  // 1 − β₁, β₁, 1 − β₂, β₂
  float bc1, bc2;        // the bias corrections 1 − βᵗ
  float eps, wd;
  // cautious: the scale of an agreeing entry (1/mean) and of the others (cautiousFactor/mean)
  bool cautious;
  float agree, disagree;
};

// scale_by_adam's direction m̂/(√v̂ + ε) from the new moments.
inline float Direction(const Lamb& k, float g, float m, float v, float& mNew, float& vNew) {
  mNew = k.c1 * g + k.b1 * m;        // (1 − β₁)·g + β₁·mu
  vNew = k.c2 * (g * g) + k.b2 * v;  // (1 − β₂)·g² + β₂·nu
  float mHat = mNew / k.bc1;
  float vHat = vNew / k.bc2;
  return mHat / (std::sqrt(vHat) + k.eps);  // eps_root 0: √(v̂ + 0) = √v̂
}

// The update before the trust ratio: the (cautiously masked) direction plus λ·W.
inline float Update(const Lamb& k, float w, float g, float m, float v, float& mNew, float& vNew) {
  float a = Direction(k, g, m, v, mNew, vNew);
  if (k.cautious) a = a * (a * g > 0.0f ? k.agree : k.disagree);
  return a + k.wd * w;  // add_decayed_weights: g + weight_decay·p
}

SPECOPT_DISPATCH
size_t CountAgreeing(const Lamb& k, const float* __restrict g, const float* __restrict m, const float* __restrict v,
                     size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    float mNew, vNew;
    float a = Direction(k, g[i], m[i], v[i], mNew, vNew);
    count += a * g[i] > 0.0f ? 1 : 0;
  }
  return count;
}

// Σw² and Σu² in float64 (read-only).
void Norms(const Lamb& k, const float* w, const float* g, const float* m, const float* v, size_t n, double& ww,
           double& uu) {
  double sw = 0, su = 0;
  for (size_t i = 0; i < n; ++i) {
    float mNew, vNew;
    float u = Update(k, w[i], g[i], m[i], v[i], mNew, vNew);
    sw += double(w[i]) * double(w[i]);
    su += double(u) * double(u);
  }
  ww = sw;
  uu = su;
}

SPECOPT_DISPATCH
void LambWrite(const Lamb& k, float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v,
               size_t n, float ratio, float negLr) {
  for (size_t i = 0; i < n; ++i) {
    float mNew, vNew;
    float u = Update(k, w[i], g[i], m[i], v[i], mNew, vNew);
    m[i] = mNew;
    v[i] = vNew;
    float scaled = u * ratio;       // scale_by_trust_ratio: update·trust_ratio
    float step = negLr * scaled;    // scale_by_learning_rate: (−lr)·update
    w[i] = w[i] + step;             // apply_updates
  }
}

}  // namespace

// scalars: lr, beta1, beta2, eps, weightDecay, bc1, bc2, cautious, cautiousFactor
// buffers: [expAvg (mu), expAvgSq (nu)]
void LambStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t n = a.size();
  Lamb k{};
  k.c1 = float(1.0 - s[1]);
  k.b1 = float(s[1]);
  k.c2 = float(1.0 - s[2]);
  k.b2 = float(s[2]);
  k.eps = float(s[3]);
  k.wd = float(s[4]);
  k.bc1 = float(s[5]);
  k.bc2 = float(s[6]);
  k.cautious = false;
  float* m = a.buffers[0];
  float* v = a.buffers[1];
  if (s[7] != 0 && n > 0) {
    // C-Optim's mask as lucidrains/lion-pytorch's cautious_lion.py applies it: scale 1 where
    // update·g > 0, cautiousFactor elsewhere, divided by max(mean(scale), 1e-5) (in float32).
    float factor = float(s[8]);
    size_t agreeing = CountAgreeing(k, a.g, m, v, n);
    double sum = double(agreeing) + double(factor) * double(n - agreeing);
    float mean = std::fmax(float(sum / double(n)), float(1e-5));
    k.cautious = true;
    k.agree = 1.0f / mean;
    k.disagree = factor / mean;
  }
  double ww = 0, uu = 0;
  Norms(k, a.w, a.g, m, v, n, ww, uu);
  // scale_by_trust_ratio: ‖W‖/‖u‖, 1 when either norm is 0.
  double ratio = ww == 0 || uu == 0 ? 1.0 : std::sqrt(ww) / std::sqrt(uu);
  LambWrite(k, a.w, a.g, m, v, n, float(ratio), -float(s[0]));
}

}  // namespace specopt
