// The machine's limit for one AdamW step: the update of native/rules/first_order.cpp (AdamLoop,
// as AdamStep calls it for adamw: no L2 term, amsgrad off) written as a plain C loop over float32,
// plus the memory-bandwidth yardsticks it is judged by.
//
// Built and run by bench/optim.mjs:
//   gcc -O3 -march=native -fno-math-errno -pthread -o bench/c/bin/adamw bench/c/adamw.c -lm
//   bench/c/bin/adamw [--rows=R] [--cols=C] [--count=K] [--gap=S] [--budget=S] [--min-reps=N] [OP ...]
// (--count=K: K separately allocated parameters of R x C, like the entries of a stepMany call;
// every op covers all K. --gap=S: see below.) OPs (default: adamw scan adamw_scan traffic copy):
//   adamw         the AdamW update, one pass over w, g, m, v (4 arrays read, 3 written)
//   scan          the non-finite scan specopt runs over every gradient before any update
//                 (native/kernels.cpp AllFinite: a bit test in blocks of 4096), alone
//   adamw_scan    scan all gradients, then update all parameters: the native work of one specopt
//                 step (native/optimizer.cpp), without the N-API and TypeScript parts
//   adamw_scan_2t the same split over two threads (each scans, then updates, one half of every
//                 parameter, with a join in between): what a parallel native step could reach
//   traffic       w += c·g; m += c·g; v += c·g²: the update's memory traffic, trivial arithmetic
//   copy          memcpy of each parameter to another buffer (copy bandwidth)
// Prints one JSON object per line on stdout: {"op", "shape", "best_s", "median_s", "reps",
// "bytes", "gbps"} ("bytes": what the op reads plus writes per call, each array counted once).
//
// Single thread (except adamw_scan_2t), -march=native: the limit of this machine, not portable
// code. Every timed call is preceded by an untimed rescaling of g (by 0.5, then 2, alternately:
// exact in float32), as in bench/optim.mjs, so each step sees a different gradient and the same
// cache state as the JavaScript side; with --gap=S the timed call starts S seconds after that
// rescaling began (spinning meanwhile): the time the JavaScript side's slower rescaling takes.
// On a shared VM, data left in the L3 decays within ~20 ms (other tenants), so at sizes that fit
// the L3 the time between steps changes the step time; the gap keeps the sides comparable. Buffers come from malloc, like Node's (16-byte aligned for
// large arrays). Timings are wall-clock (CLOCK_MONOTONIC), best and median after one warm-up call.
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
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
    fprintf(stderr, "adamw: out of memory\n");
    exit(1);
  }
  return p;
}

// ---------------------------------------------------------------- the loops

// AdamLoop of native/rules/first_order.cpp for adamw (l2 = 0, no vmax), same float32 operations
// in the same order; keep = 1 − lr·λ, stepSize = lr / (1 − β1^t), bc2Sqrt = √(1 − β2^t), each
// computed in double and rounded to float as AdamStep and src/optim/rules/adam.ts do.
__attribute__((noinline)) static void adamw_loop(float* restrict w, const float* restrict g,
                                                 float* restrict m, float* restrict v, size_t n,
                                                 float b1, float b2, float eps, float keep,
                                                 float stepSize, float bc2Sqrt) {
  for (size_t i = 0; i < n; ++i) {
    m[i] = m[i] + (1.0f - b1) * (g[i] - m[i]);
    v[i] = v[i] * b2 + (1.0f - b2) * g[i] * g[i];
    float denom = sqrtf(v[i]) / bc2Sqrt + eps;
    w[i] = w[i] * keep - stepSize * (m[i] / denom);
  }
}

// AllFinite of native/kernels.cpp.
__attribute__((noinline)) static int all_finite(const float* x, size_t n) {
  const uint32_t* bits = (const uint32_t*)x;
  const size_t block = 4096;
  for (size_t start = 0; start < n; start += block) {
    size_t end = n < start + block ? n : start + block;
    uint32_t bad = 0;
    for (size_t i = start; i < end; ++i) bad |= ((bits[i] & 0x7f800000u) == 0x7f800000u);
    if (bad) return 0;
  }
  return 1;
}

__attribute__((noinline)) static void traffic_loop(float* restrict w, const float* restrict g,
                                                   float* restrict m, float* restrict v, size_t n,
                                                   float c) {
  for (size_t i = 0; i < n; ++i) {
    w[i] += c * g[i];
    m[i] += c * g[i];
    v[i] += c * g[i] * g[i];
  }
}

