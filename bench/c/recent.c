// The yardsticks of issue 12's rules: each rule's update, with default hyperparameters, as a plain
// one-thread float32 C loop with the passes the rule needs and the memory traffic a fused
// implementation must have (the comment above each loop says what it reads and writes).
// Written from ../shared/ALGORITHMS.md ("Recent rules") and the reference implementations (read at
// these commits, never copied):
//   lion                  lucidrains/lion-pytorch lion_pytorch.py (Lion), 6a74fdc
//   lamb                  optax (google-deepmind/optax 2edbcbe) lamb: scale_by_adam,
//                         add_decayed_weights, scale_by_trust_ratio, scale_by_learning_rate
//   ademamix              apple/ml-ademamix pytorch/ademamix.py (AdEMAMix), c3d73c0
//   sf_adamw, sf_sgd      facebookresearch/schedule_free adamw_schedulefree.py, sgd_schedulefree.py, 70785b5
//   prodigy               konstmish/prodigy prodigyopt/prodigy.py (Prodigy), 3efb213
//   *_cautious            the mask of lucidrains/lion-pytorch cautious_lion.py (cautiousFactor 0):
//                         s = 1 where update·g > 0, else 0; s ← s / max(mean(s), 1e-5)
//   adam_cautious, adamw_cautious, sgd_momentum_cautious: torch.optim's Adam / AdamW / SGD
//                         (momentum 0.9) in the order of native/rules/first_order.cpp, masked
//   adamw                 the control: plain AdamW, a rule specopt already has (bench/c/adamw.c's loop)
//
// Built and run by bench/rules.mjs:
//   gcc -O3 -march=native -fno-math-errno -pthread -o bench/c/bin/recent bench/c/recent.c -lm
//   bench/c/bin/recent [--rows=R] [--cols=C] [--gap=S] [--budget=S] [--min-reps=N] OP ...
//   bench/c/bin/recent --trace=K [--rows=R] [--cols=C] OP ...
// OPs: lion lion_cautious lamb lamb_cautious ademamix ademamix_cautious sf_adamw sf_sgd prodigy
// adam_cautious adamw_cautious sgd_momentum_cautious adamw, or all. Each op starts from the rule's
// fresh state (zeros; z and p0 copies of W), takes one untimed warm-up step, then timed steps.
// Prints one JSON object per line on stdout: {"op", "shape", "best_s", "median_s", "reps",
// "bytes", "gbps", "passes", "state_bytes"} ("bytes": what one step reads plus writes, each array
// counted once per pass that touches it; "state_bytes": the rule's state arrays).
// --trace=K: no timing; K steps on the given (small) shape, then one JSON line per op with the
// starting W, the K gradients ("gs"), and W and every state array after the K steps, as %.9g
// (exact float32), for bench/c/recent_check.py (against the reference implementations in float64)
// and for bench/rules.mjs (against specopt). Step k's gradient is c·G + N_k with c = 0.5 for odd
// k, 1 for even k, and N_k fresh Gaussian noise of G's scale: a common direction (so Prodigy's d
// moves) and sign changes between steps (so the cautious masks are not all ones).
//
// As bench/c/adamw.c: single thread, -march=native, no -ffast-math (the reductions are written
// with explicit lanes so that they vectorise without reassociation). Every timed call is preceded
// by an untimed pass over G, and with --gap=S the timed call starts S seconds after that pass began
// (the time the JavaScript side's pass takes). The pass negates G (exact), where bench/optim.mjs
// rescales it by 0.5 and 2 alternately: under a gradient of fixed sign (a linear loss) Prodigy's d
// grows geometrically and its state overflows float32 within ~100 steps; alternating signs keep
// every rule's state bounded (Prodigy's d stays near d0) for the same work per step.
// The loops do not scan G for non-finite values (specopt does, before any write): the convention
// of the AdamW target in bench/optim.mjs. Per-step scalars are computed in double and rounded to
// float, as specopt's rules compute theirs (scalars(h, t) in float64).
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---------------------------------------------------------------- inputs

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t next_u64(void) {  // SplitMix64
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double uniform(void) { return ((double)(next_u64() >> 11) + 0.5) * 0x1.0p-53; }
static void randn(float* x, size_t count, float scale) {
  for (size_t i = 0; i < count; i += 2) {
    double r = sqrt(-2.0 * log(uniform())), t = 2.0 * M_PI * uniform();
    x[i] = scale * (float)(r * cos(t));
    if (i + 1 < count) x[i + 1] = scale * (float)(r * sin(t));
  }
}
static float* alloc(size_t count) {
  float* p = malloc(count * sizeof(float));
  if (!p) {
    fprintf(stderr, "recent: out of memory\n");
    exit(1);
  }
  return p;
}

// ---------------------------------------------------------------- helpers of the loops

static inline float sgn(float x) { return (float)((x > 0.0f) - (x < 0.0f)); }  // torch.sign: sign(0) = 0

// Reductions in double with LANES independent partial sums: a plain loop the compiler can
// vectorise without -ffast-math (each lane is summed in order; the lanes are added at the end).
#define LANES 8
static double fold(const double* lane) {
  double s = 0;
  for (int j = 0; j < LANES; ++j) s += lane[j];
  return s;
}

// The cautious scale for cautiousFactor 0: 1/max(mean(mask), 1e-5), in double, rounded to float.
static float cautious_scale(size_t count, size_t n) {
  double mean = (double)count / (double)n;
  return (float)(1.0 / (mean > 1e-5 ? mean : 1e-5));
}

// ---------------------------------------------------------------- state

typedef struct {
  size_t n;
  float* w;     // the parameter (y for schedule-free)
  float* g;     // the gradient
  float* s[4];  // the rule's state arrays
  long t;       // steps taken
  long flips;   // passes over G so far
  // scalar state, kept in double as the references keep them (Python floats)
  double weightSum, lrMax;     // schedule-free
  double d, dMax, dNumerator;  // prodigy
} Ctx;

// ---------------------------------------------------------------- lion
// lr 1e-4, betas (0.9, 0.99), weightDecay 0 (decoupled: W ← W·(1 − lr·λ)).

static const double LION_LR = 1e-4, LION_B1 = 0.9, LION_B2 = 0.99, LION_WD = 0;

// Reads W, G, m; writes W, m (5 arrays). lion_pytorch.py's update_fn, in its order.
__attribute__((noinline)) static void lion_loop(float* restrict w, const float* restrict g, float* restrict m,
                                                size_t n, float keep, float lr, float b1, float c1, float b2,
                                                float c2) {
  for (size_t i = 0; i < n; ++i) {
    float gi = g[i], mi = m[i];
    float u = sgn(mi * b1 + gi * c1);
    w[i] = w[i] * keep - lr * u;
    m[i] = mi * b2 + gi * c2;
  }
}

// Counting pass: reads G, m (2 arrays), writes nothing: how many u·g > 0.
__attribute__((noinline)) static size_t lion_count(const float* restrict g, const float* restrict m, size_t n,
                                                   float b1, float c1) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) count += sgn(m[i] * b1 + g[i] * c1) * g[i] > 0.0f;
  return count;
}

