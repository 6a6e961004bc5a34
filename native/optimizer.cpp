// The one native entry point of the optimizers: a batch of (parameter, gradient, state) entries,
// each with its own rule and per-step scalars, updated in one call. The pieces every rule shares
// live here: argument checks, the non-finite scan, the spectral-norm penalty (seed 001) and the
// rank-1 factors of the spectral weight decay (seed 000).
#include "optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "blas.hpp"
#include "job.hpp"
#include "kernels.hpp"
#include "rules/rules.hpp"

namespace specopt {

namespace {

// 66 scalars: NorMuon's 12 (Muon's 11) and up to 18 Newton-Schulz coefficient triples.
constexpr size_t kMaxBuffers = 7, kMaxScalars = 66;
// Muon's and NorMuon's coefficient triples: at most 18 (src/optim/rules/muon.ts' MAX_SETS).
constexpr size_t kMaxNsSets = 18;
// The most doubles a group-sum rule's partial pass gives (Rule::groupSums).
constexpr size_t kMaxGroupSums = 8;

// The state buffers' lengths of one entry: a fixed array, as a planned batch re-derives them on
// every step (no allocation).
class Lengths {
 public:
  Lengths() = default;
  Lengths(std::initializer_list<size_t> values) {
    for (size_t v : values) push_back(v);
  }
  void push_back(size_t v) {
    if (count_ == kMaxBuffers) throw std::invalid_argument("too many state buffers");
    values_[count_++] = v;
  }
  size_t size() const { return count_; }
  size_t operator[](size_t i) const { return values_[i]; }
  const size_t* begin() const { return values_; }
  const size_t* end() const { return values_ + count_; }

