// Prodigy (Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner"), as
// konstmish/prodigy's Prodigy.step (prodigyopt/prodigy.py, commit 3efb213) computes it, with one
// param group: the entries of one optimizer in one call (optimizer.cpp's group sums). In the
// reference's order: the moments and s use the d before the step; d is then updated from the
// group's sums; the parameter moves by dlr (of the old d) times m / (√v + d_new·ε).
//
// The distance estimate lives in every entry's dState buffer (8 floats: d, d_max, d_numerator and
// the group's step count k, each a float64 as a LoadPair pair); the entries of a group hold
// identical copies. d is stored as 0 while it equals d0 exactly (the reference's `d == d0` test
// must see the exact value, which a pair does not keep), d_max as 0 before the group's first
// update.
#include <cmath>

#include "rules.hpp"

// torch's CPU kernels fuse add_(x, alpha=a) into fma(x, a, self) and addcmul_'s last add into
// fma(value·t1, t2, self) (measured on torch 2.13: bit for bit at every length); addcdiv_ and
// the rest are not fused. The loops call std::fma exactly there and nowhere else (no contraction
// of other products: GCC contracts by default in GNU mode, in the AVX-512 clones), so they round
// as torch does and give the same bits on every machine (std::fma is exactly rounded; the
// baseline clone calls libm for it). What separates them from torch's float32 run is then
// torch's float32 dot and sum against the float64 sums here (test/goldens-prodigy.test.ts; with
// plain products instead the golden errors were about the same: 10.8 vs 10.4 units worst).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

// As SPECOPT_DISPATCH, with the AVX2 clone built for x86-64-v3 (AVX2 with FMA), so std::fma is one
// instruction there (the baseline clone calls libm's fmaf).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define PRODIGY_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PRODIGY_DISPATCH
#endif

namespace specopt {

namespace {

// scalars: lr, beta1, beta2, beta3, eps, weightDecay, decouple, useBiasCorrection, safeguardWarmup,
//          d0, dCoef, growthRate (the group's), first (this state's first step: p0 ← W), group
// buffers: [dState (8), s, p0, expAvgSq, expAvg (β₁ > 0)]
enum { kLr, kBeta1, kBeta2, kBeta3, kEps, kDecay, kDecouple, kBiasCorrection, kSafeguard, kD0, kDCoef, kGrowth, kFirst };

struct Estimate {
  double d, dMax, dNumerator, k;
  double dlr;      // d·lr·bias correction, of the d before this step
  double numCoef;  // (d/d0)·dlr: the numerator's factor of ⟨g, p0 − w⟩
  float sCoef;     // s's factor of g: (d/d0)·dlr, or (d/d0)·d with safeguardWarmup
};

Estimate Read(const RuleArgs& a) {
  const double* s = a.scalars;
  const float* st = a.buffers[0];
  double d0 = s[kD0];
  Estimate e;
  e.d = LoadPair(st);
  if (e.d == 0) e.d = d0;
  e.dMax = LoadPair(st + 2);
  if (e.dMax == 0) e.dMax = d0;
  e.dNumerator = LoadPair(st + 4);
  e.k = LoadPair(st + 6);
  double bc = 1;
  if (s[kBiasCorrection] != 0) bc = std::pow(1 - std::pow(s[kBeta2], e.k + 1), 0.5) / (1 - std::pow(s[kBeta1], e.k + 1));
  e.dlr = e.d * s[kLr] * bc;
  double ratio = e.d / d0;
  e.numCoef = ratio * e.dlr;
  e.sCoef = float(s[kSafeguard] != 0 ? ratio * e.d : ratio * e.dlr);
  return e;
}

// Σ g·(p0 − w) and Σ|β₃·s + c·g| over the entry, in float64 with eight fixed lanes (the same
// result on every machine and thread count).
template <bool Coupled>
PRODIGY_DISPATCH static void PartialLoop(const float* __restrict w, const float* __restrict g, float gs,
                                         const float* __restrict s, const float* __restrict p0, bool first,
                                         size_t n, float l2, float b3, float sc, double* dot, double* abs) {
  double dk[8] = {}, ak[8] = {};
  auto term = [&](size_t i, size_t lane) {
    float gi = g[i] * gs;
    if (Coupled) gi = std::fma(w[i], l2, gi);
    float diff = first ? 0.0f : p0[i] - w[i];
    float next = std::fma(gi, sc, s[i] * b3);
    dk[lane] += double(gi) * double(diff);
    ak[lane] += double(std::fabs(next));
  };
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t lane = 0; lane < 8; ++lane) term(i + lane, lane);
  for (; i < n; ++i) term(i, i % 8);
  *dot = ((dk[0] + dk[1]) + (dk[2] + dk[3])) + ((dk[4] + dk[5]) + (dk[6] + dk[7]));
  *abs = ((ak[0] + ak[1]) + (ak[2] + ak[3])) + ((ak[4] + ak[5]) + (ak[6] + ak[7]));
}

// torch's ops in order (coupled decay first: g.add_(w, α=λ)): m.mul_(β₁).add_(g, α=d(1−β₁));
// v.mul_(β₂).addcmul_(g, g, value=d²(1−β₂)); s.mul_(β₃).add_(g, α=c); then (Update) denom =
// √v + d_new·ε, the decoupled decay w.add_(w, α=−λ·dlr), and w.addcdiv_(m, denom, value=−dlr)
// (β₁ = 0: addcdiv_(g, denom, −dlr·d_new)), which torch does not fuse: self + value·t1/t2.
template <bool Coupled, bool Momentum, bool Update, bool Decay>
PRODIGY_DISPATCH static void StepLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict s,
                                      float* __restrict p0, float* __restrict m, float* __restrict v, bool first,
                                      size_t n, float l2, float b1, float c1, float b2, float c2, float b3, float sc,
                                      float dEps, float decay, float stepCoef) {
  for (size_t i = 0; i < n; ++i) {
    float wi = w[i];
    if (first) p0[i] = wi;
    float gi = g[i] * gs;
    if (Coupled) gi = std::fma(wi, l2, gi);
    if (Momentum) m[i] = std::fma(gi, c1, m[i] * b1);
    v[i] = std::fma(c2 * gi, gi, v[i] * b2);
    s[i] = std::fma(gi, sc, s[i] * b3);
    if (Update) {
      float denom = std::sqrt(v[i]) + dEps;
      if (Decay) wi = std::fma(wi, decay, wi);
      float t = stepCoef * (Momentum ? m[i] : gi);
      w[i] = wi + t / denom;
    }
  }
}

