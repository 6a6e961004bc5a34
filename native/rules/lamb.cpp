// LAMB with optax's semantics: optax.lamb = chain(scale_by_adam, add_decayed_weights,
// scale_by_trust_ratio, scale_by_learning_rate), applied as optax.apply_updates does. Each line
// below is one of optax's jnp operations on float32 (no fused multiply-adds: jnp evaluates them
// one at a time, so contraction is switched off in this file). The trust ratio needs ‖W‖ and ‖u‖
// before W is written: a read-only pass sums them (in float64), the writing pass recomputes the
// same u (bit for bit: the same float32 operations) and updates m, v and W. With `cautious`, the
// read-only pass also counts the entries whose direction agrees with the gradient and keeps the
// sums that give ‖u‖ once the mask's mean is known: still two passes.
#include <algorithm>
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
// Cautious as a template argument: a test of k.cautious per entry keeps the loops from vectorising.
template <bool Cautious>
inline float Update(const Lamb& k, float w, float g, float m, float v, float& mNew, float& vNew) {
  float a = Direction(k, g, m, v, mNew, vNew);
  if constexpr (Cautious) a = a * (a * g > 0.0f ? k.agree : k.disagree);
  return a + k.wd * w;  // add_decayed_weights: g + weight_decay·p
}

// The read-only pass's float64 sums are kept in kLanes partial sums (entry i in lane i mod kLanes,
// folded in lane order at the end), so that the pass vectorises like the writing one.
constexpr size_t kLanes = 8;

double Fold(const double* lanes) {
  double total = 0;
  for (size_t j = 0; j < kLanes; ++j) total += lanes[j];
  return total;
}

// Σw² and Σu² (read-only).
SPECOPT_DISPATCH
void Norms(const Lamb& k, const float* __restrict w, const float* __restrict g, float gs, const float* __restrict m,
           const float* __restrict v, size_t n, double& ww, double& uu) {
  double sw[kLanes] = {}, su[kLanes] = {};
  auto at = [&](size_t i, size_t j) {
    float mNew, vNew;
    float u = Update<false>(k, w[i], g[i] * gs, m[i], v[i], mNew, vNew);
    sw[j] += double(w[i]) * double(w[i]);
    su[j] += double(u) * double(u);
  };
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j) at(i + j, j);
  for (size_t j = 0; i < n; ++i, ++j) at(i, j);
  ww = Fold(sw);
  uu = Fold(su);
}

// cautious: the sums that give ‖u‖ once the mask's mean is known, in the same one read-only pass.
// With the class of entry i (agreeing or not) scaled by s_k, u_i = s_k·a_i + λ·w_i, so
//   ‖u‖² = Σ_k (s_k²·Σ_k a² + 2λ·s_k·Σ_k a·w) + λ²·Σ w²,
// all sums in float64 (their rounding, ~1e-16 of the terms, is far below that of the float32 u
// the writing pass applies, ~6e-8 of them, even where λ·w cancels s·a).
struct CautiousSums {
  double agreeing = 0;
  double aa[2] = {0, 0}, aw[2] = {0, 0}, ww = 0;  // [disagreeing, agreeing]
};

SPECOPT_DISPATCH
CautiousSums SumCautious(const Lamb& k, const float* __restrict w, const float* __restrict g, float gs,
                         const float* __restrict m, const float* __restrict v, size_t n) {
  double count[kLanes] = {}, aa1[kLanes] = {}, aa0[kLanes] = {}, aw1[kLanes] = {}, aw0[kLanes] = {}, sw[kLanes] = {};
  auto at = [&](size_t i, size_t j) {
    float mNew, vNew;
    float gi = g[i] * gs;
    float a = Direction(k, gi, m[i], v[i], mNew, vNew);
    bool agree = a * gi > 0.0f;
    double da = double(a), dw = double(w[i]);
    count[j] += agree ? 1.0 : 0.0;
    aa1[j] += agree ? da * da : 0.0;
    aa0[j] += agree ? 0.0 : da * da;
    aw1[j] += agree ? da * dw : 0.0;
    aw0[j] += agree ? 0.0 : da * dw;
    sw[j] += dw * dw;
  };
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t j = 0; j < kLanes; ++j) at(i + j, j);
  for (size_t j = 0; i < n; ++i, ++j) at(i, j);
  CautiousSums c;
  c.agreeing = Fold(count);
  c.aa[1] = Fold(aa1);
  c.aa[0] = Fold(aa0);
  c.aw[1] = Fold(aw1);
  c.aw[0] = Fold(aw0);
  c.ww = Fold(sw);
  return c;
}

