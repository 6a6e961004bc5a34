#include "matmul.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "blas.hpp"
#include "job.hpp"

namespace specopt {

void Gemm(const GemmShape& s, const float* a, const float* b, float alpha, float beta, float* c) {
  size_t m = s.m(), n = s.n(), k = s.k();
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    // BLAS would do the same; handled here because lda/ldb of an empty operand are invalid.
    for (size_t i = 0; i < m * n; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  cblas_sgemm(CblasRowMajor, s.transA ? CblasTrans : CblasNoTrans,
              s.transB ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(std::max<size_t>(1, s.aCols)), b,
              static_cast<blasint>(std::max<size_t>(1, s.bCols)), beta, c,
              static_cast<blasint>(n));
}

namespace {

struct MatmulArgs {
  GemmShape shape;
  FloatView a, b, out;
  float alpha, beta;
};

bool Overlaps(const FloatView& x, const FloatView& y) {
  return x.length && y.length && x.data < y.data + y.length && y.data < x.data + x.length;
}

MatmulArgs ParseMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) throw Napi::TypeError::New(env, "matmul: expected 11 arguments");
  MatmulArgs r{};
  r.shape.aRows = Dim(env, info[1], "matmul: a.rows");
  r.shape.aCols = Dim(env, info[2], "matmul: a.cols");
  r.shape.bRows = Dim(env, info[4], "matmul: b.rows");
  r.shape.bCols = Dim(env, info[5], "matmul: b.cols");
  r.shape.transA = Boolean(env, info[6], "matmul: transA");
  r.shape.transB = Boolean(env, info[7], "matmul: transB");
  r.a = Floats(env, info[0], Count(env, r.shape.aRows, r.shape.aCols, "matmul: a"), "matmul: a.data");
  r.b = Floats(env, info[3], Count(env, r.shape.bRows, r.shape.bCols, "matmul: b"), "matmul: b.data");
  size_t innerB = r.shape.transB ? r.shape.bCols : r.shape.bRows;
  if (r.shape.k() != innerB) {
    throw Napi::RangeError::New(env, "matmul: inner dimensions differ: op(a) has " +
                                         std::to_string(r.shape.k()) + " columns, op(b) has " +
                                         std::to_string(innerB) + " rows");
  }
  r.alpha = static_cast<float>(Number(env, info[8], "matmul: alpha"));
  r.beta = static_cast<float>(Number(env, info[9], "matmul: beta"));
  r.out = Floats(env, info[10], Count(env, r.shape.m(), r.shape.n(), "matmul: out"), "matmul: out.data");
  return r;
}

}  // namespace

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  MatmulArgs r = ParseMatmul(info);
  RunSync(info.Env(), [&] {
    if (Overlaps(r.out, r.a) || Overlaps(r.out, r.b)) {
      // BLAS requires C to be distinct from A and B: compute aside, then copy.
      std::vector<float> c(r.out.data, r.out.data + r.out.length);
      Gemm(r.shape, r.a.data, r.b.data, r.alpha, r.beta, c.data());
      std::copy(c.begin(), c.end(), r.out.data);
    } else {
      Gemm(r.shape, r.a.data, r.b.data, r.alpha, r.beta, r.out.data);
    }
  });
  return info.Env().Undefined();
}

Napi::Value MatmulAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MatmulArgs r = ParseMatmul(info);
  // `out`'s values are an input when beta != 0 (read when a shared buffer's are: see Input).
  struct State {
    Input a, b;
    std::unique_ptr<Input> c0;
    Block zeros;  // C when beta == 0
    float* c = nullptr;
  };
  auto state = std::shared_ptr<State>(new State{{env, info[0], r.a}, {env, info[3], r.b}, nullptr, Block(), nullptr});
  if (r.beta != 0.0f) state->c0.reset(new Input(env, info[10], r.out));
  auto outRef = std::make_shared<Napi::Reference<Napi::Float32Array>>(
      Napi::Persistent(info[10].As<Napi::Float32Array>()));
  GemmShape shape = r.shape;
  float alpha = r.alpha, beta = r.beta;
  size_t count = r.out.length;
  return Job::Start(
      env,
      [=] {
        if (state->c0 != nullptr) {
          state->c = state->c0->Data();
        } else {
          state->zeros = Block(count);
          state->c = state->zeros.data();
          if (count > 0) std::memset(state->c, 0, count * sizeof(float));
        }
        Gemm(shape, state->a.Data(), state->b.Data(), alpha, beta, state->c);
      },
      [=](Napi::Env env) -> Napi::Value {
        // The result is written only now, on the main thread, after re-checking `out`.
        FloatView out = Floats(env, outRef->Value(), count, "matmulAsync: out.data");
        StreamCopy(out.data, state->c, count);
        return env.Undefined();
      });
}

}  // namespace specopt
