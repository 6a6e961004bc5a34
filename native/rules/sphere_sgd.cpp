// Steepest descent on the hypersphere (seed 003): each vector (the whole matrix, each row or each
// column) lives on a sphere of the given radius in the l2 or l-infinity norm.
#include <cmath>
#include <string>
#include <vector>

#include "../common.hpp"
#include "rules.hpp"

namespace specopt {

namespace {

// The vectors of a rows x cols matrix: count of them, each `length` entries `stride` apart.
struct Vectors {
  size_t count, length, stride, step;  // vector k starts at k * step
  size_t At(size_t k, size_t e) const { return k * step + e * stride; }
};

Vectors Split(int axis, size_t rows, size_t cols) {
  if (axis == 1) return {rows, cols, 1, cols};  // rows
  if (axis == 2) return {cols, rows, cols, 1};  // columns
  return {1, rows * cols, 1, 0};                // the whole matrix
}

double Norm(const float* w, const Vectors& vs, size_t k, bool linf) {
  double acc = 0;
  for (size_t e = 0; e < vs.length; ++e) {
    double x = std::fabs(double(w[vs.At(k, e)]));
    acc = linf ? std::fmax(acc, x) : acc + x * x;
  }
  return linf ? acc : std::sqrt(acc);
}

}  // namespace

void SphereSgdCheck(const RuleArgs& a) {
  const double* s = a.scalars;
  if (s[4] == 0) return;  // only the first step projects
  Vectors vs = Split(int(s[2]), a.rows, a.cols);
  for (size_t k = 0; k < vs.count; ++k) {
    if (Norm(a.w, vs, k, s[3] != 0) == 0) {
      throw ComputeError("sphere-sgd: vector " + std::to_string(k) +
                             " of the parameter is zero and cannot be projected onto the sphere",
                         true);
    }
  }
}

// scalars: lr, radius, axis (0 all, 1 rows, 2 cols), norm (0 l2, 1 linf), first
void SphereSgdStep(const RuleArgs& a) {
  const double* s = a.scalars;
  double lr = s[0], radius = s[1];
  bool linf = s[3] != 0, first = s[4] != 0;
  Vectors vs = Split(int(s[2]), a.rows, a.cols);
  if (first) {
    std::vector<double> norms(vs.count);
    for (size_t k = 0; k < vs.count; ++k) norms[k] = Norm(a.w, vs, k, linf);
    for (size_t k = 0; k < vs.count; ++k)
      for (size_t e = 0; e < vs.length; ++e) a.w[vs.At(k, e)] = float(radius * a.w[vs.At(k, e)] / norms[k]);
  }
  for (size_t k = 0; k < vs.count; ++k) {
    if (!linf) {
      // φ = tangent part of g at ŵ = w/radius, normalised; retraction keeps ‖ŵ‖ = 1 exactly.
      double dot = 0;
      for (size_t e = 0; e < vs.length; ++e) dot += double(a.g[vs.At(k, e)]) * a.w[vs.At(k, e)] / radius;
      double tangentSq = 0;
      for (size_t e = 0; e < vs.length; ++e) {
        double t = a.g[vs.At(k, e)] - dot * a.w[vs.At(k, e)] / radius;
        tangentSq += t * t;
      }
      if (tangentSq == 0) continue;
      double inv = 1.0 / std::sqrt(tangentSq), shrink = 1.0 / std::sqrt(1.0 + lr * lr);
      for (size_t e = 0; e < vs.length; ++e) {
        size_t i = vs.At(k, e);
        double unit = a.w[i] / radius;
        double phi = (a.g[i] - dot * unit) * inv;
        a.w[i] = float(radius * (unit - lr * phi) * shrink);
      }
    } else {
      // φ = sign(g) with the largest |ŵ| entry's coordinate zeroed, then back onto ‖ŵ‖∞ = 1.
      size_t top = 0;
      for (size_t e = 1; e < vs.length; ++e)
        if (std::fabs(a.w[vs.At(k, e)]) > std::fabs(a.w[vs.At(k, top)])) top = e;
      double largest = 0;
      std::vector<double> moved(vs.length);
      for (size_t e = 0; e < vs.length; ++e) {
        size_t i = vs.At(k, e);
        double g = a.g[i];
        double phi = e == top ? 0.0 : double((g > 0) - (g < 0));
        moved[e] = a.w[i] / radius - lr * phi;
        largest = std::fmax(largest, std::fabs(moved[e]));
      }
      for (size_t e = 0; e < vs.length; ++e) a.w[vs.At(k, e)] = float(radius * moved[e] / largest);
    }
  }
}

}  // namespace specopt