// Writing pass of the cautious form: reads W, G, m; writes W, m (5 arrays).
__attribute__((noinline)) static void lion_cautious_loop(float* restrict w, const float* restrict g,
                                                         float* restrict m, size_t n, float keep, float lr,
                                                         float b1, float c1, float b2, float c2, float scale) {
  for (size_t i = 0; i < n; ++i) {
    float gi = g[i], mi = m[i];
    float u = sgn(mi * b1 + gi * c1);
    float s = u * gi > 0.0f ? scale : 0.0f;
    w[i] = w[i] * keep - lr * (u * s);
    m[i] = mi * b2 + gi * c2;
  }
}

static void lion_scalars(float* keep, float* lr, float* b1, float* c1, float* b2, float* c2) {
  *keep = (float)(1.0 - LION_LR * LION_WD), *lr = (float)LION_LR, *b1 = (float)LION_B1;
  *c1 = (float)(1.0 - LION_B1), *b2 = (float)LION_B2, *c2 = (float)(1.0 - LION_B2);
}
static void step_lion(Ctx* c) {
  float keep, lr, b1, c1, b2, c2;
  lion_scalars(&keep, &lr, &b1, &c1, &b2, &c2);
  ++c->t;
  lion_loop(c->w, c->g, c->s[0], c->n, keep, lr, b1, c1, b2, c2);
}
static void step_lion_cautious(Ctx* c) {
  float keep, lr, b1, c1, b2, c2;
  lion_scalars(&keep, &lr, &b1, &c1, &b2, &c2);
  ++c->t;
  float scale = cautious_scale(lion_count(c->g, c->s[0], c->n, b1, c1), c->n);
  lion_cautious_loop(c->w, c->g, c->s[0], c->n, keep, lr, b1, c1, b2, c2, scale);
}

// ---------------------------------------------------------------- lamb
// optax lamb: lr 1e-3, b1 0.9, b2 0.999, eps 1e-6, eps_root 0, weightDecay 0.
//   m ← (1 − b1)g + b1·m; v ← (1 − b2)g² + b2·v; u = (m/(1 − b1ᵗ))/(√(v/(1 − b2ᵗ)) + eps) + λW;
//   r = ‖W‖/‖u‖ (1 when either is 0); W ← W − lr·r·u.
// Two passes: the norms must be known before the first write.

static const double LAMB_LR = 1e-3, LAMB_B1 = 0.9, LAMB_B2 = 0.999, LAMB_EPS = 1e-6, LAMB_WD = 0;

typedef struct {
  float b1, c1, b2, c2, bc1, bc2, eps, wd;
} LambScalars;

static LambScalars lamb_scalars(long t) {
  LambScalars s = {(float)LAMB_B1, (float)(1.0 - LAMB_B1), (float)LAMB_B2, (float)(1.0 - LAMB_B2),
                   (float)(1.0 - pow(LAMB_B1, (double)t)), (float)(1.0 - pow(LAMB_B2, (double)t)),
                   (float)LAMB_EPS, (float)LAMB_WD};
  return s;
}