 private:
  size_t values_[kMaxBuffers] = {};
  size_t count_ = 0;
};

using Layout = Lengths (*)(size_t rows, size_t cols, const double* s);

struct Rule {
  const char* name;
  size_t scalarCount;  // or the least, when scalarsNeeded says how many the first ones ask for
  Layout layout;  // the state buffers' lengths; throws std::invalid_argument on bad scalars
  void (*step)(const RuleArgs&);
  void (*check)(const RuleArgs&);
  // Entry-wise rules (every buffer as long as W, no reductions) run in parallel chunks; their
  // decoupled-decay coefficient is scalars[decayScalar] (-1: no decoupled decay).
  bool entrywise = false;
  int decayScalar = -1;
  bool blas = false;  // calls BLAS/LAPACK itself: never run from several threads at once
  // Rules with a variable number of scalars (Muon's coefficient triples): the count the first
  // scalarCount of them ask for; it must be the count given.
  size_t (*scalarsNeeded)(const double* s) = nullptr;
  // Entry-wise rules with cautious masking: scalars[cautiousScalar] is 1 when on (0 off) and the
  // next one is cautiousFactor; `aligned` counts a chunk's entries whose update agrees in sign
  // with the gradient, reading only. Run sums it over the whole parameter before any chunk is
  // written and hands the rule the mask's two factors (RuleArgs::cautiousAligned/Other).
  size_t (*aligned)(const RuleArgs&) = nullptr;
  int cautiousScalar = -1;
  // Group-sum rules (Prodigy's distance estimate d): a value shared by the entries of one
  // optimizer stepped in one call (the reference's param group), updated from sums over them.
  // Every entry of such a rule gives, as its last scalar, the index in the batch of its group's
  // first entry (ResolveGroups checks it). After every check and before the first write, each
  // entry that is stepped runs `partial` (read-only; the clipping factor as RuleArgs::gradScale)
  // for groupSums doubles; the group's totals, added in entry order from 0 (whatever the threads),
  // reach each entry's step as RuleArgs::group. An entry skipped for a non-finite gradient adds
  // nothing. The first groupScalars scalars are the group's hyperparameters: every entry is stepped
  // with its group's first entry's (the rest, such as a first-step flag, are its own). State
  // buffer groupState (-1: none) holds the group's running values, of which every entry keeps an
  // identical copy: a group whose copies differ is refused before anything is written, and a
  // skipped entry gets the new copy of its group's first stepped entry. A spectral penalty is
  // added once, before the partial pass, to a copy both passes read. Such rules are not
  // entry-wise and have no spectral decay.
  size_t groupSums = 0;
  void (*partial)(const RuleArgs& args, double* sums) = nullptr;
  size_t groupScalars = 0;
  int groupState = -1;
  // Entry-wise rules with running values of their own (schedule-free's lr_max and weight sum):
  // `prepare` runs once per entry, on the whole parameter, before the chunks; it may update the
  // buffers from entryBuffers on (small ones, passed to the chunks as they are, not offset) and
  // append the step's derived scalars to its copy of the scalars (up to kMaxScalars).
  void (*prepare)(const RuleArgs& args, double* scalars) = nullptr;
  size_t entryBuffers = kMaxBuffers;
  // Entry-wise rules that need sums over the whole parameter before writing (LAMB's trust ratio):
  // `sums` gives chunkSums doubles per chunk (read-only, the same chunks as the writing pass);
  // their totals, added in chunk order, reach `finish`, which appends the step's derived scalars.
  size_t (*chunkSums)(const double* scalars) = nullptr;
  void (*sums)(const RuleArgs& chunk, double* out) = nullptr;
  void (*finish)(const RuleArgs& whole, const double* totals, double* scalars) = nullptr;
};

Lengths Optional(bool present, size_t n) { return present ? Lengths{n} : Lengths{}; }

size_t Choice(double x, size_t count, const char* what) {
  if (!(x >= 0) || x != std::floor(x) || x >= double(count)) throw std::invalid_argument(what);
  return size_t(x);
}

// The cautious flag (0 or 1) and cautiousFactor (in [0, 1]) at s[k], s[k + 1].
void CheckCautious(const double* s, size_t k, const char* rule) {
  if (!(s[k] == 0 || s[k] == 1)) throw std::invalid_argument(std::string(rule) + ": cautious must be 0 or 1");
  if (!(s[k + 1] >= 0 && s[k + 1] <= 1)) throw std::invalid_argument(std::string(rule) + ": cautiousFactor must be in [0, 1]");
}

const Rule kRules[] = {
    {"sgd", 9,
     [](size_t r, size_t c, const double* s) {
       CheckCautious(s, 7, "sgd");
       if (s[7] != 0 && !(s[1] > 0)) throw std::invalid_argument("sgd: cautious needs momentum > 0");
       return Optional(s[1] > 0, r * c);
     },
     SgdStep, nullptr, true, 5, false, nullptr, SgdAligned, 7},
    {"signsgd", 3, [](size_t r, size_t c, const double* s) { return Optional(s[1] > 0, r * c); }, SignSgdStep, nullptr, true, 2},
    {"pbsgd", 5, [](size_t r, size_t c, const double* s) { return Optional(s[2] > 0, r * c); }, PbSgdStep, nullptr},
    {"adagrad", 3, [](size_t r, size_t c, const double*) { return Lengths{r * c}; }, AdagradStep, nullptr, true},
    {"rmsprop", 6,
     [](size_t r, size_t c, const double* s) {
       Lengths l{r * c};
       if (s[5] != 0) l.push_back(r * c);
       if (s[4] > 0) l.push_back(r * c);
       return l;
     },
     RmspropStep, nullptr, true},
    {"adam", 10,
     [](size_t r, size_t c, const double* s) {
       CheckCautious(s, 8, "adam");
       Lengths l{r * c, r * c};
       if (s[7] != 0) l.push_back(r * c);
       return l;
     },
     AdamStep, nullptr, true, 4, false, nullptr, AdamAligned, 8},
    {"adafactor", 9,
     [](size_t r, size_t c, const double* s) {
       Lengths l = s[8] != 0 ? Lengths{r, c} : Lengths{r * c};
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
           throw std::invalid_argument("adam-mini: blocks (row groups) must divide the rows");
         }
         blocks = size_t(h);
       }
       return Lengths{r * c, blocks};
     },
     AdamMiniStep, nullptr},
    {"sphere-sgd", 5,
     [](size_t, size_t, const double* s) {
       Choice(s[2], 3, "sphere-sgd: axis must be 0..2");
       return Lengths{};
     },
     SphereSgdStep, SphereSgdCheck},
    {"muon", 5 + kNsFixed,
     [](size_t r, size_t c, const double* s) {
       CheckNsScalars(s + 5, "muon", kMaxNsSets);
       return Lengths{r * c};
     },
     MuonStep, MuonCheck, false, -1, true,
     [](const double* s) {
       size_t block = NsScalarsNeeded(s + 5, kMaxNsSets);
       return block == 0 ? size_t(0) : 5 + block;
     }},
    {"shampoo", 15,
     [](size_t r, size_t c, const double* s) {
       size_t grafting = Choice(s[8], 4, "shampoo: grafting must be 0..3");
       bool left = s[10] != 0, right = s[11] != 0;
       Lengths l;
       if (s[1] > 0) l.push_back(r * c);
       if (left) l.push_back(r * r);
       if (right) l.push_back(c * c);
       if (left) l.push_back(r * r);
       if (right) l.push_back(c * c);
       if (grafting >= 2) l.push_back(r * c);
       l.push_back(2);
       if (!(s[6] >= 1) || !(s[4] > 0)) throw std::invalid_argument("shampoo: bad frequency or exponent");
       return l;
     },
     ShampooStep, nullptr, false, -1, true},
    {"adagrad-full", 2,
     [](size_t r, size_t c, const double*) {
       if (r * c > 16384) throw std::invalid_argument("adagrad-full: more than 16384 entries");
       return Lengths{r * c * r * c};
     },
     AdagradFullStep, AdagradFullCheck, false, -1, true},
    {"galore-adamw", 9,
     [](size_t r, size_t c, const double* s) {
       double rank = s[7];
       if (!(rank >= 1) || rank != std::floor(rank) || rank > double(std::min(r, c))) {
         throw std::invalid_argument("galore-adamw: rank must be in 1..min(rows, cols)");
       }
       Choice(s[8], 2, "galore-adamw: projector must be 0..1");
       size_t k = size_t(rank);
       size_t projected = r >= c ? r * k : k * c;
       return Lengths{r >= c ? k * c : r * k, projected, projected};
     },
     GaloreStep, nullptr, false, -1, true},
    {"soap", 12,
     [](size_t r, size_t c, const double* s) {
       bool left = s[9] != 0, right = s[10] != 0;
       if ((left || right) && (r == 1 || c == 1)) throw std::invalid_argument("soap: vectors are not preconditioned");
       Lengths l{r * c, r * c};
       for (size_t side : {left ? r : 0, right ? c : 0}) {
         if (side == 0) continue;
         l.push_back(side * side);  // statistic
         l.push_back(side * side);  // basis
       }
       l.push_back(2);
       return l;
     },
     SoapStep, nullptr, false, -1, true},
    {"adafactor-torch", 8, [](size_t r, size_t c, const double*) { return Lengths{r, c}; }, AdafactorTorchStep, nullptr},
    {"nadam", 9, [](size_t r, size_t c, const double*) { return Lengths{r * c, r * c, 1}; }, NadamStep, nullptr},
    {"radam", 9, [](size_t r, size_t c, const double*) { return Lengths{r * c, r * c}; }, RadamStep, nullptr, true, 4},
    {"adamax", 5, [](size_t r, size_t c, const double*) { return Lengths{r * c, r * c}; }, AdamaxStep, nullptr, true},
    {"adadelta", 4, [](size_t r, size_t c, const double*) { return Lengths{r * c, r * c}; }, AdadeltaStep, nullptr, true},
    {"rprop", 4, [](size_t r, size_t c, const double*) { return Lengths{r * c, r * c}; }, RpropStep, nullptr, true},
    // Issue 12.
    {"lion", 6,
     [](size_t r, size_t c, const double* s) {
       CheckCautious(s, 4, "lion");
       return Lengths{r * c};
     },
     LionStep, nullptr, true, 3, false, nullptr, LionAligned, 4},
    {"ademamix", 11,
     [](size_t r, size_t c, const double* s) {
       CheckCautious(s, 9, "ademamix");
       return Lengths{r * c, r * c, r * c};
     },
     AdemamixStep, nullptr, true, -1, false, nullptr, AdemamixAligned, 9},
    // buffers: dState (the group's d, d_max, d_numerator, k: 4 pairs), s, p0, expAvgSq, expAvg (β₁ > 0)
    {"prodigy", 14,
     [](size_t r, size_t c, const double* s) {
       if (!(s[9] > 0) || !std::isfinite(s[9])) throw std::invalid_argument("prodigy: d0 must be finite and > 0");
       Lengths l{8, r * c, r * c, r * c};
       if (s[1] > 0) l.push_back(r * c);
       return l;
     },
     ProdigyStep, nullptr, false, -1, false, nullptr, nullptr, -1, 2, ProdigyPartial, 12, 0},
    // Issue 12: LAMB (two passes: the trust ratio's norms, then the write), Schedule-Free AdamW/SGD
    // (their group values, lr_max and weight_sum, and the mode in a 5-float 'group' buffer).
    {"lamb", 9, [](size_t r, size_t c, const double*) { return Lengths{r * c, r * c}; }, LambStep, nullptr, true, -1,
     false, nullptr, nullptr, -1, 0, nullptr, 0, -1, nullptr, kMaxBuffers,
     [](const double* s) { return s[7] != 0 ? kLambCautiousSums : size_t{2}; }, LambSums, LambFinish},
    {"schedule-free-adamw", 8, [](size_t r, size_t c, const double*) { return Lengths{r * c, r * c, 5}; },
     ScheduleFreeAdamwStep, ScheduleFreeAdamwCheck, true, -1, false, nullptr, nullptr, -1, 0, nullptr, 0, -1,
     ScheduleFreeAdamwPrepare, 2},
    {"schedule-free-sgd", 6, [](size_t r, size_t c, const double*) { return Lengths{r * c, 5}; }, ScheduleFreeSgdStep,
     ScheduleFreeSgdCheck, true, -1, false, nullptr, nullptr, -1, 0, nullptr, 0, -1, ScheduleFreeSgdPrepare, 1},
    {"normuon", 6 + kNsFixed,
     [](size_t r, size_t c, const double* s) {
       CheckNsScalars(s + 6, "normuon", kMaxNsSets);
       return Lengths{r * c, r};
     },
     NormuonStep, NormuonCheck, false, -1, true,
     [](const double* s) {
       size_t block = NsScalarsNeeded(s + 6, kMaxNsSets);
       return block == 0 ? size_t(0) : 6 + block;
     }},
};
constexpr size_t kRuleCount = sizeof(kRules) / sizeof(kRules[0]);

// One parameter's step, parsed and checked.
struct Entry {
  const Rule* rule;
  float* w;
  const float* g;
  size_t rows, cols;
  size_t bufferCount;
  float* buffers[kMaxBuffers];
  size_t bufferLengths[kMaxBuffers];
  double scalars[kMaxScalars];
  size_t scalarOffset;  // where the scalars start in the batch's numbers
  size_t scalarCount;
  double penalty;
  bool spectralDecay;
  size_t spectralIters;
  float* warm;  // last v₁ (or u₁) for a warm start; all zeros until the first step stores one
  bool skipNonFinite;
  uint32_t leader;  // group-sum rules: the index of its group's first entry (ResolveGroups)
};

