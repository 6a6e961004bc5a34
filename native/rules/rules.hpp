// The update rules' inner loops. Each works on one parameter: the TS side has already checked
// the shapes and buffer lengths, computed the per-step scalars (bias corrections, learning-rate
// schedules) in double precision, and the caller has checked the gradient is finite.
#pragma once

#include <cstddef>
#include <cstdint>

namespace specopt {

struct RuleArgs {
  float* w;                // rows x cols, row-major, updated in place
  const float* g;          // gradient (with the spectral penalty already added, if any)
  size_t rows, cols;
  float* const* buffers;   // the rule's state buffers, in the order the TS rule declares them
  const double* scalars;   // the rule's per-step scalars, in the order the TS rule declares them
  // Decoupled decay by λ·W·v₁v₁ᵀ instead of λ·W: the rank-1 factors a (rows) and b (cols) with
  // W·v₁v₁ᵀ = a·bᵀ, computed before this step changed W. Null for the plain decay.
  const float* decayLeft;
  const float* decayRight;
  // The gradient-clipping factor (stepMany's maxGradNorm): the entry-wise rules (sgd, signsgd,
  // adagrad, rmsprop, adam) multiply each g[i] by it as they read it; every other rule is given
  // an already scaled copy and 1 here.
  float gradScale = 1.0f;
  // Cautious masking (cautious: true; C-Optim as lucidrains/lion-pytorch's cautious_lion.py applies
  // it): what an update entry is multiplied by where it agrees in sign with the gradient
  // (update·g > 0) and where it does not, s/max(mean(s), 1e-5) with s = 1 or cautiousFactor.
  // optimizer.cpp sets them from the whole parameter's count (Rule::aligned, CautiousScales)
  // before the rule's loop runs on any chunk; a rule whose cautious scalar is 0 never reads them.
  float cautiousAligned = 1.0f;
  float cautiousOther = 1.0f;
  // Group-sum rules (Rule::groupSums in optimizer.cpp, e.g. Prodigy's distance estimate): the
  // totals of the partial pass over the entries of this entry's group, groupSums doubles, in the
  // step; null in the partial pass itself and for every other rule.
  const double* group = nullptr;

