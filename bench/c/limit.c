// The machine's limit: the same BLAS/LAPACK work specopt's addon does, called straight from C.
//
// Built and run by bench/run.mjs:
//   gcc -O3 -o bench/c/bin/limit bench/c/limit.c $(pkg-config --cflags --libs openblas lapacke) -lm
//   OPENBLAS_CORETYPE=SkylakeX bench/c/bin/limit [--quick] [--scale=F] [OP:SIZE ...]
// (--quick: fewer repetitions; --scale=F: every time budget times F; OP:SIZE: only those.)
// Prints one JSON object per line on stdout: {"op", "shape", "best_s", "median_s", "reps", ...}.
//
// Each routine mirrors native/*.cpp: the same layout trick (row-major data handed to LAPACK as
// the column-major transpose), the same workspace queries and allocations on every call, the
// input copy LAPACK needs because it overwrites its input, and (eigh) the final transpose that
// turns LAPACK's eigenvector rows into the columns the API returns. Timings are wall-clock
// (CLOCK_MONOTONIC), best and median of N calls after one warm-up call.
#define _GNU_SOURCE
#include <cblas.h>
#include <lapacke.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char* openblas_get_config(void);
char* openblas_get_corename(void);
int openblas_get_num_threads(void);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---------------------------------------------------------------- random inputs

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t next_u64(void) {  // SplitMix64
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double uniform(void) { return ((double)(next_u64() >> 11) + 0.5) * 0x1.0p-53; }
static void randn(float* x, size_t count) {
  for (size_t i = 0; i < count; i += 2) {
    double r = sqrt(-2.0 * log(uniform())), t = 2.0 * M_PI * uniform();
    x[i] = (float)(r * cos(t));
    if (i + 1 < count) x[i + 1] = (float)(r * sin(t));
  }
}
static float* alloc(size_t count) {
  float* p = malloc(count * sizeof(float) + 64);
  if (!p) {
    fprintf(stderr, "limit: out of memory\n");
    exit(1);
  }
  return p;
}
static lapack_int workspace_size(float query) { return (lapack_int)(query * (1.0f + 1e-6f)) + 1; }
static void check(lapack_int info, const char* routine) {
  if (info != 0) {
    fprintf(stderr, "limit: %s failed, info = %d\n", routine, (int)info);
    exit(1);
  }
}

// ---------------------------------------------------------------- timing

static int quick = 0;
static double budget_scale = 1.0;  // --scale=F multiplies every time budget

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

typedef void (*Work)(void* ctx);

// One warm-up call, then at least min_reps calls and more until budget_s has passed (at most
// max_reps). Writes best and median seconds per call.
static int timeit(Work work, void* ctx, int min_reps, int max_reps, double budget_s, double* best,
                  double* median) {
  if (quick) {
    min_reps = min_reps > 2 ? 2 : min_reps;
    budget_s *= 0.25;
  }
  budget_s *= budget_scale;
  double* t = malloc(sizeof(double) * (size_t)max_reps);
  work(ctx);
  int reps = 0;
  double start = now();
  while (reps < max_reps && (reps < min_reps || now() - start < budget_s)) {
    double t0 = now();
    work(ctx);
    t[reps++] = now() - t0;
  }
  qsort(t, (size_t)reps, sizeof(double), cmp_double);
  *best = t[0];
  *median = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
  free(t);
  return reps;
}

static void emit(const char* op, const char* shape, double best, double median, int reps,
                 const char* extra) {
  printf("{\"op\":\"%s\",\"shape\":\"%s\",\"best_s\":%.9g,\"median_s\":%.9g,\"reps\":%d%s%s}\n", op,
         shape, best, median, reps, extra && *extra ? "," : "", extra ? extra : "");
  fflush(stdout);
}

// ---------------------------------------------------------------- sgemm (native/matmul.cpp)

typedef struct {
  int n;
  float *a, *b, *c;
} GemmCtx;

static void gemm_work(void* p) {
  GemmCtx* g = p;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f, g->a, g->n,
              g->b, g->n, 0.0f, g->c, g->n);
}