// The batch's wire format (built by src/optim/optimizer.ts): one JS array of Float32Arrays,
// [param, grad, ...state buffers, warm start?] per entry, and one Float64Array of numbers,
// [rule, rows, cols, penalty, spectralDecay, spectralIters, hasWarm, skipNonFinite,
//  bufferCount, scalarCount, ...scalars] per entry. Everything is re-checked here.
class BatchReader {
 public:
  // Every array handed out is appended to `seen` when given (a StepPlan keeps them).
  BatchReader(const Napi::Env& env, const std::vector<napi_value>& arrays, const double* numbers, size_t count,
              std::vector<std::pair<Napi::Value, FloatView>>* seen = nullptr)
      : env_(env), arrays_(arrays), numbers_(numbers), count_(count), arrayCount_(arrays.size()), seen_(seen) {}

  double Number() {
    if (at_ >= count_) throw Napi::RangeError::New(env_, "the batch's numbers end early");
    return numbers_[at_++];
  }
  size_t Size(size_t limit) {
    double x = Number();
    if (!(x >= 0) || x != std::floor(x) || x > double(limit)) throw Napi::RangeError::New(env_, "a count or size is out of range");
    return size_t(x);
  }
  float* Floats(size_t expected, const char* what) {
    if (next_ >= arrayCount_) throw Napi::RangeError::New(env_, "the batch's arrays end early");
    Napi::Value v(env_, arrays_[next_++]);
    FloatView view = specopt::Floats(env_, v, expected, what);
    if (seen_) seen_->emplace_back(v, view);
    return view.data;
  }
  bool Done() const { return at_ == count_ && next_ == arrayCount_; }
  size_t Offset() const { return at_; }

 private:
  Napi::Env env_;
  const std::vector<napi_value>& arrays_;
  const double* numbers_;
  size_t count_, at_ = 0;
  size_t arrayCount_, next_ = 0;
  std::vector<std::pair<Napi::Value, FloatView>>* seen_;
};

Entry ParseFields(const Napi::Env& env, BatchReader& in) {
  Entry r{};
  r.rule = &kRules[in.Size(kRuleCount - 1)];
  r.rows = in.Size(kMaxLapackDim);
  r.cols = in.Size(kMaxLapackDim);
  size_t n = Count(env, r.rows, r.cols, "param");
  r.penalty = in.Number();
  if (!(r.penalty >= 0) || !std::isfinite(r.penalty)) throw Napi::RangeError::New(env, "spectralPenalty must be finite and >= 0");
  r.spectralDecay = in.Number() != 0;
  if (r.spectralDecay && r.rule->entrywise && r.rule->decayScalar < 0) {
    throw Napi::RangeError::New(env, std::string(r.rule->name) + " has no decoupled weight decay to make spectral");
  }
  if (r.rule->groupSums != 0 && r.spectralDecay) {
    throw Napi::RangeError::New(env, std::string(r.rule->name) + " has no spectral decay");
  }
  r.spectralIters = in.Size(1u << 20);
  bool hasWarm = in.Number() != 0;
  r.skipNonFinite = in.Number() != 0;
  size_t bufferCount = in.Size(kMaxBuffers);
  size_t scalarCount = in.Size(kMaxScalars);
  bool variable = r.rule->scalarsNeeded != nullptr;
  if (variable ? scalarCount < r.rule->scalarCount : scalarCount != r.rule->scalarCount) {
    throw Napi::RangeError::New(env, "wrong scalar count");
  }
  r.scalarOffset = in.Offset();
  r.scalarCount = scalarCount;
  for (size_t i = 0; i < scalarCount; ++i) r.scalars[i] = in.Number();
  if (variable && r.rule->scalarsNeeded(r.scalars) != scalarCount) throw Napi::RangeError::New(env, "wrong scalar count");
  Lengths layout;
  try {
    layout = r.rule->layout(r.rows, r.cols, r.scalars);
  } catch (const std::invalid_argument& error) {
    throw Napi::RangeError::New(env, error.what());
  }
  if (bufferCount != layout.size()) {
    throw Napi::TypeError::New(env, "expected " + std::to_string(layout.size()) + " state buffers");
  }
  r.bufferCount = bufferCount;
  std::copy(layout.begin(), layout.end(), r.bufferLengths);
  r.w = in.Floats(n, "param.data");
  r.g = in.Floats(n, "grad.data");
  for (size_t b = 0; b < bufferCount; ++b) r.buffers[b] = in.Floats(layout[b], "state buffer");
  r.warm = hasWarm ? in.Floats(std::min(r.rows, r.cols), "spectral warm start") : nullptr;
  // Every float array of an entry must be distinct: a rule writes W and its buffers in one pass.
  std::pair<const float*, size_t> spans[kMaxBuffers + 3] = {{r.w, n}, {r.g, n}};
  size_t spanCount = 2;
  for (size_t b = 0; b < r.bufferCount; ++b) spans[spanCount++] = {r.buffers[b], layout[b]};
  if (r.warm) spans[spanCount++] = {r.warm, std::min(r.rows, r.cols)};
  for (size_t x = 0; x < spanCount; ++x)
    for (size_t y = x + 1; y < spanCount; ++y) {
      auto [p, pn] = spans[x];
      auto [q, qn] = spans[y];
      if (pn && qn && p < q + qn && q < p + pn) {
        throw Napi::RangeError::New(env, "param, grad and state buffers must not overlap");
      }
    }
  return r;
}

// Messages are built only when something is wrong: this runs for every parameter of every step.
Entry Parse(const Napi::Env& env, BatchReader& in, uint32_t index) {
  try {
    return ParseFields(env, in);
  } catch (const Napi::Error& error) {
    std::string message = "optimizer step, parameter " + std::to_string(index) + ": " + error.Message();
    error.Value().Set("message", message);
    throw;
  }
}

// A group-sum entry's scalars (see Rule::groupSums): its group's first entry's hyperparameters,
// its own for the rest.
void GroupScalars(const Entry& e, const Entry& first, double* out) {
  size_t shared = std::min(e.rule->groupScalars, e.scalarCount);
  std::copy_n(first.scalars, shared, out);
  std::copy(e.scalars + shared, e.scalars + e.scalarCount, out + shared);
}

struct GroupError {
  uint32_t index;
  std::string what;
};