static inline float lamb_u(const LambScalars* s, float wi, float mn, float vn) {
  return (mn / s->bc1) / (sqrtf(vn / s->bc2) + s->eps) + s->wd * wi;
}

// Pass 1: reads W, G, m, v (4 arrays), writes nothing: Σ W², Σ u² (and, cautious, the count of
// u·g > 0 and Σ u² over those entries: the norm of the masked update, ‖s·u‖ = √(Σ_mask u²)·scale).
// Cautious lamb masks u before the trust ratio, so the mask's mean normalisation cancels in
// r·s·u = ‖W‖·(mask·u)/√(Σ_mask u²); its counting costs no pass of its own (the norms pass has it).
__attribute__((noinline)) static void lamb_norms(const float* restrict w, const float* restrict g,
                                                 const float* restrict m, const float* restrict v, size_t n,
                                                 const LambScalars* s, int cautious, double* w2, double* u2,
                                                 size_t* count) {
  double lw[LANES] = {0}, lu[LANES] = {0}, lc[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    for (int j = 0; j < LANES; ++j) {
      float wi = w[i + j], gi = g[i + j];
      float mn = s->c1 * gi + s->b1 * m[i + j];
      float vn = s->c2 * (gi * gi) + s->b2 * v[i + j];
      float u = lamb_u(s, wi, mn, vn);
      float keep = cautious ? (u * gi > 0.0f ? 1.0f : 0.0f) : 1.0f;
      lc[j] += (double)keep;
      lw[j] += (double)wi * (double)wi;
      lu[j] += (double)(keep * u) * (double)(keep * u);
    }
  }
  for (; i < n; ++i) {
    float wi = w[i], gi = g[i];
    float mn = s->c1 * gi + s->b1 * m[i];
    float vn = s->c2 * (gi * gi) + s->b2 * v[i];
    float u = lamb_u(s, wi, mn, vn);
    float keep = cautious ? (u * gi > 0.0f ? 1.0f : 0.0f) : 1.0f;
    lc[0] += (double)keep;
    lw[0] += (double)wi * (double)wi;
    lu[0] += (double)(keep * u) * (double)(keep * u);
  }
  *w2 = fold(lw), *u2 = fold(lu), *count = (size_t)fold(lc);
}

// Pass 2: reads W, G, m, v; writes W, m, v (7 arrays). step = lr·r (·scale, cautious).
__attribute__((noinline)) static void lamb_loop(float* restrict w, const float* restrict g, float* restrict m,
                                                float* restrict v, size_t n, const LambScalars* s, int cautious,
                                                float step) {
  for (size_t i = 0; i < n; ++i) {
    float wi = w[i], gi = g[i];
    float mn = s->c1 * gi + s->b1 * m[i];
    float vn = s->c2 * (gi * gi) + s->b2 * v[i];
    m[i] = mn;
    v[i] = vn;
    float u = lamb_u(s, wi, mn, vn);
    if (cautious) u = u * gi > 0.0f ? u : 0.0f;
    w[i] = wi - step * u;
  }
}

static void lamb_any(Ctx* c, int cautious) {
  LambScalars s = lamb_scalars(++c->t);
  double w2, u2;
  size_t count;
  lamb_norms(c->w, c->g, c->s[0], c->s[1], c->n, &s, cautious, &w2, &u2, &count);
  double scale = cautious ? (double)cautious_scale(count, c->n) : 1.0;
  double pn = sqrt(w2), un = sqrt(u2) * scale;
  double ratio = pn == 0 || un == 0 ? 1.0 : pn / un;
  lamb_loop(c->w, c->g, c->s[0], c->s[1], c->n, &s, cautious, (float)(LAMB_LR * ratio * scale));
}
static void step_lamb(Ctx* c) { lamb_any(c, 0); }
static void step_lamb_cautious(Ctx* c) { lamb_any(c, 1); }

// ---------------------------------------------------------------- ademamix
// lr 1e-3, betas (0.9, 0.999, 0.9999), alpha 2, no warm-ups, eps 1e-8, weightDecay 0:
//   m1 ← β1·m1 + (1 − β1)g; m2 ← β3·m2 + (1 − β3)g; v ← β2·v + (1 − β2)g²;
//   u = (m1/(1 − β1ᵗ) + α·m2)/(√v/√(1 − β2ᵗ) + eps) + λW; W ← W − lr·u.

static const double AM_LR = 1e-3, AM_B1 = 0.9, AM_B2 = 0.999, AM_B3 = 0.9999, AM_ALPHA = 2, AM_EPS = 1e-8,
                    AM_WD = 0;

typedef struct {
  float b1, c1, b2, c2, b3, c3, bc1, sqrtBc2, alpha, eps, wd, lr;
} AmScalars;

static AmScalars am_scalars(long t) {
  AmScalars s = {(float)AM_B1, (float)(1.0 - AM_B1), (float)AM_B2, (float)(1.0 - AM_B2), (float)AM_B3,
                 (float)(1.0 - AM_B3), (float)(1.0 - pow(AM_B1, (double)t)),
                 (float)sqrt(1.0 - pow(AM_B2, (double)t)), (float)AM_ALPHA, (float)AM_EPS, (float)AM_WD,
                 (float)AM_LR};
  return s;
}