template <bool Cautious>
SPECOPT_DISPATCH void LambWrite(const Lamb& k, float* __restrict w, const float* __restrict g, float gs,
                                float* __restrict m, float* __restrict v, size_t n, float ratio, float negLr) {
  for (size_t i = 0; i < n; ++i) {
    float mNew, vNew;
    float u = Update<Cautious>(k, w[i], g[i] * gs, m[i], v[i], mNew, vNew);
    m[i] = mNew;
    v[i] = vNew;
    float scaled = u * ratio;       // scale_by_trust_ratio: update·trust_ratio
    float step = negLr * scaled;    // scale_by_learning_rate: (−lr)·update
    w[i] = w[i] + step;             // apply_updates
  }
}

Lamb Constants(const double* s) {
  Lamb k{};
  k.c1 = float(1.0 - s[1]);
  k.b1 = float(s[1]);
  k.c2 = float(1.0 - s[2]);
  k.b2 = float(s[2]);
  k.eps = float(s[3]);
  k.wd = float(s[4]);
  k.bc1 = float(s[5]);
  k.bc2 = float(s[6]);
  k.cautious = s[7] != 0;
  k.agree = float(s[10]);
  k.disagree = float(s[11]);
  return k;
}

}  // namespace

// LAMB is entry-wise (optimizer.cpp runs it in chunks over the threads): the read-only pass gives
// each chunk's sums (LambSums), their totals the trust ratio and the mask's factors (LambFinish,
// appended to the scalars), and the writing pass (LambStep) applies them chunk by chunk.
// scalars: lr, beta1, beta2, eps, weightDecay, bc1, bc2, cautious, cautiousFactor, then
//          LambFinish's: ratio, agree, disagree
// buffers: [expAvg (mu), expAvgSq (nu)]
void LambSums(const RuleArgs& a, double* out) {
  const double* s = a.scalars;
  Lamb k = Constants(s);
  size_t n = a.size();
  if (k.cautious) {
    CautiousSums c = SumCautious(k, a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], n);
    double sums[kLambCautiousSums] = {c.agreeing, c.aa[0], c.aa[1], c.aw[0], c.aw[1], c.ww};
    std::copy_n(sums, kLambCautiousSums, out);
  } else {
    Norms(k, a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], n, out[0], out[1]);
  }
}

void LambFinish(const RuleArgs& a, const double* totals, double* s) {
  double ww = 0, uu = 0, n = double(a.size());
  float agree = 1.0f, disagree = 1.0f;
  if (s[7] != 0 && n > 0) {
    // C-Optim's mask as lucidrains/lion-pytorch's cautious_lion.py applies it: scale 1 where
    // update·g > 0, cautiousFactor elsewhere, divided by max(mean(scale), 1e-5) (in float32).
    // With the class of entry i (agreeing or not) scaled by s_k, u_i = s_k·a_i + λ·w_i, so
    // ‖u‖² = Σ_k (s_k²·Σ_k a² + 2λ·s_k·Σ_k a·w) + λ²·Σ w².
    float factor = float(s[8]);
    double agreeing = totals[0];
    double sum = agreeing + double(factor) * (n - agreeing);
    float mean = std::fmax(float(sum / n), float(1e-5));
    agree = 1.0f / mean;
    disagree = factor / mean;
    double lambda = double(float(s[4])), scale[2] = {double(disagree), double(agree)};
    ww = totals[5];
    for (int j = 0; j < 2; ++j) uu += scale[j] * scale[j] * totals[1 + j] + 2 * lambda * scale[j] * totals[3 + j];
    uu = std::fmax(uu + lambda * lambda * ww, 0.0);
  } else {
    ww = totals[0];
    uu = totals[1];
  }
  // scale_by_trust_ratio: ‖W‖/‖u‖, 1 when either norm is 0.
  s[9] = ww == 0 || uu == 0 ? 1.0 : std::sqrt(ww) / std::sqrt(uu);
  s[10] = agree;
  s[11] = disagree;
}

void LambStep(const RuleArgs& a) {
  const double* s = a.scalars;
  Lamb k = Constants(s);
  auto write = k.cautious ? LambWrite<true> : LambWrite<false>;
  write(k, a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], a.size(), float(s[9]), -float(s[0]));
}

}  // namespace specopt
