// The one native entry point of the optimizers: a batch of (parameter, gradient, state) entries,
// each with its own rule and per-step scalars, updated in one call. The pieces every rule shares
// live here: argument checks, the non-finite scan, the spectral-norm penalty (seed 001) and the
// rank-1 factors of the spectral weight decay (seed 000).
#include "optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "blas.hpp"
#include "kernels.hpp"
#include "rules/rules.hpp"

namespace specopt {

namespace {

using Layout = std::vector<size_t> (*)(size_t rows, size_t cols, const double* s);

struct Rule {
  const char* name;
  size_t scalarCount;
  Layout layout;  // the state buffers' lengths; throws std::invalid_argument on bad scalars
  void (*step)(const RuleArgs&);
  void (*check)(const RuleArgs&);
};

std::vector<size_t> Optional(bool present, size_t n) { return present ? std::vector<size_t>{n} : std::vector<size_t>{}; }

size_t Choice(double x, size_t count, const char* what) {
  if (!(x >= 0) || x != std::floor(x) || x >= double(count)) throw std::invalid_argument(what);
  return size_t(x);
}

const Rule kRules[] = {
    {"sgd", 7, [](size_t r, size_t c, const double* s) { return Optional(s[1] > 0, r * c); }, SgdStep, nullptr},
    {"signsgd", 3, [](size_t r, size_t c, const double* s) { return Optional(s[1] > 0, r * c); }, SignSgdStep, nullptr},
    {"pbsgd", 5, [](size_t r, size_t c, const double* s) { return Optional(s[2] > 0, r * c); }, PbSgdStep, nullptr},
    {"adagrad", 3, [](size_t r, size_t c, const double*) { return std::vector<size_t>{r * c}; }, AdagradStep, nullptr},
    {"rmsprop", 6,
     [](size_t r, size_t c, const double* s) {
       std::vector<size_t> l{r * c};
       if (s[5] != 0) l.push_back(r * c);
       if (s[4] > 0) l.push_back(r * c);
       return l;
     },
     RmspropStep, nullptr},
    {"adam", 8,
     [](size_t r, size_t c, const double* s) {
       std::vector<size_t> l{r * c, r * c};
       if (s[7] != 0) l.push_back(r * c);
       return l;
     },
     AdamStep, nullptr},
    {"adafactor", 9,
     [](size_t r, size_t c, const double* s) {
       std::vector<size_t> l = s[8] != 0 ? std::vector<size_t>{r, c} : std::vector<size_t>{r * c};
       if (s[5] >= 0) l.push_back(r * c);
       return l;
     },
     AdafactorStep, nullptr},
    {"adam-mini", 8,
     [](size_t r, size_t c, const double* s) {
       size_t mode = Choice(s[6], 4, "adam-mini: blockMode must be 0..3");
       size_t blocks = mode == 0 ? r : mode == 1 ? c : mode == 2 ? 1 : 0;
       if (mode == 3) {
         double h = s[7];
         if (!(h >= 1) || h != std::floor(h) || r % size_t(h) != 0) {
           throw std::invalid_argument("adam-mini: the row groups must divide the rows");
         }
         blocks = size_t(h);
       }
       return std::vector<size_t>{r * c, blocks};
     },
     AdamMiniStep, nullptr},
    {"sphere-sgd", 5,
     [](size_t, size_t, const double* s) {
       Choice(s[2], 3, "sphere-sgd: axis must be 0..2");
       return std::vector<size_t>{};
     },
     SphereSgdStep, SphereSgdCheck},
};
constexpr size_t kRuleCount = sizeof(kRules) / sizeof(kRules[0]);

// One parameter's step, parsed and checked.
struct Entry {
  const Rule* rule;
  float* w;
  const float* g;
  size_t rows, cols;
  std::vector<float*> buffers;
  std::vector<double> scalars;
  double penalty;
  bool spectralDecay;
  size_t spectralIters;
  float* warm;  // last v₁ (or u₁) for a warm start; all zeros until the first step stores one
  bool skipNonFinite;
};

Entry Parse(const Napi::Env& env, const Napi::Value& value, uint32_t index) {
  std::string where = "optimizer step, parameter " + std::to_string(index);
  auto at = [&](const char* what) { return where + ": " + what; };
  if (!value.IsArray() || value.As<Napi::Array>().Length() != 12) {
    throw Napi::TypeError::New(env, at("expected an entry of 12 fields"));
  }
  Napi::Array e = value.As<Napi::Array>();
  Entry r{};
  size_t id = Dim(env, e.Get(0u), at("rule").c_str());
  if (id >= kRuleCount) throw Napi::RangeError::New(env, at("unknown rule id"));
  r.rule = &kRules[id];
  r.rows = Dim(env, e.Get(3u), at("rows").c_str());
  r.cols = Dim(env, e.Get(4u), at("cols").c_str());
  size_t n = Count(env, r.rows, r.cols, where.c_str());
  r.w = Floats(env, e.Get(1u), n, at("param.data").c_str()).data;
  FloatView g = Floats(env, e.Get(2u), n, at("grad.data").c_str());
  r.g = g.data;
  Napi::Value scalars = e.Get(6u);
  if (!scalars.IsTypedArray() || scalars.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, at("scalars must be a Float64Array"));
  }
  auto s = scalars.As<Napi::Float64Array>();
  if (s.ElementLength() != r.rule->scalarCount) throw Napi::RangeError::New(env, at("wrong scalar count"));
  r.scalars.assign(s.Data(), s.Data() + s.ElementLength());
  std::vector<size_t> layout;
  try {
    layout = r.rule->layout(r.rows, r.cols, r.scalars.data());
  } catch (const std::invalid_argument& error) {
    throw Napi::RangeError::New(env, at(error.what()));
  }
  Napi::Value buffers = e.Get(5u);
  if (!buffers.IsArray() || buffers.As<Napi::Array>().Length() != layout.size()) {
    throw Napi::TypeError::New(env, at("expected ") + std::to_string(layout.size()) + " state buffers");
  }
  for (uint32_t b = 0; b < layout.size(); ++b) {
    std::string name = at("state buffer ") + std::to_string(b);
    r.buffers.push_back(Floats(env, buffers.As<Napi::Array>().Get(b), layout[b], name.c_str()).data);
  }
  r.penalty = Number(env, e.Get(7u), at("spectralPenalty").c_str());
  r.spectralDecay = Boolean(env, e.Get(8u), at("spectralDecay").c_str());
  r.spectralIters = Dim(env, e.Get(9u), at("spectralIters").c_str());
  r.warm = OptionalFloats(env, e.Get(10u), std::min(r.rows, r.cols), at("spectral warm start").c_str()).data;
  r.skipNonFinite = Boolean(env, e.Get(11u), at("skipNonFinite").c_str());
  // Every float array of an entry must be distinct: a rule writes W and its buffers in one pass.
  std::vector<std::pair<const float*, size_t>> spans{{r.w, n}, {r.g, n}};
  for (size_t b = 0; b < layout.size(); ++b) spans.push_back({r.buffers[b], layout[b]});
  if (r.warm) spans.push_back({r.warm, std::min(r.rows, r.cols)});
  for (size_t x = 0; x < spans.size(); ++x)
    for (size_t y = x + 1; y < spans.size(); ++y) {
      auto [p, pn] = spans[x];
      auto [q, qn] = spans[y];
      if (pn && qn && p < q + qn && q < p + pn) {
        throw Napi::RangeError::New(env, at("param, grad and state buffers must not overlap"));
      }
    }
  return r;
}

// a (rows) and b (cols) with a·bᵀ the power-iteration estimate of σ₁u₁v₁ᵀ, from the all-ones
// vector (or the warm start), iterating on the smaller Gram matrix. False when W·x vanished.
bool Rank1(const Entry& e, std::vector<float>& a, std::vector<float>& b) {
  blasint m = blasint(e.rows), n = blasint(e.cols);
  bool right = e.rows >= e.cols;  // iterate x (cols) on WᵀW, else y (rows) on WWᵀ
  size_t len = right ? e.cols : e.rows, other = right ? e.rows : e.cols;
  std::vector<float> x(len, 1.0f), z(other);
  if (e.warm && std::any_of(e.warm, e.warm + len, [](float v) { return v != 0.0f; })) std::copy_n(e.warm, len, x.data());
  cblas_sscal(blasint(len), 1.0f / cblas_snrm2(blasint(len), x.data(), 1), x.data(), 1);
  auto forward = [&](const float* in, float* out) {  // right: out = W in; else out = Wᵀ in
    cblas_sgemv(CblasRowMajor, right ? CblasNoTrans : CblasTrans, m, n, 1.0f, e.w, n, in, 1, 0.0f, out, 1);
  };
  auto backward = [&](const float* in, float* out) {
    cblas_sgemv(CblasRowMajor, right ? CblasTrans : CblasNoTrans, m, n, 1.0f, e.w, n, in, 1, 0.0f, out, 1);
  };
  for (size_t it = 0; it < e.spectralIters; ++it) {
    forward(x.data(), z.data());
    backward(z.data(), x.data());
    float norm = cblas_snrm2(blasint(len), x.data(), 1);
    if (norm == 0) return false;
    cblas_sscal(blasint(len), 1.0f / norm, x.data(), 1);
  }
  forward(x.data(), z.data());
  if (e.warm) std::copy_n(x.data(), len, e.warm);
  // right: W x xᵀ = (Wx) xᵀ; else y yᵀ W = y (Wᵀy)ᵀ.
  a = right ? z : x;
  b = right ? x : z;
  return true;
}

void Run(const Entry& e) {
  size_t n = e.rows * e.cols;
  std::vector<float> a, b, penalized;
  const float* g = e.g;
  bool rank1 = (e.penalty != 0 || e.spectralDecay) && n > 0 && Rank1(e, a, b);
  if (e.penalty != 0 && rank1) {
    // G + κ·∇‖W‖₂² = G + 2κ·σ₁u₁v₁ᵀ, in a copy: the caller's gradient is left as it was.
    penalized.assign(e.g, e.g + n);
    cblas_sger(CblasRowMajor, blasint(e.rows), blasint(e.cols), float(2 * e.penalty), a.data(), 1,
               b.data(), 1, penalized.data(), blasint(e.cols));
    g = penalized.data();
  }
  std::vector<float> zeroLeft, zeroRight;
  if (e.spectralDecay && !rank1) {
    // W·v₁v₁ᵀ vanished (W = 0): the decay term is zero.
    zeroLeft.assign(e.rows, 0.0f);
    zeroRight.assign(e.cols, 0.0f);
  }
  RuleArgs args{e.w, g, e.rows, e.cols, e.buffers.data(), e.scalars.data(),
                e.spectralDecay ? (rank1 ? a.data() : zeroLeft.data()) : nullptr,
                e.spectralDecay ? (rank1 ? b.data() : zeroRight.data()) : nullptr};
  e.rule->step(args);
}

}  // namespace