// Counting pass of the cautious form: reads G, m1, m2 (3 arrays). The denominator is positive,
// so sign(u) = sign(m1/(1 − β1ᵗ) + α·m2) when λ = 0 (the default; λ ≠ 0 would need W and v too).
__attribute__((noinline)) static size_t am_count(const float* restrict g, const float* restrict m1,
                                                 const float* restrict m2, size_t n, const AmScalars* s) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    float gi = g[i];
    float f = m1[i] * s->b1 + gi * s->c1;
    float sl = m2[i] * s->b3 + gi * s->c3;
    count += (f / s->bc1 + s->alpha * sl) * gi > 0.0f;
  }
  return count;
}

// Reads W, G, m1, m2, v; writes W, m1, m2, v (9 arrays). ademamix.py's order.
__attribute__((noinline)) static void am_loop(float* restrict w, const float* restrict g, float* restrict m1,
                                              float* restrict m2, float* restrict v, size_t n, const AmScalars* s,
                                              int cautious, float scale) {
  for (size_t i = 0; i < n; ++i) {
    float gi = g[i], wi = w[i];
    float f = m1[i] * s->b1 + gi * s->c1;
    float sl = m2[i] * s->b3 + gi * s->c3;
    float vn = v[i] * s->b2 + gi * gi * s->c2;
    m1[i] = f, m2[i] = sl, v[i] = vn;
    float num = f / s->bc1 + s->alpha * sl;
    float u = num / (sqrtf(vn) / s->sqrtBc2 + s->eps) + s->wd * wi;
    if (cautious) u = num * gi > 0.0f ? u * scale : 0.0f;
    w[i] = wi + -s->lr * u;
  }
}

static void step_ademamix(Ctx* c) {
  AmScalars s = am_scalars(++c->t);
  am_loop(c->w, c->g, c->s[0], c->s[1], c->s[2], c->n, &s, 0, 1.0f);
}
static void step_ademamix_cautious(Ctx* c) {
  AmScalars s = am_scalars(++c->t);
  float scale = cautious_scale(am_count(c->g, c->s[0], c->s[1], c->n, &s), c->n);
  am_loop(c->w, c->g, c->s[0], c->s[1], c->s[2], c->n, &s, 1, scale);
}

// ---------------------------------------------------------------- schedule-free
// The per-step scalars of the reference (warmupSteps 0: sched = 1; r 0, weightLrPower 2):
//   lr_max = max(lr, lr_max); weight = (k+1)^r·lr_max^power; Σ += weight; c = weight/Σ.
// y ← y + c(z − y) (torch.lerp: z − (z − y)(1 − c) when c ≥ 0.5); y ← y + lr(β(1 − c) − 1)·ĝ;
// z ← z − lr·ĝ; ĝ = g/(√(v/(1 − β2^(k+1))) + eps) (AdamW) or g (SGD), + λy.

static const double SFA_LR = 0.0025, SFA_B1 = 0.9, SFA_B2 = 0.999, SFA_EPS = 1e-8, SFA_WD = 0;
static const double SFS_LR = 1.0, SFS_MOM = 0.9, SFS_WD = 0;
static const double SF_R = 0, SF_POWER = 2;

static double sf_ckp1(Ctx* c, double lr) {
  long k = c->t++;
  c->lrMax = lr > c->lrMax ? lr : c->lrMax;
  double weight = pow((double)(k + 1), SF_R) * pow(c->lrMax, SF_POWER);
  c->weightSum += weight;
  return c->weightSum ? weight / c->weightSum : 0.0;
}

static inline float lerp(float a, float b, float wt) {  // torch.lerp's two forms
  return wt < 0.5f ? a + wt * (b - a) : b - (b - a) * (1.0f - wt);
}

// Reads y, G, z, v; writes y, z, v (7 arrays).
__attribute__((noinline)) static void sfa_loop(float* restrict y, const float* restrict g, float* restrict z,
                                               float* restrict v, size_t n, float b2, float c2, float bc2,
                                               float eps, float wd, float ckp1, float yCoef, float lr) {
  for (size_t i = 0; i < n; ++i) {
    float gi = g[i], yi = y[i], zi = z[i];
    float vn = v[i] * b2 + gi * gi * c2;
    v[i] = vn;
    float gn = gi / (sqrtf(vn / bc2) + eps) + wd * yi;
    yi = lerp(yi, zi, ckp1);
    y[i] = yi + gn * yCoef;
    z[i] = zi - lr * gn;
  }
}
static void step_sf_adamw(Ctx* c) {
  long k = c->t;
  double ckp1 = sf_ckp1(c, SFA_LR);
  sfa_loop(c->w, c->g, c->s[0], c->s[1], c->n, (float)SFA_B2, (float)(1.0 - SFA_B2),
           (float)(1.0 - pow(SFA_B2, (double)(k + 1))), (float)SFA_EPS, (float)SFA_WD, (float)ckp1,
           (float)(SFA_LR * (SFA_B1 * (1.0 - ckp1) - 1.0)), (float)SFA_LR);
}