__attribute__((noinline)) static void scale_loop(float* restrict g, size_t n, float c) {
  for (size_t i = 0; i < n; ++i) g[i] *= c;
}

// ---------------------------------------------------------------- state and ops

typedef struct {
  size_t n, count;  // count parameters of n entries each
  float **w, **g, **m, **v, **copy;
  long t;      // AdamW step count (bias corrections)
  long flips;  // gradient rescalings so far
  double lr, beta1, beta2, eps, weightDecay;
  volatile int sink;
} Ctx;

typedef struct {
  float b1, b2, eps, keep, stepSize, bc2Sqrt;
} Scalars;

static void vary_gradient(Ctx* c) {
  float f = (c->flips++ & 1) ? 2.0f : 0.5f;
  for (size_t k = 0; k < c->count; ++k) scale_loop(c->g[k], c->n, f);
}

// The per-step scalars, in double and rounded to float as AdamStep and adam.ts do.
static Scalars next_step(Ctx* c) {
  long t = ++c->t;
  Scalars s = {(float)c->beta1, (float)c->beta2, (float)c->eps, (float)(1.0 - c->lr * c->weightDecay),
               (float)(c->lr / (1.0 - pow(c->beta1, (double)t))), (float)sqrt(1.0 - pow(c->beta2, (double)t))};
  return s;
}

static void update(Ctx* c, const Scalars* s, size_t k, size_t from, size_t to) {
  adamw_loop(c->w[k] + from, c->g[k] + from, c->m[k] + from, c->v[k] + from, to - from, s->b1, s->b2,
             s->eps, s->keep, s->stepSize, s->bc2Sqrt);
}

static void check_finite(Ctx* c, size_t k, size_t from, size_t to) {
  if (!all_finite(c->g[k] + from, to - from)) {
    fprintf(stderr, "adamw: non-finite gradient\n");
    exit(1);
  }
}

static void op_adamw(Ctx* c) {
  Scalars s = next_step(c);
  for (size_t k = 0; k < c->count; ++k) update(c, &s, k, 0, c->n);
}
static void op_scan(Ctx* c) {
  for (size_t k = 0; k < c->count; ++k) c->sink += all_finite(c->g[k], c->n);
}
static void op_adamw_scan(Ctx* c) {
  for (size_t k = 0; k < c->count; ++k) check_finite(c, k, 0, c->n);
  Scalars s = next_step(c);
  for (size_t k = 0; k < c->count; ++k) update(c, &s, k, 0, c->n);
}

typedef struct {
  Ctx* c;
  const Scalars* s;
  int half, phase;  // phase 0: scan, 1: update
} Half;

static void* half_work(void* p) {
  Half* h = p;
  Ctx* c = h->c;
  size_t mid = c->n / 2, from = h->half ? mid : 0, to = h->half ? c->n : mid;
  for (size_t k = 0; k < c->count; ++k) {
    if (h->phase == 0) check_finite(c, k, from, to);
    else update(c, h->s, k, from, to);
  }
  return NULL;
}

static void op_adamw_scan_2t(Ctx* c) {
  Scalars s = next_step(c);
  for (int phase = 0; phase < 2; ++phase) {
    Half other = {c, &s, 1, phase}, mine = {c, &s, 0, phase};
    pthread_t thread;
    if (pthread_create(&thread, NULL, half_work, &other)) {
      fprintf(stderr, "adamw: pthread_create failed\n");
      exit(1);
    }
    half_work(&mine);
    pthread_join(thread, NULL);
  }
}

static void op_traffic(Ctx* c) {
  for (size_t k = 0; k < c->count; ++k) traffic_loop(c->w[k], c->g[k], c->m[k], c->v[k], c->n, 1e-7f);
}
static void op_copy(Ctx* c) {
  for (size_t k = 0; k < c->count; ++k) {
    memcpy(c->copy[k], c->w[k], c->n * sizeof(float));
    c->sink += (int)c->copy[k][c->n / 2];
  }
}

typedef struct {
  const char* name;
  void (*run)(Ctx*);
  double arrays;  // rows x cols arrays read plus written per parameter and call
  int byDefault;
} Op;

static const Op kOps[] = {
    {"adamw", op_adamw, 7, 1},
    {"scan", op_scan, 1, 1},
    {"adamw_scan", op_adamw_scan, 8, 1},
    {"adamw_scan_2t", op_adamw_scan_2t, 8, 0},
    {"traffic", op_traffic, 7, 1},
    {"copy", op_copy, 2, 1},
};
#define OP_COUNT (sizeof kOps / sizeof kOps[0])