float RuleArgs::Decay(double c) const {
  if (!decayLeft) return float(1.0 - c);
  if (c != 0 && rows && cols) {
    cblas_sger(CblasRowMajor, blasint(rows), blasint(cols), float(-c), decayLeft, 1, decayRight, 1, w, blasint(cols));
  }
  return 1.0f;
}

Napi::Value OptimizerRules(const Napi::CallbackInfo& info) {
  Napi::Array names = Napi::Array::New(info.Env(), kRuleCount);
  for (uint32_t i = 0; i < kRuleCount; ++i) names.Set(i, kRules[i].name);
  return names;
}

Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "optimizer step: expected an array of entries");
  Napi::Array list = info[0].As<Napi::Array>();
  uint32_t count = list.Length();
  std::vector<Entry> entries;
  entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) entries.push_back(Parse(env, list.Get(i), i));
  // The same parameter twice in one batch would be updated twice from one gradient.
  std::vector<const float*> params;
  for (const Entry& e : entries) if (e.rows * e.cols != 0) params.push_back(e.w);
  std::sort(params.begin(), params.end());
  if (std::adjacent_find(params.begin(), params.end()) != params.end()) {
    throw Napi::RangeError::New(env, "optimizer step: a parameter appears twice in one step");
  }
  Napi::Array skipped = Napi::Array::New(env);
  std::vector<bool> run(count, true);
  RunSync(env, [&] {
    for (uint32_t i = 0; i < count; ++i) {
      const Entry& e = entries[i];
      if (!AllFinite(e.g, e.rows * e.cols)) {
        if (!e.skipNonFinite) {
          throw ComputeError("optimizer step: the gradient of parameter " + std::to_string(i) +
                                 " contains NaN or Infinity; nothing was changed",
                             true);
        }
        run[i] = false;
        continue;
      }
      if (e.rule->check) {
        RuleArgs args{e.w, e.g, e.rows, e.cols, e.buffers.data(), e.scalars.data(), nullptr, nullptr};
        e.rule->check(args);
      }
    }
    for (uint32_t i = 0; i < count; ++i) if (run[i]) Run(entries[i]);
  });
  for (uint32_t i = 0, k = 0; i < count; ++i) if (!run[i]) skipped.Set(k++, i);
  return skipped;
}

}  // namespace specopt