// Reads y, G, z; writes y, z (5 arrays).
__attribute__((noinline)) static void sfs_loop(float* restrict y, const float* restrict g, float* restrict z,
                                               size_t n, float wd, float ckp1, float yCoef, float lr) {
  for (size_t i = 0; i < n; ++i) {
    float yi = y[i], zi = z[i];
    float gn = g[i] + wd * yi;
    yi = lerp(yi, zi, ckp1);
    y[i] = yi + gn * yCoef;
    z[i] = zi - lr * gn;
  }
}
static void step_sf_sgd(Ctx* c) {
  double ckp1 = sf_ckp1(c, SFS_LR);
  sfs_loop(c->w, c->g, c->s[0], c->n, (float)SFS_WD, (float)ckp1, (float)(SFS_LR * (SFS_MOM * (1.0 - ckp1) - 1.0)),
           (float)SFS_LR);
}

// ---------------------------------------------------------------- prodigy
// lr 1, betas (0.9, 0.999), beta3 = √β2, eps 1e-8, weightDecay 0 (decoupled), no bias correction,
// no safeguard warm-up, d0 1e-6, dCoef 1, growthRate ∞. With dlr = d·lr and q = (d/d0)·dlr:
//   s' = β3·s + q·g; numerator ← β3·numerator + q·Σ g·(p0 − W); d̂ = dCoef·numerator/Σ|s'|;
//   d_new = min(d_max', d_grown) as the reference; m ← β1·m + d(1 − β1)g; v ← β2·v + d²(1 − β2)g²;
//   W ← W − dlr·m/(√v + d_new·eps)  (d and dlr: the step's old d; the denominator: the new d).
// Two passes: d_new depends on sums over the whole parameter (the group), the writes on d_new.

static const double PR_LR = 1, PR_B1 = 0.9, PR_B2 = 0.999, PR_EPS = 1e-8, PR_D0 = 1e-6, PR_DCOEF = 1;
#define PR_GROWTH INFINITY

// Pass 1: reads G, p0, W, s (4 arrays), writes nothing: Σ g·(p0 − W) and Σ|β3·s + q·g|.
__attribute__((noinline)) static void prodigy_sums(const float* restrict g, const float* restrict p0,
                                                   const float* restrict w, const float* restrict s, size_t n,
                                                   float beta3, float q, double* dot, double* abs) {
  double ld[LANES] = {0}, la[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES) {
    for (int j = 0; j < LANES; ++j) {
      float gi = g[i + j];
      ld[j] += (double)gi * (double)(p0[i + j] - w[i + j]);
      la[j] += (double)fabsf(s[i + j] * beta3 + gi * q);
    }
  }
  for (; i < n; ++i) {
    ld[0] += (double)g[i] * (double)(p0[i] - w[i]);
    la[0] += (double)fabsf(s[i] * beta3 + g[i] * q);
  }
  *dot = fold(ld), *abs = fold(la);
}

// Pass 2: reads W, G, m, v, s; writes W, m, v, s (9 arrays).
__attribute__((noinline)) static void prodigy_loop(float* restrict w, const float* restrict g, float* restrict m,
                                                   float* restrict v, float* restrict s, size_t n, float b1,
                                                   float mCoef, float b2, float vCoef, float beta3, float q,
                                                   float dEps, float dlr) {
  for (size_t i = 0; i < n; ++i) {
    float gi = g[i];
    float mn = m[i] * b1 + gi * mCoef;
    float vn = v[i] * b2 + gi * gi * vCoef;
    m[i] = mn, v[i] = vn;
    s[i] = s[i] * beta3 + gi * q;
    w[i] = w[i] - dlr * (mn / (sqrtf(vn) + dEps));
  }
}

static void step_prodigy(Ctx* c) {
  double beta3 = sqrt(PR_B2), d = c->d, dlr = d * PR_LR, q = (d / PR_D0) * dlr;
  double dot, abs;
  prodigy_sums(c->g, c->s[3], c->w, c->s[2], c->n, (float)beta3, (float)q, &dot, &abs);
  // The reference returns here, before its second loop, keeping its scalars (its first loop has
  // written m, v and s by then: this read-only pass has not; only an all-zero G gets here).
  if (abs == 0) return;
  ++c->t;
  c->dNumerator = c->dNumerator * beta3 + q * dot;
  double dHat = PR_DCOEF * c->dNumerator / abs;
  double dNew = d;
  if (d == PR_D0) dNew = dNew > dHat ? dNew : dHat;
  c->dMax = c->dMax > dHat ? c->dMax : dHat;
  dNew = c->dMax < dNew * PR_GROWTH ? c->dMax : dNew * PR_GROWTH;
  c->d = dNew;
  prodigy_loop(c->w, c->g, c->s[0], c->s[1], c->s[2], c->n, (float)PR_B1, (float)(d * (1.0 - PR_B1)), (float)PR_B2,
               (float)(d * d * (1.0 - PR_B2)), (float)beta3, (float)q, (float)(dNew * PR_EPS), (float)dlr);
}