static void bench_gemm(int n) {
  GemmCtx g = {n, alloc((size_t)n * n), alloc((size_t)n * n), alloc((size_t)n * n)};
  randn(g.a, (size_t)n * n);
  randn(g.b, (size_t)n * n);
  double best, median;
  int reps = timeit(gemm_work, &g, 5, 100000, n >= 1024 ? 1.5 : 0.5, &best, &median);
  char shape[64], extra[128];
  snprintf(shape, sizeof shape, "%dx%dx%d", n, n, n);
  snprintf(extra, sizeof extra, "\"n\":%d,\"gflops\":%.6g", n, 2.0 * n * n * (double)n / best / 1e9);
  emit("sgemm", shape, best, median, reps, extra);
  free(g.a), free(g.b), free(g.c);
}

// The per-call cost of a tiny product: a loop of `calls` 8x8x8 sgemm calls, best of several.
static void bench_gemm_small(int n, int calls) {
  GemmCtx g = {n, alloc((size_t)n * n), alloc((size_t)n * n), alloc((size_t)n * n)};
  randn(g.a, (size_t)n * n);
  randn(g.b, (size_t)n * n);
  int loops = quick ? 3 : 7;
  double t[16];
  for (int i = 0; i < calls; ++i) gemm_work(&g);  // warm-up
  for (int l = 0; l < loops; ++l) {
    double t0 = now();
    for (int i = 0; i < calls; ++i) gemm_work(&g);
    t[l] = (now() - t0) / calls;
  }
  qsort(t, (size_t)loops, sizeof(double), cmp_double);
  char shape[64], extra[128];
  snprintf(shape, sizeof shape, "%dx%dx%d", n, n, n);
  snprintf(extra, sizeof extra, "\"n\":%d,\"calls_per_loop\":%d,\"us_per_call\":%.6g", n, calls,
           t[0] * 1e6);
  emit("sgemm_percall", shape, t[0], t[loops / 2], loops, extra);
  free(g.a), free(g.b), free(g.c);
}

// ---------------------------------------------------------------- ssyevd (native/eigh.cpp)

typedef struct {
  int n;
  const float* s;  // row-major symmetric input
  float *values, *vectors;
} EighCtx;

static void transpose(const float* src, size_t rows, size_t cols, float* dst) {
  const size_t tile = 32;  // as native/kernels.cpp
  for (size_t i0 = 0; i0 < rows; i0 += tile) {
    size_t i1 = i0 + tile < rows ? i0 + tile : rows;
    for (size_t j0 = 0; j0 < cols; j0 += tile) {
      size_t j1 = j0 + tile < cols ? j0 + tile : cols;
      for (size_t i = i0; i < i1; ++i)
        for (size_t j = j0; j < j1; ++j) dst[j * rows + i] = src[i * cols + j];
    }
  }
}

static void eigh_work(void* p) {
  EighCtx* e = p;
  size_t n = (size_t)e->n;
  lapack_int N = e->n;
  // The row-major lower triangle is the column-major upper triangle.
  float* a = alloc(n * n);
  memcpy(a, e->s, n * n * sizeof(float));
  float lwork_query = 0;
  lapack_int liwork_query = 0;
  check(LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, 'V', 'U', N, a, N, e->values, &lwork_query, -1,
                            &liwork_query, -1),
        "ssyevd query");
  lapack_int lwork = workspace_size(lwork_query);
  float* work = alloc((size_t)lwork);
  lapack_int* iwork = malloc(sizeof(lapack_int) * (size_t)liwork_query);
  check(LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, 'V', 'U', N, a, N, e->values, work, lwork, iwork,
                            liwork_query),
        "ssyevd");
  transpose(a, n, n, e->vectors);  // eigenvector rows -> columns, as the addon returns them
  free(iwork), free(work), free(a);
}

static void bench_eigh(int n) {
  size_t nn = (size_t)n * n;
  float* g = alloc(nn);
  float* s = alloc(nn);
  randn(g, nn);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) s[(size_t)i * n + j] = 0.5f * (g[(size_t)i * n + j] + g[(size_t)j * n + i]);
  EighCtx e = {n, s, alloc((size_t)n), alloc(nn)};
  double best, median;
  int reps = timeit(eigh_work, &e, 3, 500, n >= 1024 ? 3.0 : 1.0, &best, &median);
  char shape[64], extra[64];
  snprintf(shape, sizeof shape, "%dx%d", n, n);
  snprintf(extra, sizeof extra, "\"n\":%d", n);
  emit("ssyevd", shape, best, median, reps, extra);
  free(g), free(s), free(e.values), free(e.vectors);
}