// Reads every group-sum entry's group (its last scalar: the index of the group's first entry,
// an entry of the same rule at or before it that is its own group's first) and checks that its
// group's hyperparameters fit its state buffers. Throws GroupError naming the entry.
void ResolveGroups(std::vector<Entry>& entries) {
  for (uint32_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    if (e.rule->groupSums == 0) continue;
    double x = e.scalarCount ? e.scalars[e.scalarCount - 1] : -1;
    if (!(x >= 0) || x != std::floor(x) || x > double(i)) {
      throw GroupError{i, "the group (the last scalar) must be the index of the group's first entry, at most this one's"};
    }
    uint32_t first = uint32_t(x);
    const Entry& f = entries[first];
    if (f.rule != e.rule || (first != i && f.leader != first)) {
      throw GroupError{i, "the group's first entry must be of the same rule and the first of its own group"};
    }
    e.leader = first;
    if (first == i) continue;
    double scalars[kMaxScalars];
    GroupScalars(e, f, scalars);
    Lengths layout;
    try {
      layout = e.rule->layout(e.rows, e.cols, scalars);
    } catch (const std::invalid_argument& error) {
      throw GroupError{i, error.what()};
    }
    if (layout.size() != e.bufferCount || !std::equal(layout.begin(), layout.end(), e.bufferLengths)) {
      throw GroupError{i, "its group's hyperparameters do not fit its state buffers"};
    }
  }
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

// Threads for an entry-wise pass over n floats: OpenBLAS's count (so setNumThreads governs both),
// and one below ~256 KiB, where starting the team costs more than the second core gives.
int PassThreads(size_t n) {
  constexpr size_t kParallelFloats = size_t{1} << 16;
  return n < kParallelFloats ? 1 : std::max(1, openblas_get_num_threads());
}

// Splits [0, n) into `parts` ranges aligned to 64 bytes and runs f(begin, end) on each, in parallel.
template <typename F>
void ParallelRanges(size_t n, int parts, F f) {
  if (parts <= 1) {
    f(size_t{0}, n);
    return;
  }
  size_t chunk = ((n + parts - 1) / parts + 15) & ~size_t{15};
  std::exception_ptr failure;  // no exception may leave an OpenMP region (std::terminate)
#pragma omp parallel for num_threads(parts) schedule(static)
  for (int p = 0; p < parts; ++p) {
    size_t begin = std::min(n, size_t(p) * chunk), end = std::min(n, begin + chunk);
    try {
      if (begin < end) f(begin, end);
    } catch (...) {
#pragma omp critical(specopt_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

// Runs f(k) for every k in [0, count) on `threads` threads, each taking one contiguous run of
// k's holding about the same number of floats (size(k)): many small parameters are shared out as
// evenly as one large one, each thread streaming through neighbouring entries, with no queue.
template <typename S, typename F>
void Balanced(size_t count, int threads, S size, F f) {
  if (threads <= 1 || count < 2) {
    for (size_t k = 0; k < count; ++k) f(k);
    return;
  }
  size_t total = 0;
  for (size_t k = 0; k < count; ++k) total += size(k);
  std::vector<size_t> cut(size_t(threads) + 1, count);
  cut[0] = 0;
  size_t sum = 0, p = 1;
  for (size_t k = 0; k < count && p < size_t(threads); ++k) {
    while (p < size_t(threads) && sum >= total / size_t(threads) * p) cut[p++] = k;
    sum += size(k);
  }
  std::exception_ptr failure;  // no exception may leave an OpenMP region (std::terminate)
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    try {
      for (size_t k = cut[t]; k < cut[t + 1]; ++k) f(k);
    } catch (...) {
#pragma omp critical(specopt_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

// stepMany's maxGradNorm: every gradient scaled by min(1, maxNorm / (total + 1e-6)), the total
// norm taken over the whole batch (torch.nn.utils.clip_grad_norm_), or by a factor given.
struct Clip {
  enum Mode { kNone = 0, kNorm2 = 1, kNormInf = 2, kFactor = 3 } mode = kNone;
  double value = 0;  // maxNorm, or the factor
};

// What a batch's step did: the entries skipped for a non-finite gradient, and when clipping, the
// total norm before clipping (NaN when the factor was given) and the factor applied.
struct StepOutcome {
  std::vector<uint32_t> skipped;
  double norm = std::nan("");
  float scale = 1.0f;
};

// One gradient's scan for the clipping: Σg² (kNorm2) or the largest |g|'s bits (kNormInf) as a
// double, not finite exactly when the gradient holds NaN or ±Inf. Without clipping, only that.
double Scan(const float* g, size_t n, Clip::Mode mode) {
  if (mode == Clip::kNorm2) return SumSquares(g, n);
  if (mode == Clip::kNormInf) {
    uint32_t bits = MaxAbsBits(g, n);
    if (bits >= 0x7f800000u) return std::nan("");
    float m;
    std::memcpy(&m, &bits, sizeof m);
    return double(m);
  }
  return AllFinite(g, n) ? 0.0 : std::nan("");
}

// Scan of a large gradient split over the threads; the parts are combined in a fixed order.
double ScanParallel(const Entry& e, Clip::Mode mode) {
  size_t n = e.rows * e.cols;
  int parts = PassThreads(n);
  if (parts == 1) return Scan(e.g, n, mode);
  std::vector<double> part(parts, 0.0);
  size_t chunk = ((n + parts - 1) / parts + 15) & ~size_t{15};
  ParallelRanges(n, parts, [&](size_t begin, size_t end) { part[begin / chunk] = Scan(e.g + begin, end - begin, mode); });
  double total = 0;
  for (double x : part) total = mode == Clip::kNormInf ? (std::isnan(x) || std::isnan(total) ? x + total : std::max(total, x)) : total + x;
  return total;
}

// The penalized gradient's buffer, kept between steps: a fresh one would be page-faulted in on
// every step (measured at 4096^2: 36 ms to fill a new 64 MiB buffer, 9 ms to refill this one).
// Safe to share: every optimizer step holds BlasMutex.
std::vector<float>& Scratch() {
  static std::vector<float> scratch;
  return scratch;
}

// The clipped gradient of a rule that is not entry-wise: a copy, one per thread (small entries
// of such rules run on several threads at once), kept between steps like Scratch.
std::vector<float>& ScaledScratch() {
  thread_local std::vector<float> scaled;
  return scaled;
}

// `scale` is the clipping factor (1: none). The caller's gradient is never written. A group-sum
// entry is given its scalars (its group's hyperparameters), its group's totals, and with a
// spectral penalty the penalized (and clipped) gradient its partial pass read.
void Run(const Entry& e, float scale, const double* groupScalars = nullptr, const double* group = nullptr,
         const float* prepared = nullptr) {
  const double* entryScalars = groupScalars != nullptr ? groupScalars : e.scalars;
  size_t n = e.rows * e.cols;
  std::vector<float> a, b;
  const float* g = e.g;
  float gradScale = 1.0f;  // what an entry-wise rule's loop multiplies g by
  bool rank1 = prepared == nullptr && (e.penalty != 0 || e.spectralDecay) && n > 0 && Rank1(e, a, b);
  if (prepared != nullptr) {
    g = prepared;
  } else if (e.penalty != 0 && rank1) {
    // scale·G + κ·∇‖W‖₂² = scale·G + 2κ·σ₁u₁v₁ᵀ (clipping comes first, as clip_grad_norm_ before
    // the step), in a copy: the caller's gradient is left as it was.
    std::vector<float>& penalized = Scratch();
    if (penalized.size() < n) penalized.resize(n);
    if (scale == 1.0f) std::copy_n(e.g, n, penalized.data());
    else for (size_t i = 0; i < n; ++i) penalized[i] = e.g[i] * scale;
    cblas_sger(CblasRowMajor, blasint(e.rows), blasint(e.cols), float(2 * e.penalty), a.data(), 1,
               b.data(), 1, penalized.data(), blasint(e.cols));
    g = penalized.data();
  } else if (scale != 1.0f && e.rule->entrywise) {
    gradScale = scale;
  } else if (scale != 1.0f) {
    std::vector<float>& scaled = ScaledScratch();
    if (scaled.size() < n) scaled.resize(n);
    for (size_t i = 0; i < n; ++i) scaled[i] = e.g[i] * scale;
    g = scaled.data();
  }
  if (e.spectralDecay && !rank1) {
    // W·v₁v₁ᵀ vanished (W = 0): the decay term is zero.
    a.assign(e.rows, 0.0f);
    b.assign(e.cols, 0.0f);
  }
  const float* left = e.spectralDecay ? a.data() : nullptr;
  const float* right = e.spectralDecay ? b.data() : nullptr;
  if (!e.rule->entrywise) {
    RuleArgs args{e.w, g, e.rows, e.cols, e.buffers, entryScalars, left, right};
    args.group = group;
    e.rule->step(args);
    return;
  }
  // Entry-wise rules run on chunks of the flattened parameter, one per thread; the spectral decay
  // (a rank-1 update of all of W) is applied once, first, and the chunks then see no decay.
  double scalars[kMaxScalars] = {};  // Prepare and finish append derived scalars after the given ones
  std::copy_n(entryScalars, e.scalarCount, scalars);
  if (left) {
    RuleArgs{e.w, g, e.rows, e.cols, e.buffers, scalars, left, right, gradScale}.Decay(scalars[e.rule->decayScalar]);
    scalars[e.rule->decayScalar] = 0;
  }
  if (e.rule->prepare) e.rule->prepare(RuleArgs{e.w, g, e.rows, e.cols, e.buffers, scalars, nullptr, nullptr, gradScale}, scalars);
  int parts = PassThreads(n);
  auto chunk = [&](size_t begin, size_t end, float* (&buffers)[kMaxBuffers]) {
    for (size_t k = 0; k < e.bufferCount; ++k) buffers[k] = k < e.rule->entryBuffers ? e.buffers[k] + begin : e.buffers[k];
    return RuleArgs{e.w + begin, g + begin, 1, end - begin, buffers, scalars, nullptr, nullptr, gradScale};
  };
  if (e.rule->sums) {
    // Sums over the whole parameter (read-only, the writing pass's chunks), added in chunk order.
    size_t width = e.rule->chunkSums(scalars), chunkSize = ((n + parts - 1) / parts + 15) & ~size_t{15};
    std::vector<double> part(size_t(std::max(parts, 1)) * width, 0.0), totals(width, 0.0);
    ParallelRanges(n, parts, [&](size_t begin, size_t end) {
      float* buffers[kMaxBuffers];
      e.rule->sums(chunk(begin, end, buffers), &part[(parts <= 1 ? 0 : begin / chunkSize) * width]);
    });
    for (size_t c = 0; c < part.size(); ++c) totals[c % width] += part[c];
    e.rule->finish(RuleArgs{e.w, g, e.rows, e.cols, e.buffers, scalars, nullptr, nullptr, gradScale}, totals.data(), scalars);
  }
  // Cautious masking: the mean of the mask is over the whole parameter, so the chunks' counts
  // (the same chunks, read only) are summed before any chunk is written.
  float on = 1.0f, off = 1.0f;
  int cs = e.rule->cautiousScalar;
  if (cs >= 0 && scalars[cs] != 0) {
    size_t chunkSize = ((n + parts - 1) / parts + 15) & ~size_t{15};
    std::vector<size_t> counts(size_t(std::max(parts, 1)), 0);
    ParallelRanges(n, parts, [&](size_t begin, size_t end) {
      float* buffers[kMaxBuffers];
      counts[parts <= 1 ? 0 : begin / chunkSize] = e.rule->aligned(chunk(begin, end, buffers));
    });
    size_t aligned = 0;
    for (size_t c : counts) aligned += c;
    CautiousScales(aligned, n, scalars[cs + 1], &on, &off);
  }
  ParallelRanges(n, parts, [&](size_t begin, size_t end) {
    float* buffers[kMaxBuffers];
    RuleArgs args = chunk(begin, end, buffers);
    args.cautiousAligned = on;
    args.cautiousOther = off;
    args.group = group;
    e.rule->step(args);
  });
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

namespace {

// The numbers argument: a Float64Array.
const double* Numbers(const Napi::Env& env, const Napi::Value& v, size_t* count) {
  napi_typedarray_type type = napi_int8_array;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, count, &data, nullptr, nullptr) != napi_ok || type != napi_float64_array) {
    throw Napi::TypeError::New(env, "optimizer step: numbers must be a Float64Array");
  }
  return static_cast<const double*>(data);
}

// Parses and checks a whole batch; `seen` (optional) receives every array read.
std::vector<Entry> ParseBatch(const Napi::Env& env, const Napi::Value& arrays, const Napi::Value& numbersValue,
                              const Napi::Value& countValue,
                              std::vector<std::pair<Napi::Value, FloatView>>* seen = nullptr) {
  if (!arrays.IsArray()) throw Napi::TypeError::New(env, "optimizer step: expected (arrays, numbers, count)");
  // The array's elements are read first, all of them: reading one can run JS (a getter), which
  // could detach or resize any buffer. No data pointer is taken until they are all in hand.
  uint32_t arrayCount = arrays.As<Napi::Array>().Length();
  std::vector<napi_value> values(arrayCount);
  for (uint32_t i = 0; i < arrayCount; ++i) {
    if (napi_get_element(env, arrays, i, &values[i]) != napi_ok) throw Napi::Error::New(env);
  }
  if (arrays.As<Napi::Array>().Length() != arrayCount) {
    throw Napi::RangeError::New(env, "optimizer step: the arrays changed while they were read");
  }
  size_t numberCount = 0;
  const double* numbers = Numbers(env, numbersValue, &numberCount);
  // Every entry takes at least 10 numbers and 2 arrays: a count beyond that is a lie, and is
  // caught before anything is reserved for it.
  size_t count = Dim(env, countValue, "optimizer step: count");
  if (count > numberCount / 10 || count > arrayCount / 2) {
    throw Napi::RangeError::New(env, "optimizer step: count " + std::to_string(count) + " does not fit the batch (" +
                                         std::to_string(numberCount) + " numbers, " + std::to_string(arrayCount) +
                                         " arrays)");
  }
  BatchReader in(env, values, numbers, numberCount, seen);
  std::vector<Entry> entries;
  entries.reserve(count);
  for (size_t i = 0; i < count; ++i) entries.push_back(Parse(env, in, uint32_t(i)));
  if (!in.Done()) throw Napi::RangeError::New(env, "optimizer step: the batch has more data than its entries");
  try {
    ResolveGroups(entries);
  } catch (const GroupError& error) {
    throw Napi::RangeError::New(env, "optimizer step, parameter " + std::to_string(error.index) + ": " + error.what);
  }
  // The same parameter twice in one batch would be updated twice from one gradient.
  std::vector<const float*> params;
  for (const Entry& e : entries) if (e.rows * e.cols != 0) params.push_back(e.w);
  std::sort(params.begin(), params.end());
  if (std::adjacent_find(params.begin(), params.end()) != params.end()) {
    throw Napi::RangeError::New(env, "optimizer step: a parameter appears twice in one step");
  }
  return entries;
}

// The group sums of a batch's group-sum entries (see Rule::groupSums), found after every check
// and before the first write.
struct GroupPass {
  std::vector<uint32_t> members;   // the group-sum entries, in entry order
  std::vector<size_t> slot;        // per entry: its place among the members
  std::vector<double> scalars;     // kMaxScalars per member: what its step and partial pass read
  std::vector<double> totals;      // kMaxGroupSums per entry that is a group's first: the totals
  std::vector<int64_t> firstRun;   // per group's first entry: the group's first stepped entry (-1: none)
  std::vector<std::vector<float>> penalized;  // per member with a spectral penalty: its gradient

  bool Member(uint32_t i) const { return !members.empty() && slot[i] != SIZE_MAX; }
  const float* GradientOf(uint32_t i) const {
    return Member(i) && !penalized[slot[i]].empty() ? penalized[slot[i]].data() : nullptr;
  }
  const double* ScalarsOf(uint32_t i) const { return Member(i) ? &scalars[slot[i] * kMaxScalars] : nullptr; }
  const double* TotalsOf(const Entry& e, uint32_t i) const {
    return Member(i) ? &totals[size_t(e.leader) * kMaxGroupSums] : nullptr;
  }
};

// Checks the groups' copies of their running values (equal in every entry of a group, or the
// entries were not stepped together before) and runs every stepped member's partial pass, each
// on one thread (threads share out whole entries), then adds the sums per group in entry order.
// Throws ComputeError(badInput) before anything is written.
GroupPass Groups(const std::vector<Entry>& entries, const std::vector<bool>& run, float scale) {
  GroupPass out;
  uint32_t count = static_cast<uint32_t>(entries.size());
  for (uint32_t i = 0; i < count; ++i) if (entries[i].rule->groupSums != 0) out.members.push_back(i);
  if (out.members.empty()) return out;
  out.slot.assign(count, SIZE_MAX);
  out.scalars.assign(out.members.size() * kMaxScalars, 0.0);
  for (size_t k = 0; k < out.members.size(); ++k) {
    uint32_t i = out.members[k];
    const Entry& e = entries[i];
    const Entry& first = entries[e.leader];
    if (e.rule->groupSums > kMaxGroupSums) throw std::logic_error("a rule's group sums exceed kMaxGroupSums");
    out.slot[i] = k;
    GroupScalars(e, first, &out.scalars[k * kMaxScalars]);
    int b = e.rule->groupState;
    if (b >= 0 && i != e.leader &&
        (e.bufferLengths[b] != first.bufferLengths[b] ||
         std::memcmp(e.buffers[b], first.buffers[b], e.bufferLengths[b] * sizeof(float)) != 0)) {
      throw ComputeError("optimizer step, parameter " + std::to_string(i) + ": " + e.rule->name +
                             ": its state's group values differ from those of parameter " + std::to_string(e.leader) +
                             ", which the same optimizer steps in this call (the group's values are shared: were "
                             "these states stepped in separate calls, or is one of them new?); nothing was changed",
                         true);
    }
  }
  // The penalized gradients, as Run would form them (clipping first): BLAS, so one at a time.
  out.penalized.resize(out.members.size());
  for (size_t k = 0; k < out.members.size(); ++k) {
    const Entry& e = entries[out.members[k]];
    size_t n = e.rows * e.cols;
    if (!run[out.members[k]] || e.penalty == 0 || n == 0) continue;
    std::vector<float>& p = out.penalized[k];
    p.resize(n);
    for (size_t j = 0; j < n; ++j) p[j] = scale == 1.0f ? e.g[j] : e.g[j] * scale;
    std::vector<float> a, b;
    if (Rank1(e, a, b)) {
      cblas_sger(CblasRowMajor, blasint(e.rows), blasint(e.cols), float(2 * e.penalty), a.data(), 1, b.data(), 1,
                 p.data(), blasint(e.cols));
    }
  }
  std::vector<double> sums(out.members.size() * kMaxGroupSums, 0.0);
  int threads = std::max(1, openblas_get_num_threads());
  Balanced(
      out.members.size(), threads,
      [&](size_t k) { return run[out.members[k]] ? entries[out.members[k]].rows * entries[out.members[k]].cols : 0; },
      [&](size_t k) {
        uint32_t i = out.members[k];
        if (!run[i]) return;
        const Entry& e = entries[i];
        const float* g = out.penalized[k].empty() ? e.g : out.penalized[k].data();
        float gradScale = out.penalized[k].empty() ? scale : 1.0f;
        e.rule->partial(RuleArgs{e.w, g, e.rows, e.cols, e.buffers, &out.scalars[k * kMaxScalars], nullptr, nullptr, gradScale},
                        &sums[k * kMaxGroupSums]);
      });
  out.totals.assign(size_t(count) * kMaxGroupSums, 0.0);
  out.firstRun.assign(count, -1);
  for (size_t k = 0; k < out.members.size(); ++k) {
    uint32_t i = out.members[k];
    if (!run[i]) continue;
    uint32_t leader = entries[i].leader;
    if (out.firstRun[leader] < 0) out.firstRun[leader] = i;
    for (size_t j = 0; j < entries[i].rule->groupSums; ++j) out.totals[leader * kMaxGroupSums + j] += sums[k * kMaxGroupSums + j];
  }
  return out;
}

// Runs checked entries (no JS: also on a worker thread, under BlasMutex): every gradient is
// scanned, the clipping factor found and every rule's check run before the first write.
StepOutcome Compute(const std::vector<Entry>& entries, const Clip& clip) {
  uint32_t count = static_cast<uint32_t>(entries.size());
  StepOutcome outcome;
  std::vector<bool> run(count, true);
  {
    // The scan for NaN/Inf, which also sums the clipping norm: large gradients are split over
    // the threads inside ScanParallel, small ones are spread over them here.
    Clip::Mode scan = clip.mode == Clip::kFactor ? Clip::kNone : clip.mode;
    std::vector<double> partial(count, 0.0);
    int threads = std::max(1, openblas_get_num_threads());
    auto small = [&](size_t i) { return PassThreads(entries[i].rows * entries[i].cols) == 1; };
    Balanced(
        count, threads, [&](size_t i) { return small(i) ? entries[i].rows * entries[i].cols : 0; },
        [&](size_t i) {
          if (small(i)) partial[i] = Scan(entries[i].g, entries[i].rows * entries[i].cols, scan);
        });
    for (uint32_t i = 0; i < count; ++i) {
      const Entry& e = entries[i];
      if (PassThreads(e.rows * e.cols) > 1) partial[i] = ScanParallel(e, scan);
    }
    double total = 0;
    for (uint32_t i = 0; i < count; ++i) {
      const Entry& e = entries[i];
      if (std::isfinite(partial[i])) {
        total = scan == Clip::kNormInf ? std::max(total, partial[i]) : total + partial[i];
      } else {
        if (!e.skipNonFinite) {
          throw ComputeError("optimizer step, parameter " + std::to_string(i) +
                                 ": the gradient contains NaN or Infinity; nothing was changed",
                             true);
        }
        run[i] = false;
        continue;
      }
    }
    if (clip.mode == Clip::kNorm2 || clip.mode == Clip::kNormInf) {
      // The norm of the gradients that are stepped (a skipped one has none), torch's factor.
      outcome.norm = clip.mode == Clip::kNorm2 ? std::sqrt(total) : total;
      double factor = clip.value / (outcome.norm + 1e-6);
      if (factor < 1) outcome.scale = float(factor);
    } else if (clip.mode == Clip::kFactor) {
      outcome.scale = float(clip.value);
    }
    for (uint32_t i = 0; i < count; ++i) {
      const Entry& e = entries[i];
      if (!run[i]) continue;
      if (e.rule->check) {
        try {
          e.rule->check(RuleArgs{e.w, e.g, e.rows, e.cols, e.buffers, e.scalars, nullptr, nullptr});
        } catch (const ComputeError& error) {
          throw ComputeError("optimizer step, parameter " + std::to_string(i) + ": " + error.what(), error.badInput);
        }
      }
    }
    // Small entries that make no BLAS call (OpenBLAS must not be entered from several threads)
    // are spread over the threads; the others run one after another, each split internally.
    // Every failure the checks above can foresee has been raised by now. What is left (a LAPACK
    // routine that does not converge on finite input, memory running out) is reported naming
    // the entry, and whether entries before it were already updated.
    float scale = outcome.scale;
    GroupPass groups = Groups(entries, run, scale);
    bool written = false;
    auto runChecked = [&](uint32_t i) {
      try {
        Run(entries[i], scale, groups.ScalarsOf(i), groups.TotalsOf(entries[i], i), groups.GradientOf(i));
        written = true;
      } catch (const ComputeError& error) {
        throw ComputeError("optimizer step, parameter " + std::to_string(i) + ": " + error.what() +
                               (written ? " (entries before it in this call were already updated)" : "; nothing was changed"),
                           error.badInput);
      }
    };
    std::vector<uint32_t> spread;
    for (uint32_t i = 0; i < count; ++i) {
      const Entry& e = entries[i];
      if (!run[i]) continue;
      bool blasFree = e.penalty == 0 && !e.spectralDecay && !e.rule->blas;
      if (blasFree && PassThreads(e.rows * e.cols) == 1) spread.push_back(i);
      else runChecked(i);
    }
    Balanced(
        spread.size(), threads, [&](size_t k) { return entries[spread[k]].rows * entries[spread[k]].cols; },
        [&](size_t k) {
          uint32_t i = spread[k];
          Run(entries[i], scale, groups.ScalarsOf(i), groups.TotalsOf(entries[i], i), groups.GradientOf(i));
        });
    // A group's skipped entries get the group's new running values (Rule::groupSums).
    for (uint32_t i : groups.members) {
      const Entry& e = entries[i];
      int64_t source = groups.firstRun[e.leader];
      int b = e.rule->groupState;
      if (run[i] || source < 0 || b < 0) continue;
      std::copy_n(entries[size_t(source)].buffers[b], e.bufferLengths[b], e.buffers[b]);
    }
  }
  for (uint32_t i = 0; i < count; ++i) if (!run[i]) outcome.skipped.push_back(i);
  return outcome;
}

// The JS result: the skipped entries' indices; with clipping, { skipped, gradNorm, scale }.
Napi::Value Outcome(const Napi::Env& env, const StepOutcome& outcome, const Clip& clip) {
  Napi::Array skipped = Napi::Array::New(env, outcome.skipped.size());
  for (uint32_t k = 0; k < outcome.skipped.size(); ++k) skipped.Set(k, outcome.skipped[k]);
  if (clip.mode == Clip::kNone) return skipped;
  Napi::Object result = Napi::Object::New(env);
  result.Set("skipped", skipped);
  result.Set("gradNorm", outcome.norm);
  result.Set("scale", double(outcome.scale));
  return result;
}

Napi::Value Execute(const Napi::Env& env, const std::vector<Entry>& entries, const Clip& clip) {
  StepOutcome outcome;
  RunSync(env, [&] { outcome = Compute(entries, clip); });
  return Outcome(env, outcome, clip);
}

// The optional clipping argument: undefined, or a Float64Array [mode, value] (see Clip).
Clip ReadClip(const Napi::Env& env, const Napi::Value& v) {
  Clip clip;
  if (v.IsUndefined()) return clip;
  size_t count = 0;
  const double* x = nullptr;
  napi_typedarray_type type = napi_int8_array;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &count, &data, nullptr, nullptr) != napi_ok || type != napi_float64_array || count != 2) {
    throw Napi::TypeError::New(env, "optimizer step: clip must be a Float64Array [mode, value]");
  }
  x = static_cast<const double*>(data);
  if (!(x[0] == 0 || x[0] == 1 || x[0] == 2 || x[0] == 3)) throw Napi::RangeError::New(env, "optimizer step: clip mode must be 0..3");
  clip.mode = static_cast<Clip::Mode>(int(x[0]));
  clip.value = x[1];
  if ((clip.mode == Clip::kNorm2 || clip.mode == Clip::kNormInf) && !(clip.value > 0 && std::isfinite(clip.value))) {
    throw Napi::RangeError::New(env, "optimizer step: maxGradNorm must be finite and > 0");
  }
  if (clip.mode == Clip::kFactor && !(clip.value > 0 && clip.value <= 1)) {
    throw Napi::RangeError::New(env, "optimizer step: the clipping factor must be in (0, 1]");
  }
  return clip;
}

// A batch checked once and kept for the next steps (optimizerPlan / optimizerRun). It holds a
// strong reference to the ArrayBuffer under every array it points into, so none can be collected
// while the plan lives; but a buffer can still be detached (transfer, structuredClone/postMessage
// with transfer) or, if resizable, shrunk, and V8 gives no notice of either. So every run reads
// each buffer's data pointer and byte length again (napi_get_arraybuffer_info, once per buffer
// however many arrays share it) and does nothing unless the pointer is the same and every
// planned span still lies inside: the raw pointers kept here are used only while they point
// into live memory of the arrays they were checked on. (A view's buffer and offset never change,
// so its span follows from its buffer's.) A SharedArrayBuffer fails the check (it is not an
// ArrayBuffer to Node-API): such batches are parsed on every step instead.
struct PlannedBuffer {
  napi_ref ref;
  const uint8_t* data;
  size_t end;  // bytes of it the plan uses, from its start
};

class StepPlan {
 public:
  explicit StepPlan(napi_env env) : env_(env) {}
  ~StepPlan() {
    for (const PlannedBuffer& b : buffers) napi_delete_reference(env_, b.ref);
  }
  StepPlan(const StepPlan&) = delete;
  StepPlan& operator=(const StepPlan&) = delete;

  std::vector<Entry> entries;
  std::vector<PlannedBuffer> buffers;
  size_t numberCount = 0;

 private:
  napi_env env_;
};

// Tells a StepPlan's external from any other value passed in its place.
constexpr napi_type_tag kStepPlanTag = {0x7f3c1e9a52d84b06ULL, 0xa1b2c3d4e5f60718ULL};

[[noreturn]] void PlanError(const Napi::Env& env, uint32_t index, const std::string& what) {
  throw Napi::RangeError::New(env, "optimizer step, parameter " + std::to_string(index) + ": " + what);
}

// An async step's batch (optimizerStepAsync). Its entries point either into JS memory that cannot
// go away while the job holds a reference to it (a SharedArrayBuffer: it cannot be detached, a
// growable one only grows, and Node waits for running thread-pool work before it tears an
// environment down), or into the job's own copies (an ordinary ArrayBuffer can be detached or
// transferred at any time). The written arrays (parameters, state buffers, warm starts) are
// either all in place, when all lie on SharedArrayBuffers, or all copied and written back when
// the job completes, after every destination has been checked: a failure then writes nothing.
// Gradients are only read: one on an ordinary ArrayBuffer is copied at the call.
class AsyncStep {
 public:
  struct Array {
    napi_ref ref = nullptr;   // the typed array, kept alive until the job is freed
    float* js = nullptr;      // its data at the call
    size_t length = 0;
    bool written = false;     // a parameter, state buffer or warm start
    bool shared = false;      // on a SharedArrayBuffer
    Block copy;               // the job's copy (pooled, like the async twins' inputs), when not in place
  };

  explicit AsyncStep(napi_env env) : env_(env) {}
  ~AsyncStep() {
    for (Array& a : arrays) if (a.ref != nullptr) napi_delete_reference(env_, a.ref);
  }
  AsyncStep(const AsyncStep&) = delete;
  AsyncStep& operator=(const AsyncStep&) = delete;

  std::vector<Entry> entries;
  std::vector<Array> arrays;
  Clip clip;
  StepOutcome outcome;
  bool copiesWritten = false;  // the written arrays are copies (written back at completion)

 private:
  napi_env env_;
};

bool OnSharedMemory(napi_env env, napi_value typedArray) {
  napi_value buffer = nullptr;
  bool plain = false;
  if (napi_get_typedarray_info(env, typedArray, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &plain) != napi_ok) {
    throw Napi::Error::New(env, "optimizer step: cannot read an array's buffer");
  }
  return !plain;  // a typed array's buffer is an ArrayBuffer or a SharedArrayBuffer
}

}  // namespace

Napi::Value OptimizerStepAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 && info.Length() != 4) {
    throw Napi::TypeError::New(env, "optimizer step: expected (arrays, numbers, count, clip?)");
  }
  auto step = std::make_shared<AsyncStep>(env);
  step->clip = ReadClip(env, info[3]);
  std::vector<std::pair<Napi::Value, FloatView>> seen;
  step->entries = ParseBatch(env, info[0], info[1], info[2], &seen);
  // seen holds the arrays in parse order: per entry param, grad, state buffers, warm start.
  step->arrays.resize(seen.size());
  bool allShared = true;
  {
    size_t at = 0;
    for (const Entry& e : step->entries) {
      size_t count = 2 + e.bufferCount + (e.warm ? 1 : 0);
      for (size_t k = 0; k < count; ++k, ++at) {
        AsyncStep::Array& a = step->arrays[at];
        a.js = seen[at].second.data;
        a.length = seen[at].second.length;
        a.written = k != 1;
        a.shared = OnSharedMemory(env, seen[at].first);
        if (a.written && !a.shared) allShared = false;
      }
    }
    if (at != seen.size()) throw Napi::Error::New(env, "optimizer step: the batch's arrays do not match its entries");
  }
  step->copiesWritten = !allShared;
  for (size_t i = 0; i < seen.size(); ++i) {
    AsyncStep::Array& a = step->arrays[i];
    if (napi_create_reference(env, seen[i].first, 1, &a.ref) != napi_ok) {
      throw Napi::Error::New(env, "optimizer step: cannot reference an array");
    }
    if (a.length != 0 && (a.written ? step->copiesWritten : !a.shared)) {
      a.copy = Block(a.length);
      StreamCopy(a.copy.data(), a.js, a.length);
    }
  }
  // The entries now point at the copies where there are any.
  {
    size_t at = 0;
    auto place = [&](auto& pointer) {
      AsyncStep::Array& a = step->arrays[at++];
      if (a.copy.size() != 0) pointer = a.copy.data();
    };
    for (Entry& e : step->entries) {
      place(e.w);
      place(e.g);
      for (size_t b = 0; b < e.bufferCount; ++b) place(e.buffers[b]);
      if (e.warm) place(e.warm);
    }
  }
  return Job::Start(
      env, [step] { step->outcome = Compute(step->entries, step->clip); },
      [step](Napi::Env env) -> Napi::Value {
        if (step->copiesWritten) {
          // Every destination must still be where, and as long as, it was; then all are written.
          for (const AsyncStep::Array& a : step->arrays) {
            if (!a.written || a.length == 0) continue;
            napi_value v = nullptr;
            void* data = nullptr;
            size_t length = 0;
            if (napi_get_reference_value(env, a.ref, &v) != napi_ok || v == nullptr ||
                napi_get_typedarray_info(env, v, nullptr, &length, &data, nullptr, nullptr) != napi_ok ||
                data != a.js || length != a.length) {
              throw Napi::Error::New(env,
                                     "optimizer step: a parameter or state buffer was detached or resized while the "
                                     "step ran; nothing was written");
            }
          }
          for (const AsyncStep::Array& a : step->arrays) {
            if (a.written && a.length != 0) StreamCopy(a.js, a.copy.data(), a.length);
          }
        }
        return Outcome(env, step->outcome, step->clip);
      });
}

Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 && info.Length() != 4) throw Napi::TypeError::New(env, "optimizer step: expected (arrays, numbers, count, clip?)");
  Clip clip = ReadClip(env, info[3]);
  std::vector<Entry> entries = ParseBatch(env, info[0], info[1], info[2]);
  return Execute(env, entries, clip);
}