// ---------------------------------------------------------------- adam, adamw, sgd with momentum, cautious
// Adam/AdamW as native/rules/first_order.cpp's AdamLoop (bench/c/adamw.c): adam lr 1e-3, betas
// (0.9, 0.999), eps 1e-8, weightDecay 0 (L2, so nothing here); adamw the same with weightDecay 1e-2
// (decoupled: keep = 1 − lr·λ). u = m/(√v/√(1 − β2ᵗ) + eps), W ← W·keep − (lr/(1 − β1ᵗ))·(u·s).
// The counting pass reads G and m only: the denominator is positive, so sign(u) = sign(m).

static const double AD_LR = 1e-3, AD_B1 = 0.9, AD_B2 = 0.999, AD_EPS = 1e-8;

// Counting pass: reads G, m (2 arrays).
__attribute__((noinline)) static size_t adam_count(const float* restrict g, const float* restrict m, size_t n,
                                                   float c1) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) count += (m[i] + c1 * (g[i] - m[i])) * g[i] > 0.0f;
  return count;
}

// Writing pass: reads W, G, m, v; writes W, m, v (7 arrays).
__attribute__((noinline)) static void adam_cautious_loop(float* restrict w, const float* restrict g,
                                                         float* restrict m, float* restrict v, size_t n, float c1,
                                                         float b2, float c2, float eps, float keep, float stepSize,
                                                         float bc2Sqrt, float scale) {
  for (size_t i = 0; i < n; ++i) {
    float gi = g[i];
    float mn = m[i] + c1 * (gi - m[i]);
    float vn = v[i] * b2 + c2 * gi * gi;
    m[i] = mn, v[i] = vn;
    float s = mn * gi > 0.0f ? scale : 0.0f;
    float denom = sqrtf(vn) / bc2Sqrt + eps;
    w[i] = w[i] * keep - stepSize * ((mn / denom) * s);
  }
}

static void adam_cautious_any(Ctx* c, double weightDecay) {
  long t = ++c->t;
  float c1 = (float)(1.0 - AD_B1);
  float scale = cautious_scale(adam_count(c->g, c->s[0], c->n, c1), c->n);
  adam_cautious_loop(c->w, c->g, c->s[0], c->s[1], c->n, c1, (float)AD_B2, (float)(1.0 - AD_B2), (float)AD_EPS,
                     (float)(1.0 - AD_LR * weightDecay), (float)(AD_LR / (1.0 - pow(AD_B1, (double)t))),
                     (float)sqrt(1.0 - pow(AD_B2, (double)t)), scale);
}
static void step_adam_cautious(Ctx* c) { adam_cautious_any(c, 0.0); }

// The control: plain AdamW (weightDecay 1e-2), bench/c/adamw.c's loop, one pass: reads W, G, m, v;
// writes W, m, v (7 arrays). The rule of bench/optim.mjs's AdamW target, already in specopt.
__attribute__((noinline)) static void adamw_loop(float* restrict w, const float* restrict g, float* restrict m,
                                                 float* restrict v, size_t n, float c1, float b2, float c2, float eps,
                                                 float keep, float stepSize, float bc2Sqrt) {
  for (size_t i = 0; i < n; ++i) {
    m[i] = m[i] + c1 * (g[i] - m[i]);
    v[i] = v[i] * b2 + c2 * g[i] * g[i];
    float denom = sqrtf(v[i]) / bc2Sqrt + eps;
    w[i] = w[i] * keep - stepSize * (m[i] / denom);
  }
}
static void step_adamw(Ctx* c) {
  long t = ++c->t;
  adamw_loop(c->w, c->g, c->s[0], c->s[1], c->n, (float)(1.0 - AD_B1), (float)AD_B2, (float)(1.0 - AD_B2),
             (float)AD_EPS, (float)(1.0 - AD_LR * 1e-2), (float)(AD_LR / (1.0 - pow(AD_B1, (double)t))),
             (float)sqrt(1.0 - pow(AD_B2, (double)t)));
}
static void step_adamw_cautious(Ctx* c) { adam_cautious_any(c, 1e-2); }

// SGD as torch.optim.SGD (SgdLoop of native/rules/first_order.cpp): lr 1e-3, momentum 0.9,
// dampening 0, no nesterov, weightDecay 0: b ← g on the first step, else μ·b + g; W ← W − lr·(b·s).
static const double SGD_LR = 1e-3, SGD_MOM = 0.9;

// Counting pass: reads G, b (2 arrays; G only on the first step, where b = g).
__attribute__((noinline)) static size_t sgd_count(const float* restrict g, const float* restrict b, size_t n,
                                                  float mu, int first) {
  size_t count = 0;
  if (first)
    for (size_t i = 0; i < n; ++i) count += g[i] * g[i] > 0.0f;
  else
    for (size_t i = 0; i < n; ++i) count += (mu * b[i] + g[i]) * g[i] > 0.0f;
  return count;
}