// ---------------------------------------------------------------- sgesdd (native/svd.cpp)

typedef struct {
  int m, n;  // row-major A is m x n
  int vectors;
  const float* a;
  float *U, *S, *Vt;
} SvdCtx;

static void svd_work(void* p) {
  SvdCtx* c = p;
  size_t m = (size_t)c->m, n = (size_t)c->n, k = m < n ? m : n;
  // Row-major A is column-major Aᵀ (n x m); LAPACK's U'/V'ᵀ of Aᵀ are A's Vt/U in row-major.
  char job = c->vectors ? 'S' : 'N';
  lapack_int M = c->n, N = c->m, K = (lapack_int)k;
  lapack_int ldu = c->vectors ? M : 1, ldvt = c->vectors ? K : 1;
  float dummy = 0;
  float* u = c->vectors ? c->Vt : &dummy;
  float* vt = c->vectors ? c->U : &dummy;
  float* work = alloc(m * n);
  memcpy(work, c->a, m * n * sizeof(float));
  lapack_int* iwork = malloc(sizeof(lapack_int) * 8 * k);
  float query = 0;
  check(LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, job, M, N, work, M, c->S, u, ldu, vt, ldvt, &query,
                            -1, iwork),
        "sgesdd query");
  lapack_int lwork = workspace_size(query);
  float* scratch = alloc((size_t)lwork);
  check(LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, job, M, N, work, M, c->S, u, ldu, vt, ldvt, scratch,
                            lwork, iwork),
        "sgesdd");
  free(scratch), free(iwork), free(work);
}

static void bench_svd(int m, int n, int vectors, double budget) {
  size_t k = (size_t)(m < n ? m : n);
  float* a = alloc((size_t)m * n);
  randn(a, (size_t)m * n);
  SvdCtx c = {m, n, vectors, a, alloc((size_t)m * k), alloc(k), alloc(k * (size_t)n)};
  double best, median;
  int reps = timeit(svd_work, &c, 3, 500, budget, &best, &median);
  char shape[64], extra[96];
  snprintf(shape, sizeof shape, "%dx%d", m, n);
  snprintf(extra, sizeof extra, "\"m\":%d,\"n\":%d,\"jobz\":\"%s\"", m, n, vectors ? "S" : "N");
  emit(vectors ? "sgesdd_S" : "sgesdd_N", shape, best, median, reps, extra);
  free(a), free(c.U), free(c.S), free(c.Vt);
}

// ---------------------------------------------------------------- GaLore's GEMMs (native/rules/galore.cpp)

// One galore-adamw step's matrix work over a transformer block (4 × 768², 768×3072, 3072×768) at
// rank r, the calls galore.cpp makes: R = G·Pᵀ or Pᵀ·G, then W ← W − s·(N·P or P·N) into W. What
// the rule cannot go below between projector refreshes.
enum { kBlockMatrices = 6 };
static const int kBlockShapes[kBlockMatrices][2] = {{768, 768}, {768, 768}, {768, 768}, {768, 768}, {768, 3072}, {3072, 768}};

typedef struct {
  int r;
  float *g[kBlockMatrices], *w[kBlockMatrices], *p[kBlockMatrices], *proj[kBlockMatrices];
} GaloreCtx;

static void galore_work(void* ctx) {
  GaloreCtx* c = ctx;
  int r = c->r;
  for (int i = 0; i < kBlockMatrices; ++i) {
    int m = kBlockShapes[i][0], n = kBlockShapes[i][1];
    if (m >= n) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, r, n, 1.0f, c->g[i], n, c->p[i], n, 0.0f, c->proj[i], r);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, r, -1e-4f, c->proj[i], r, c->p[i], n, 1.0f, c->w[i], n);
    } else {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, n, m, 1.0f, c->p[i], r, c->g[i], n, 0.0f, c->proj[i], n);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, r, -1e-4f, c->p[i], r, c->proj[i], n, 1.0f, c->w[i], n);
    }
  }
}