Napi::Value OptimizerPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) throw Napi::TypeError::New(env, "optimizer plan: expected (arrays, numbers, count)");
  std::vector<std::pair<Napi::Value, FloatView>> seen;
  auto plan = std::make_unique<StepPlan>(env);
  plan->entries = ParseBatch(env, info[0], info[1], info[2], &seen);
  plan->numberCount = info[1].As<Napi::TypedArray>().ElementLength();
  // One reference per distinct buffer (arrays sharing a buffer have the same base pointer);
  // empty arrays are never read or written, so they need none.
  std::vector<std::pair<const uint8_t*, size_t>> index;  // base pointer -> plan->buffers slot
  for (const auto& [value, view] : seen) {
    if (view.length == 0) continue;
    napi_value buffer = nullptr;
    size_t offset = 0;
    if (napi_get_typedarray_info(env, value, nullptr, nullptr, nullptr, &buffer, &offset) != napi_ok) {
      throw Napi::Error::New(env, "optimizer plan: cannot read an array's buffer");
    }
    const uint8_t* base = reinterpret_cast<const uint8_t*>(view.data) - offset;
    size_t end = offset + view.length * sizeof(float);
    auto known = std::find_if(index.begin(), index.end(), [&](const auto& x) { return x.first == base; });
    if (known != index.end()) {
      size_t& used = plan->buffers[known->second].end;
      used = std::max(used, end);
      continue;
    }
    napi_ref ref = nullptr;
    if (napi_create_reference(env, buffer, 1, &ref) != napi_ok) throw Napi::Error::New(env, "optimizer plan: cannot reference a buffer");
    plan->buffers.push_back(PlannedBuffer{ref, base, end});
    index.emplace_back(base, plan->buffers.size() - 1);
  }
  Napi::External<StepPlan> external =
      Napi::External<StepPlan>::New(env, plan.release(), [](Napi::Env, StepPlan* p) { delete p; });
  external.TypeTag(&kStepPlanTag);
  return external;
}