// Writing pass: reads W, G, b; writes W, b (5 arrays; b is not read on the first step).
__attribute__((noinline)) static void sgd_cautious_loop(float* restrict w, const float* restrict g,
                                                        float* restrict b, size_t n, float lr, float mu, int first,
                                                        float scale) {
  for (size_t i = 0; i < n; ++i) {
    float gi = g[i];
    float bi = first ? gi : mu * b[i] + gi;
    b[i] = bi;
    float s = bi * gi > 0.0f ? scale : 0.0f;
    w[i] = w[i] - lr * (bi * s);
  }
}
static void step_sgd_momentum_cautious(Ctx* c) {
  int first = ++c->t == 1;
  float scale = cautious_scale(sgd_count(c->g, c->s[0], c->n, (float)SGD_MOM, first), c->n);
  sgd_cautious_loop(c->w, c->g, c->s[0], c->n, (float)SGD_LR, (float)SGD_MOM, first, scale);
}

// ---------------------------------------------------------------- ops

typedef struct {
  const char* name;
  void (*step)(Ctx*);
  int nstate;                 // state arrays
  const char* state[4];       // their names (specopt's state.arrays names are the rules' own)
  int copyW;                  // index of a state array that starts as a copy of W (z, p0), or -1
  double arrays;              // rows x cols arrays read plus written per step
  const char* passes;         // what each pass reads and writes
} Op;

static const Op kOps[] = {
    {"lion", step_lion, 1, {"m"}, -1, 5, "W,G,m -> W,m"},
    {"lion_cautious", step_lion_cautious, 1, {"m"}, -1, 7, "count: G,m | W,G,m -> W,m"},
    {"lamb", step_lamb, 2, {"m", "v"}, -1, 11, "norms: W,G,m,v | W,G,m,v -> W,m,v"},
    {"lamb_cautious", step_lamb_cautious, 2, {"m", "v"}, -1, 11, "norms+count: W,G,m,v | W,G,m,v -> W,m,v"},
    {"ademamix", step_ademamix, 3, {"m1", "m2", "v"}, -1, 9, "W,G,m1,m2,v -> W,m1,m2,v"},
    {"ademamix_cautious", step_ademamix_cautious, 3, {"m1", "m2", "v"}, -1, 12,
     "count: G,m1,m2 | W,G,m1,m2,v -> W,m1,m2,v"},
    {"sf_adamw", step_sf_adamw, 2, {"z", "v"}, 0, 7, "y,G,z,v -> y,z,v"},
    {"sf_sgd", step_sf_sgd, 1, {"z"}, 0, 5, "y,G,z -> y,z"},
    {"prodigy", step_prodigy, 4, {"m", "v", "s", "p0"}, 3, 13, "sums: G,p0,W,s | W,G,m,v,s -> W,m,v,s"},
    {"adam_cautious", step_adam_cautious, 2, {"m", "v"}, -1, 9, "count: G,m | W,G,m,v -> W,m,v"},
    {"adamw_cautious", step_adamw_cautious, 2, {"m", "v"}, -1, 9, "count: G,m | W,G,m,v -> W,m,v"},
    {"sgd_momentum_cautious", step_sgd_momentum_cautious, 1, {"b"}, -1, 7, "count: G,b | W,G,b -> W,b"},
    {"adamw", step_adamw, 2, {"m", "v"}, -1, 7, "W,G,m,v -> W,m,v"},
};
#define OP_COUNT (sizeof kOps / sizeof kOps[0])

__attribute__((noinline)) static void negate(float* restrict g, size_t n) {
  for (size_t i = 0; i < n; ++i) g[i] = -g[i];
}
static void vary_gradient(Ctx* c) {
  ++c->flips;
  negate(c->g, c->n);
}
// The trace's gradients: g = c·G + N (see the top of the file), from `g0` (G) and `noise`.
static void trace_gradient(Ctx* c, const float* g0, float* noise) {
  float f = (c->flips++ & 1) ? 1.0f : 0.5f;
  randn(noise, c->n, 1e-3f);
  for (size_t i = 0; i < c->n; ++i) c->g[i] = f * g0[i] + noise[i];
}

// The rule's fresh state, from W and G as given (the gradient counter restarts too).
static void reset(Ctx* c, const Op* op, const float* w0, const float* g0) {
  memcpy(c->w, w0, c->n * sizeof(float));
  memcpy(c->g, g0, c->n * sizeof(float));
  for (int k = 0; k < op->nstate; ++k) {
    if (k == op->copyW) memcpy(c->s[k], w0, c->n * sizeof(float));
    else memset(c->s[k], 0, c->n * sizeof(float));
  }
  c->t = 0, c->flips = 0;
  c->weightSum = 0, c->lrMax = -1;  // the references' initial values
  c->d = PR_D0, c->dMax = PR_D0, c->dNumerator = 0;
}

