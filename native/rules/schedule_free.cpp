// Schedule-Free AdamW and SGD (Defazio et al. 2024) as facebookresearch/schedule_free's
// AdamWScheduleFree and SGDScheduleFree step (adamw_schedulefree.py, sgd_schedulefree.py): the
// parameter holds y, the state z; x is never stored (opt.eval() writes it into the parameter).
// Their float32 operations in the reference's order: torch's lerp_, add_(alpha=) and sub_(alpha=)
// and addcmul_ are single fused multiply-adds on the CPU (measured on torch 2.13: every result
// equals the correctly rounded a + b·c), written here as std::fma; nothing else is fused
// (contraction is off in this file).
//
// The reference's group values (k, lr_max, weight_sum) live in each state: k is the state's step,
// lr_max and weight_sum are float64 numbers kept as float pairs (LoadPair/StorePair) in the
// state's 'group' buffer, whose last float is the mode (0 train, 1 eval).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "../common.hpp"
#include "../kernels.hpp"
#include "rules.hpp"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace specopt {

namespace {

// torch.lerp(self, end, weight) on float32 (ATen's lerp): self + w·(end − self) when |w| < 0.5,
// else end − (end − self)·(1 − w), each one fused multiply-add. (1 − w and w − 1 round alike.)
// Low: |w| < 0.5, decided once per step by the caller (a branch per entry would keep the loops
// from vectorising).
template <bool Low>
inline float Lerp(float self, float end, float w) {
  float d = end - self;
  return Low ? std::fma(w, d, self) : std::fma(w - 1.0f, d, end);
}

// The group values of step t = k + 1: lr_max = max(lr, lr_max), weight = (k+1)^r·lr_max^power,
// weight_sum += weight; returns ckp1 = weight/weight_sum (0 when weight_sum is 0, as the
// reference's ZeroDivisionError branch). The state's lr_max starts at 0 where the reference's
// starts at −1: max(lr, ·) with lr ≥ 0 gives the same. std::pow is the C pow Python's ** calls.
double Average(float* group, double lr, double t, double r, double power) {
  double lrMax = std::max(lr, LoadPair(group));
  double weight = std::pow(t, r) * std::pow(lrMax, power);
  double sum = LoadPair(group + 2) + weight;
  StorePair(group, lrMax);
  StorePair(group + 2, sum);
  return sum != 0 ? weight / sum : 0.0;
}

void CheckTrainMode(const RuleArgs& a, size_t groupBuffer, const char* rule) {
  if (a.buffers[groupBuffer][4] != 0) {
    throw ComputeError(std::string(rule) +
                           ": the state is in eval mode (the parameter holds x); call train(param, state) "
                           "(or trainMode(entries)) before stepping",
                       true);
  }
}

template <bool Decay, bool Low>
SPECOPT_DISPATCH static void SfAdamwLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict z,
                                         float* __restrict v, size_t n, bool first, float b2, float c2, float bc2,
                                         float eps, float decay, float ckp1, float alpha, float lr) {
  for (size_t i = 0; i < n; ++i) {
    float y = w[i];
    float gi = g[i] * gs;  // the clipping factor (1: exact)
    float zi = first ? y : z[i];  // state['z'] = clone(p) on the first step
    float vi = v[i] * b2;                // exp_avg_sq.mul_(beta2)
    vi = std::fma(c2 * gi, gi, vi);      // .addcmul_(grad, grad, value=1 - beta2)
    v[i] = vi;
    float denom = std::sqrt(vi / bc2) + eps;  // div(bias_correction2).sqrt_().add_(eps)
    float gn = gi / denom;
    if constexpr (Decay) gn = std::fma(decay, y, gn);  // add_(y, alpha=decay)
    float yn = Lerp<Low>(y, zi, ckp1);                  // y.lerp_(z, ckp1)
    yn = std::fma(alpha, gn, yn);                       // y.add_(gn, alpha=lr·(β₁(1 − ckp1) − 1))
    z[i] = std::fma(-lr, gn, zi);                       // z.sub_(gn, alpha=lr)
    w[i] = yn;
  }
}

template <bool Decay, bool Low>
SPECOPT_DISPATCH static void SfSgdLoop(float* __restrict w, const float* __restrict g, float gs, float* __restrict z,
                                       size_t n, bool first, float decay, float ckp1, float alpha, float lr) {
  for (size_t i = 0; i < n; ++i) {
    float y = w[i];
    float zi = first ? y : z[i];
    float gi = g[i] * gs;  // the clipping factor (1: exact)
    float d = Decay ? std::fma(decay, y, gi) : gi;  // grad.add_(y, alpha=weight_decay)
    float yn = Lerp<Low>(y, zi, ckp1);
    yn = std::fma(alpha, d, yn);   // y.add_(grad, alpha=lr·(momentum(1 − ckp1) − 1))
    z[i] = std::fma(-lr, d, zi);   // z.sub_(grad, alpha=lr)
    w[i] = yn;
  }
}

}  // namespace

void ScheduleFreeAdamwCheck(const RuleArgs& a) { CheckTrainMode(a, 2, "schedule-free-adamw"); }
void ScheduleFreeSgdCheck(const RuleArgs& a) { CheckTrainMode(a, 1, "schedule-free-sgd"); }

// scalars: lr (times the warm-up factor), beta1, beta2, eps, weightDecay, r, weightLrPower, t,
//          then Prepare's: ckp1, bias correction 2
// buffers: [z, expAvgSq, group (5)]
void ScheduleFreeAdamwPrepare(const RuleArgs& a, double* s) {
  double t = s[7];
  s[8] = Average(a.buffers[2], s[0], t, s[5], s[6]);
  s[9] = 1.0 - std::pow(s[2], t);
}

void ScheduleFreeAdamwStep(const RuleArgs& a) {
  const double* s = a.scalars;
  double lr = s[0], beta1 = s[1], beta2 = s[2], t = s[7], ckp1 = s[8], bc2 = s[9];
  double alpha = lr * (beta1 * (1.0 - ckp1) - 1.0);
  bool decay = s[4] != 0;
  bool low = std::fabs(float(ckp1)) < 0.5f;
  auto loop = decay ? (low ? SfAdamwLoop<true, true> : SfAdamwLoop<true, false>)
                    : (low ? SfAdamwLoop<false, true> : SfAdamwLoop<false, false>);
  loop(a.w, a.g, a.gradScale, a.buffers[0], a.buffers[1], a.size(), t == 1, float(beta2), float(1.0 - beta2),
       float(bc2), float(s[3]), float(s[4]), float(ckp1), float(alpha), float(lr));
}

// scalars: lr (times the warm-up factor), momentum, weightDecay, r, weightLrPower, t, then
//          Prepare's: ckp1
// buffers: [z, group (5)]
void ScheduleFreeSgdPrepare(const RuleArgs& a, double* s) { s[6] = Average(a.buffers[1], s[0], s[5], s[3], s[4]); }

void ScheduleFreeSgdStep(const RuleArgs& a) {
  const double* s = a.scalars;
  double lr = s[0], momentum = s[1], t = s[5], ckp1 = s[6];
  double alpha = lr * (momentum * (1.0 - ckp1) - 1.0);
  bool low = std::fabs(float(ckp1)) < 0.5f;
  auto loop = s[2] != 0 ? (low ? SfSgdLoop<true, true> : SfSgdLoop<true, false>)
                        : (low ? SfSgdLoop<false, true> : SfSgdLoop<false, false>);
  loop(a.w, a.g, a.gradScale, a.buffers[0], a.size(), t == 1, float(s[2]), float(ckp1), float(alpha), float(lr));
}

}  // namespace specopt