template <bool Coupled, bool Momentum>
void Loop(bool update, bool decay, float* w, const float* g, float gs, float* s, float* p0, float* m, float* v,
          bool first, size_t n, float l2, float b1, float c1, float b2, float c2, float b3, float sc, float dEps,
          float decayCoef, float stepCoef) {
  auto loop = update ? (decay ? StepLoop<Coupled, Momentum, true, true> : StepLoop<Coupled, Momentum, true, false>)
                     : StepLoop<Coupled, Momentum, false, false>;
  loop(w, g, gs, s, p0, m, v, first, n, l2, b1, c1, b2, c2, b3, sc, dEps, decayCoef, stepCoef);
}

}  // namespace

void ProdigyPartial(const RuleArgs& a, double* sums) {
  const double* s = a.scalars;
  sums[0] = sums[1] = 0;
  if (!(s[kLr] > 0)) return;  // the reference's group_lr > 0: no statistics (and no update)
  Estimate e = Read(a);
  bool coupled = s[kDecay] != 0 && s[kDecouple] == 0;
  double dot = 0, abs = 0;
  auto loop = coupled ? PartialLoop<true> : PartialLoop<false>;
  loop(a.w, a.g, a.gradScale, a.buffers[1], a.buffers[2], s[kFirst] != 0, a.size(), float(s[kDecay]),
       float(s[kBeta3]), e.sCoef, &dot, &abs);
  sums[0] = e.numCoef * dot;
  sums[1] = abs;
}

void ProdigyStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t n = a.size();
  bool first = s[kFirst] != 0;
  float* p0 = a.buffers[2];
  if (!(s[kLr] > 0)) {
    // The reference makes the state (p0) on a parameter's first step whatever the lr; nothing else.
    if (first) for (size_t i = 0; i < n; ++i) p0[i] = a.w[i];
    return;
  }
  Estimate e = Read(a);
  double numerator = a.group[0], denominator = a.group[1];
  // A zero denominator (every s of the group zero): the reference returns after the moments,
  // without moving W or changing d.
  bool update = denominator != 0;
  double d = e.d;
  if (update) {
    double d0 = s[kD0];
    double globalNumerator = e.dNumerator * s[kBeta3] + numerator;
    double dHat = s[kDCoef] * globalNumerator / denominator;
    double dMax = e.dMax;
    if (d == d0) d = dHat > d ? dHat : d;  // Python's max(d, d_hat)
    dMax = dHat > dMax ? dHat : dMax;
    double grown = d * s[kGrowth];
    d = grown < dMax ? grown : dMax;  // Python's min(d_max, d * growth_rate)
    float* st = a.buffers[0];
    StorePair(st, d == d0 ? 0.0 : d);
    StorePair(st + 2, dMax);
    StorePair(st + 4, globalNumerator);
    StorePair(st + 6, e.k + 1);
  }
  bool coupled = s[kDecay] != 0 && s[kDecouple] == 0;
  bool decay = s[kDecay] != 0 && s[kDecouple] != 0;
  bool momentum = s[kBeta1] > 0;
  float* m = momentum ? a.buffers[4] : nullptr;
  double b1 = s[kBeta1], b2 = s[kBeta2];
  float stepCoef = float(momentum ? -e.dlr : -e.dlr * d);
  auto loop = coupled ? (momentum ? Loop<true, true> : Loop<true, false>) : (momentum ? Loop<false, true> : Loop<false, false>);
  loop(update, decay, a.w, a.g, a.gradScale, a.buffers[1], p0, m, a.buffers[3], first, n, float(s[kDecay]), float(b1),
       float(e.d * (1 - b1)), float(b2), float(e.d * e.d * (1 - b2)), float(s[kBeta3]), e.sCoef, float(d * s[kEps]),
       float(-s[kDecay] * e.dlr), stepCoef);
}

}  // namespace specopt