static void bench_galore_block(int r) {
  GaloreCtx c = {r, {0}, {0}, {0}, {0}};
  double flops = 0;
  for (int i = 0; i < kBlockMatrices; ++i) {
    int m = kBlockShapes[i][0], n = kBlockShapes[i][1], k = m < n ? m : n, big = m < n ? n : m;
    c.g[i] = alloc((size_t)m * n), c.w[i] = alloc((size_t)m * n);
    c.p[i] = alloc((size_t)k * r), c.proj[i] = alloc((size_t)big * r);
    randn(c.g[i], (size_t)m * n), randn(c.w[i], (size_t)m * n), randn(c.p[i], (size_t)k * r);
    flops += 4.0 * m * n * r;
  }
  double best, median;
  int reps = timeit(galore_work, &c, 10, 100000, 1.0, &best, &median);
  char extra[96];
  snprintf(extra, sizeof extra, "\"rank\":%d,\"gflops\":%.6g", r, flops / best / 1e9);
  emit("galore_block", "768-block", best, median, reps, extra);
  for (int i = 0; i < kBlockMatrices; ++i) free(c.g[i]), free(c.w[i]), free(c.p[i]), free(c.proj[i]);
}

// ---------------------------------------------------------------- main

// With no OP:SIZE argument every measurement runs; otherwise only the named ones, e.g.
//   limit sgemm:2048 ssyevd:512 sgesdd_S:2048x1024 sgesdd_N:1024x1024 sgemm_percall:8
// (galore_block:RANK runs only when named.)
static int nfilters = 0;
static char** filters = NULL;
static int wanted(const char* op, int m, int n) {
  if (nfilters == 0) return 1;
  char a[64], b[64];
  snprintf(a, sizeof a, "%s:%d", op, m);
  snprintf(b, sizeof b, "%s:%dx%d", op, m, n);
  for (int i = 0; i < nfilters; ++i)
    if (strcmp(filters[i], a) == 0 || strcmp(filters[i], b) == 0) return 1;
  return 0;
}

int main(int argc, char** argv) {
  filters = malloc(sizeof(char*) * (size_t)argc);
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1;
    else if (strncmp(argv[i], "--scale=", 8) == 0)
      budget_scale = atof(argv[i] + 8);
    else
      filters[nfilters++] = argv[i];
  }
  // Workspaces come from the heap, not fresh mmap()s: otherwise glibc maps (and the kernel zeroes)
  // mid-size workspaces anew on every call until a larger free raises its dynamic threshold, which
  // made e.g. sgesdd 256x128 ~30% slower depending on what ran before. The limit excludes that.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const char* core = openblas_get_corename();
  const char* config = openblas_get_config();
  printf("{\"op\":\"info\",\"coreType\":\"%s\",\"config\":\"%s\",\"threads\":%d,\"quick\":%s}\n",
         core, config, openblas_get_num_threads(), quick ? "true" : "false");
  fflush(stdout);

  const int gemm_sizes[] = {64, 128, 256, 512, 1024, 2048};
  for (size_t i = 0; i < sizeof gemm_sizes / sizeof *gemm_sizes; ++i)
    if (wanted("sgemm", gemm_sizes[i], gemm_sizes[i])) bench_gemm(gemm_sizes[i]);
  if (wanted("sgemm_percall", 8, 8)) bench_gemm_small(8, 100000);

  const int eigh_sizes[] = {128, 256, 512, 1024};
  for (size_t i = 0; i < sizeof eigh_sizes / sizeof *eigh_sizes; ++i)
    if (wanted("ssyevd", eigh_sizes[i], eigh_sizes[i])) bench_eigh(eigh_sizes[i]);

  // The sizes the JS peers also run at, then the main one.
  if (wanted("sgesdd_S", 256, 128)) bench_svd(256, 128, 1, 0.5);
  if (wanted("sgesdd_S", 512, 256)) bench_svd(512, 256, 1, 0.5);
  if (wanted("sgesdd_S", 2048, 1024)) bench_svd(2048, 1024, 1, 4.0);
  if (wanted("sgesdd_N", 1024, 1024)) bench_svd(1024, 1024, 0, 1.5);
  // Only when asked for (bench/optim.mjs): galore_block:RANK.
  for (int i = 0; i < nfilters; ++i)
    if (strncmp(filters[i], "galore_block:", 13) == 0) bench_galore_block(atoi(filters[i] + 13));
  free(filters);
  return 0;
}