static float** alloc_all(size_t count, size_t n) {
  float** p = malloc(count * sizeof(float*));
  if (!p) {
    fprintf(stderr, "adamw: out of memory\n");
    exit(1);
  }
  for (size_t k = 0; k < count; ++k) p[k] = alloc(n);
  return p;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  long rows = 4096, cols = 4096, count = 1;
  int min_reps = 5, max_reps = 1000;
  double budget = 1.0, gap = 0.0;
  const Op* chosen[OP_COUNT * 4];
  size_t nChosen = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (!strncmp(a, "--rows=", 7)) rows = atol(a + 7);
    else if (!strncmp(a, "--gap=", 6)) gap = atof(a + 6);
    else if (!strncmp(a, "--cols=", 7)) cols = atol(a + 7);
    else if (!strncmp(a, "--count=", 8)) count = atol(a + 8);
    else if (!strncmp(a, "--budget=", 9)) budget = atof(a + 9);
    else if (!strncmp(a, "--min-reps=", 11)) min_reps = atoi(a + 11);
    else {
      size_t k = 0;
      while (k < OP_COUNT && strcmp(kOps[k].name, a)) ++k;
      if (k == OP_COUNT || nChosen == sizeof chosen / sizeof chosen[0]) {
        fprintf(stderr, "adamw: unknown argument '%s'\n", a);
        return 2;
      }
      chosen[nChosen++] = &kOps[k];
    }
  }
  if (!nChosen)
    for (size_t k = 0; k < OP_COUNT; ++k)
      if (kOps[k].byDefault) chosen[nChosen++] = &kOps[k];
  if (rows < 1 || cols < 1 || count < 1 || min_reps < 1 || min_reps > max_reps || !(gap >= 0 && gap < 10)) {
    fprintf(stderr, "adamw: bad sizes\n");
    return 2;
  }

  Ctx c = {0};
  c.n = (size_t)rows * (size_t)cols;
  c.count = (size_t)count;
  c.lr = 1e-3, c.beta1 = 0.9, c.beta2 = 0.999, c.eps = 1e-8, c.weightDecay = 0.01;
  c.w = alloc_all(c.count, c.n), c.g = alloc_all(c.count, c.n), c.m = alloc_all(c.count, c.n);
  c.v = alloc_all(c.count, c.n), c.copy = alloc_all(c.count, c.n);
  for (size_t k = 0; k < c.count; ++k) {
    randn(c.w[k], c.n, 0.02f);
    randn(c.g[k], c.n, 1e-3f);
    memset(c.m[k], 0, c.n * sizeof(float));
    memset(c.v[k], 0, c.n * sizeof(float));
    memset(c.copy[k], 0, c.n * sizeof(float));
  }

  printf("{\"op\":\"info\",\"threads\":1,\"compiler\":\"gcc %s\",\"flags\":\"-O3 -march=native -fno-math-errno\"}\n",
         __VERSION__);
  char shape[96];
  if (count == 1) snprintf(shape, sizeof shape, "%ldx%ld", rows, cols);
  else snprintf(shape, sizeof shape, "%ldx%ldx%ld", count, rows, cols);
  double* t = malloc(sizeof(double) * (size_t)max_reps);
  for (size_t k = 0; k < nChosen; ++k) {
    const Op* op = chosen[k];
    vary_gradient(&c);
    op->run(&c);  // warm-up
    int reps = 0;
    double start = now();
    while (reps < max_reps && (reps < min_reps || now() - start < budget)) {
      double v0 = now();
      vary_gradient(&c);
      while (now() - v0 < gap) {
      }
      double t0 = now();
      op->run(&c);
      t[reps++] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    double best = t[0], median = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    double bytes = op->arrays * (double)c.n * (double)c.count * sizeof(float);
    printf("{\"op\":\"%s\",\"shape\":\"%s\",\"best_s\":%.9g,\"median_s\":%.9g,\"reps\":%d,\"bytes\":%.0f,\"gbps\":%.6g}\n",
           op->name, shape, best, median, reps, bytes, bytes / best / 1e9);
    fflush(stdout);
  }
  // A checksum of the state, so the work cannot be optimised away.
  double sum = 0;
  for (size_t k = 0; k < c.count; ++k)
    for (size_t i = 0; i < c.n; i += 4099) sum += (double)c.w[k][i] + c.m[k][i] + c.v[k][i];
  if (!isfinite(sum)) {
    fprintf(stderr, "adamw: state went non-finite\n");
    return 1;
  }
  return 0;
}
