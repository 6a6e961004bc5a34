// Adafactor with transformers' semantics (optimization.py `Adafactor.step`): factored second
// moment for matrices, unfactored for vectors, RMS clipping of the update, relative step size.
#include <cmath>
#include <vector>

#include "rules.hpp"

namespace specopt {

namespace {

double Rms(const float* x, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += double(x[i]) * x[i];
  return n ? std::sqrt(sum / double(n)) : 0.0;
}

}  // namespace

// scalars: rho, eps1, eps2, clipThreshold, beta2t, beta1 (< 0: none), weightDecay, scaleParameter,
//          factored
// buffers: factored ? [row (rows), col (cols)] : [v (rows*cols)]; then [expAvg] when beta1 >= 0
void AdafactorStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t rows = a.rows, cols = a.cols, n = a.size();
  float eps1 = float(s[1]), beta2t = float(s[4]), fresh = float(1.0 - s[4]);
  bool factored = s[8] != 0, firstMoment = s[5] >= 0;
  // The step size uses the RMS of W before this step changes it.
  double alpha = (s[7] != 0 ? std::fmax(s[2], Rms(a.w, n)) : 1.0) * s[0];

  // Second moment of U = G² + eps1, and the inverse root of its estimate, as factors.
  std::vector<float> rowFactor(factored ? rows : 0), colFactor(factored ? cols : 0);
  float* v = factored ? nullptr : a.buffers[0];
  if (factored) {
    float* r = a.buffers[0];
    float* c = a.buffers[1];
    std::vector<double> colSum(cols, 0.0);
    for (size_t i = 0; i < rows; ++i) {
      double rowSum = 0;
      for (size_t j = 0; j < cols; ++j) {
        float u = a.g[i * cols + j] * a.g[i * cols + j] + eps1;
        rowSum += u;
        colSum[j] += u;
      }
      r[i] = r[i] * beta2t + fresh * float(rowSum / double(cols));
    }
    for (size_t j = 0; j < cols; ++j) c[j] = c[j] * beta2t + fresh * float(colSum[j] / double(rows));
    double rMean = 0;
    for (size_t i = 0; i < rows; ++i) rMean += r[i];
    rMean /= double(rows);
    for (size_t i = 0; i < rows; ++i) rowFactor[i] = 1.0f / std::sqrt(float(r[i] / rMean));
    for (size_t j = 0; j < cols; ++j) colFactor[j] = 1.0f / std::sqrt(c[j]);
  } else {
    for (size_t i = 0; i < n; ++i) v[i] = v[i] * beta2t + fresh * (a.g[i] * a.g[i] + eps1);
  }
  auto update = [&](size_t i, size_t j) {
    size_t k = i * cols + j;
    float inv = factored ? rowFactor[i] * colFactor[j] : 1.0f / std::sqrt(v[k]);
    return inv * a.g[k];
  };
  // Clip so that RMS(update) <= clipThreshold.
  double sum = 0;
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      float u = update(i, j);
      sum += double(u) * u;
    }
  double rms = std::sqrt(sum / double(n));
  float scale = float(alpha / std::fmax(1.0, rms / s[3]));
  float keep = a.Decay(s[6] * alpha);
  float* m = firstMoment ? a.buffers[factored ? 2 : 1] : nullptr;
  float beta1 = float(s[5]), oneMinusBeta1 = float(1.0 - s[5]);
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      size_t k = i * cols + j;
      float u = update(i, j) * scale;
      if (m) u = m[k] = m[k] * beta1 + oneMinusBeta1 * u;
      a.w[k] = a.w[k] * keep - u;
    }
}

namespace {

// torch's lerp_(end, weight): self + w·(end − self) below w = 0.5, end − (end − self)·(1 − w) above.
inline float Lerp(float self, float end, float w) { return w < 0.5f ? self + w * (end - self) : end - (end - self) * (1.0f - w); }

}  // namespace

// torch.optim.Adafactor (PyTorch 2.13, _adafactor.py `_single_tensor_adafactor`), every parameter
// factored as torch factors every 2-D tensor, in its order of float32 operations.
// scalars: lr, eps1, eps2, d, 1 − β̂₂ (t^beta2Decay), decay (lr·λ), maximize, ρ_t (min(lr, 1/√t))
// buffers: [row (rows), col (cols)]
void AdafactorTorchStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t rows = a.rows, cols = a.cols, n = a.size();
  float eps1 = float(s[1]), w = float(s[4]);
  float sign = s[6] != 0 ? -1.0f : 1.0f;
  // α = max(eps2, ‖W‖/√n)·ρ_t, from W before the decay (a float32 norm, taken as a double).
  double wNorm = double(float(Rms(a.w, n) * std::sqrt(double(n))));
  double alpha = std::fmax(s[2], wNorm / std::sqrt(double(n))) * s[7];
  float keep = a.Decay(s[5]);
  if (keep != 1.0f) for (size_t i = 0; i < n; ++i) a.w[i] *= keep;
  float* r = a.buffers[0];
  float* c = a.buffers[1];
  // Row and column means of G² (torch: norm(grad, dim)² / size, in float32).
  std::vector<double> colSum(cols, 0.0);
  for (size_t i = 0; i < rows; ++i) {
    double rowSum = 0;
    for (size_t j = 0; j < cols; ++j) {
      double g = double(sign * a.g[i * cols + j]);
      rowSum += g * g;
      colSum[j] += g * g;
    }
    float norm = float(std::sqrt(rowSum));
    r[i] = Lerp(r[i], norm * norm / float(cols), w);
  }
  for (size_t j = 0; j < cols; ++j) {
    float norm = float(std::sqrt(colSum[j]));
    c[j] = Lerp(c[j], norm * norm / float(rows), w);
  }
  double rowTotal = 0;
  for (size_t i = 0; i < rows; ++i) rowTotal += r[i];
  float rowMean = std::fmax(float(rowTotal / double(rows)), eps1);
  float floor = float(double(eps1) * double(eps1));  // may underflow to 0, as in torch
  std::vector<float> update(n);
  double sum = 0;
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      size_t k = i * cols + j;
      float estimate = r[i] * c[j] / rowMean;
      float u = 1.0f / std::sqrt(std::fmax(estimate, floor)) * (sign * a.g[k]);
      update[k] = u;
      sum += double(u) * u;
    }
  double denom = std::fmax(1.0, double(float(std::sqrt(sum))) / (std::sqrt(double(n)) * s[3]));
  float step = float(-alpha / denom);
  for (size_t k = 0; k < n; ++k) a.w[k] = a.w[k] + step * update[k];
}

}  // namespace specopt