  size_t size() const { return rows * cols; }
  // Applies decoupled decay with coefficient c (W ← W − c·decay term) and returns the factor the
  // rule's loop must still multiply W by: 1 − c for the plain decay (fused into the loop), 1 when
  // the spectral decay was applied here as a rank-1 update.
  float Decay(double c) const;
};

// A float64 running value (a sum over steps, a learned step size) kept in a float32 state buffer
// as two floats, hi = x rounded and lo = the rest: about 48 significant bits, finite whenever x
// is, so native states stay plain Float32Arrays.
inline double LoadPair(const float* p) { return double(p[0]) + double(p[1]); }
inline void StorePair(float* p, double x) {
  float hi = float(x);
  p[0] = hi;
  p[1] = float(x - double(hi));
}

// Cautious masking's two factors, as torch computes them in float32: s = 1 on the `aligned` of n
// entries, float(factor) on the others, then s / max(mean(s), 1e-5).
inline void CautiousScales(size_t aligned, size_t n, double factor, float* on, float* off) {
  float f = float(factor);
  double mean = n == 0 ? 1.0 : (double(aligned) + double(f) * double(n - aligned)) / double(n);
  float m = float(mean);
  if (m < 1e-5f) m = 1e-5f;  // torch's clamp(min = 1e-5)
  *on = 1.0f / m;
  *off = f / m;
}

// Cautious masking's test, update·g > 0, by signs (a product of two tiny floats could underflow).
// Bitwise, not && / ||: short-circuit branches keep GCC from vectorising the loops that use it.
inline bool Agree(float u, float g) { return ((u > 0.0f) & (g > 0.0f)) | ((u < 0.0f) & (g < 0.0f)); }

// Each rule: a loop over the parameter. They throw ComputeError(badInput) for inputs the rule
// cannot take (sphere-sgd's zero vector); any such check happens before the first write.
void SgdStep(const RuleArgs& a);
void SignSgdStep(const RuleArgs& a);
void PbSgdStep(const RuleArgs& a);
void AdagradStep(const RuleArgs& a);
void RmspropStep(const RuleArgs& a);
void AdamStep(const RuleArgs& a);
void AdafactorStep(const RuleArgs& a);
void AdafactorTorchStep(const RuleArgs& a);
void AdamMiniStep(const RuleArgs& a);
void MuonStep(const RuleArgs& a);
void MuonCheck(const RuleArgs& a);  // before any parameter of a multi-step is written
void NormuonStep(const RuleArgs& a);
void NormuonCheck(const RuleArgs& a);  // before any parameter of a multi-step is written

// Muon's and NorMuon's Newton-Schulz scalars, a block within their scalars: method (0
// newton-schulz, 1 svd), nsSteps, eps, normalisation (0 add, 1 max), the norm's scale s,
// coefficient sets K, then 3K coefficients. CheckNsScalars throws std::invalid_argument naming
// the rule; NsScalarsNeeded is the block's length (0 when K is not a count up to maxSets).
constexpr size_t kNsFixed = 6;
void CheckNsScalars(const double* ns, const char* rule, size_t maxSets);
size_t NsScalarsNeeded(const double* ns, size_t maxSets);
void ShampooStep(const RuleArgs& a);
void AdagradFullStep(const RuleArgs& a);
void AdagradFullCheck(const RuleArgs& a);  // before any parameter of a multi-step is written
void GaloreStep(const RuleArgs& a);
void SoapStep(const RuleArgs& a);
void SphereSgdStep(const RuleArgs& a);
void NadamStep(const RuleArgs& a);
void RadamStep(const RuleArgs& a);
void AdamaxStep(const RuleArgs& a);
void AdadeltaStep(const RuleArgs& a);
void RpropStep(const RuleArgs& a);
void SphereSgdCheck(const RuleArgs& a);  // before any parameter of a multi-step is written
// Issue 12: Lion (lucidrains/lion-pytorch), AdEMAMix (apple/ml-ademamix).
void LionStep(const RuleArgs& a);
void AdemamixStep(const RuleArgs& a);
// Cautious masking: the entries of a chunk whose update agrees in sign with the gradient, computed
// exactly as the rule's loop computes them, reading only (optimizer.cpp sums the chunks first).
size_t SgdAligned(const RuleArgs& a);
size_t AdamAligned(const RuleArgs& a);
size_t LionAligned(const RuleArgs& a);
size_t AdemamixAligned(const RuleArgs& a);
// Prodigy (konstmish/prodigy): the partial pass (read-only: its entry's terms of the distance
// estimate's numerator and denominator) and the step (given the group's totals in a.group).
void ProdigyPartial(const RuleArgs& a, double* sums);
void ProdigyStep(const RuleArgs& a);
// LAMB, entry-wise in chunks: the read-only pass's sums per chunk (2 doubles; 6 with cautious),
// the trust ratio and mask factors from their totals (appended to the scalars), the writing pass.
constexpr size_t kLambCautiousSums = 6;
void LambSums(const RuleArgs& a, double* sums);
void LambFinish(const RuleArgs& a, const double* totals, double* scalars);
void LambStep(const RuleArgs& a);
// Schedule-free rules are entry-wise: Prepare (once per entry) updates the running lr_max and
// weight sum and appends the step's ckp1 (and bias correction) to the scalars the chunks' Step reads.
void ScheduleFreeAdamwPrepare(const RuleArgs& a, double* scalars);
void ScheduleFreeSgdPrepare(const RuleArgs& a, double* scalars);
void ScheduleFreeAdamwStep(const RuleArgs& a);
void ScheduleFreeAdamwCheck(const RuleArgs& a);  // refuses a state in eval mode, before any write
void ScheduleFreeSgdStep(const RuleArgs& a);
void ScheduleFreeSgdCheck(const RuleArgs& a);

}  // namespace specopt