Napi::Value OptimizerRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if ((info.Length() != 2 && info.Length() != 3) || !info[0].IsExternal() ||
      !info[0].As<Napi::External<StepPlan>>().CheckTypeTag(&kStepPlanTag)) {
    throw Napi::TypeError::New(env, "optimizer run: expected (plan, numbers, clip?)");
  }
  Clip clip = ReadClip(env, info[2]);
  StepPlan& plan = *info[0].As<Napi::External<StepPlan>>().Data();
  size_t numberCount = 0;
  const double* numbers = Numbers(env, info[1], &numberCount);
  if (numberCount != plan.numberCount) throw Napi::RangeError::New(env, "optimizer run: the numbers do not fit the plan");
  // Every array still where, and as long as, it was (see StepPlan); if not, null: the caller
  // checks the batch again from scratch.
  for (const PlannedBuffer& b : plan.buffers) {
    napi_value v = nullptr;
    void* data = nullptr;
    size_t length = 0;
    if (napi_get_reference_value(env, b.ref, &v) != napi_ok || v == nullptr ||
        napi_get_arraybuffer_info(env, v, &data, &length) != napi_ok || data != b.data || length < b.end) {
      return env.Null();
    }
  }
  // The new scalars, checked against the planned state buffers as a full parse would; an entry
  // like the one before (rule, shape, scalars, buffers: parameters sharing an optimizer) has
  // the same layout, already checked.
  for (uint32_t i = 0; i < plan.entries.size(); ++i) {
    Entry& e = plan.entries[i];
    std::copy_n(numbers + e.scalarOffset, e.scalarCount, e.scalars);
    if (e.rule->scalarsNeeded != nullptr && e.rule->scalarsNeeded(e.scalars) != e.scalarCount) {
      PlanError(env, i, "the scalars no longer fit the plan");
    }
    if (i > 0) {
      const Entry& prev = plan.entries[i - 1];
      if (prev.rule == e.rule && prev.rows == e.rows && prev.cols == e.cols && prev.bufferCount == e.bufferCount &&
          std::equal(e.bufferLengths, e.bufferLengths + e.bufferCount, prev.bufferLengths) &&
          prev.scalarCount == e.scalarCount && std::memcmp(prev.scalars, e.scalars, e.scalarCount * sizeof(double)) == 0) {
        continue;
      }
    }
    Lengths layout;
    try {
      layout = e.rule->layout(e.rows, e.cols, e.scalars);
    } catch (const std::invalid_argument& error) {
      PlanError(env, i, error.what());
    }
    if (layout.size() != e.bufferCount || !std::equal(layout.begin(), layout.end(), e.bufferLengths)) {
      PlanError(env, i, "the scalars no longer fit the state buffers");
    }
  }
  try {
    ResolveGroups(plan.entries);
  } catch (const GroupError& error) {
    PlanError(env, error.index, error.what);
  }
  return Execute(env, plan.entries, clip);
}

}  // namespace specopt