static void print_array(const char* name, const float* x, size_t n) {
  printf("\"%s\":[", name);
  for (size_t i = 0; i < n; ++i) printf(i ? ",%.9g" : "%.9g", (double)x[i]);
  printf("]");
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  long rows = 4096, cols = 4096, trace = 0;
  int min_reps = 5, max_reps = 1000;
  double budget = 1.0, gap = 0.0;
  const Op* chosen[OP_COUNT * 4];
  size_t nChosen = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (!strncmp(a, "--rows=", 7)) rows = atol(a + 7);
    else if (!strncmp(a, "--cols=", 7)) cols = atol(a + 7);
    else if (!strncmp(a, "--gap=", 6)) gap = atof(a + 6);
    else if (!strncmp(a, "--budget=", 9)) budget = atof(a + 9);
    else if (!strncmp(a, "--min-reps=", 11)) min_reps = atoi(a + 11);
    else if (!strncmp(a, "--trace=", 8)) trace = atol(a + 8);
    else if (!strcmp(a, "all")) {
      for (size_t k = 0; k < OP_COUNT && nChosen < sizeof chosen / sizeof chosen[0]; ++k) chosen[nChosen++] = &kOps[k];
    } else {
      size_t k = 0;
      while (k < OP_COUNT && strcmp(kOps[k].name, a)) ++k;
      if (k == OP_COUNT || nChosen == sizeof chosen / sizeof chosen[0]) {
        fprintf(stderr, "recent: unknown argument '%s'\n", a);
        return 2;
      }
      chosen[nChosen++] = &kOps[k];
    }
  }
  if (!nChosen) {
    fprintf(stderr, "recent: name at least one op (or all)\n");
    return 2;
  }
  if (rows < 1 || cols < 1 || min_reps < 1 || min_reps > max_reps || !(gap >= 0 && gap < 10) || trace < 0) {
    fprintf(stderr, "recent: bad sizes\n");
    return 2;
  }

  Ctx c = {0};
  c.n = (size_t)rows * (size_t)cols;
  c.w = alloc(c.n), c.g = alloc(c.n);
  for (int k = 0; k < 4; ++k) c.s[k] = alloc(c.n);
  float *w0 = alloc(c.n), *g0 = alloc(c.n);
  randn(w0, c.n, 0.02f);
  randn(g0, c.n, 1e-3f);
  char shape[64];
  snprintf(shape, sizeof shape, "%ldx%ld", rows, cols);

  if (trace) {
    float* noise = alloc(c.n);
    float* gs = alloc(c.n * (size_t)trace);
    for (size_t k = 0; k < nChosen; ++k) {
      const Op* op = chosen[k];
      reset(&c, op, w0, g0);
      for (long s = 0; s < trace; ++s) {
        trace_gradient(&c, g0, noise);
        memcpy(gs + (size_t)s * c.n, c.g, c.n * sizeof(float));
        op->step(&c);
      }
      printf("{\"op\":\"trace\",\"rule\":\"%s\",\"shape\":\"%s\",\"rows\":%ld,\"cols\":%ld,\"steps\":%ld,", op->name,
             shape, rows, cols, trace);
      print_array("w0", w0, c.n);
      printf(",\"gs\":[");
      for (long s = 0; s < trace; ++s) {
        if (s) printf(",");
        printf("{");
        print_array("g", gs + (size_t)s * c.n, c.n);
        printf("}");
      }
      printf("],");
      print_array("w", c.w, c.n);
      printf(",\"state\":{");
      for (int j = 0; j < op->nstate; ++j) {
        if (j) printf(",");
        print_array(op->state[j], c.s[j], c.n);
      }
      printf("},\"d\":%.17g}\n", c.d);
    }
    return 0;
  }

  printf("{\"op\":\"info\",\"threads\":1,\"compiler\":\"gcc %s\",\"flags\":\"-O3 -march=native -fno-math-errno\"}\n",
         __VERSION__);
  fflush(stdout);
  double* t = malloc(sizeof(double) * (size_t)max_reps);
  double checksum = 0;
  for (size_t k = 0; k < nChosen; ++k) {
    const Op* op = chosen[k];
    reset(&c, op, w0, g0);
    vary_gradient(&c);
    op->step(&c);  // warm-up
    int reps = 0;
    double start = now();
    while (reps < max_reps && (reps < min_reps || now() - start < budget)) {
      double v0 = now();
      vary_gradient(&c);
      while (now() - v0 < gap) {
      }
      double t0 = now();
      op->step(&c);
      t[reps++] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    double best = t[0], median = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    double bytes = op->arrays * (double)c.n * sizeof(float);
    printf("{\"op\":\"%s\",\"shape\":\"%s\",\"best_s\":%.9g,\"median_s\":%.9g,\"reps\":%d,\"bytes\":%.0f,\"gbps\":%.6g,"
           "\"passes\":\"%s\",\"state_bytes\":%.0f}\n",
           op->name, shape, best, median, reps, bytes, bytes / best / 1e9, op->passes,
           (double)op->nstate * (double)c.n * sizeof(float));
    fflush(stdout);
    // A checksum of the state, so the work cannot be optimised away.
    for (size_t i = 0; i < c.n; i += 4099) {
      checksum += c.w[i];
      for (int j = 0; j < op->nstate; ++j) checksum += c.s[j][i];
    }
  }
  if (!isfinite(checksum)) {
    fprintf(stderr, "recent: state went non-finite\n");
    return 1;
  }
  return 0;
}
