// Adam-mini (zyushun/Adam-mini): Adam's first moment per entry, one second-moment value per block
// (rows, columns, the whole tensor = Adalayer, or equal groups of rows for attention heads).
#include <cmath>
#include <vector>

#include "rules.hpp"

namespace specopt {

namespace {

enum BlockMode { kRows = 0, kCols = 1, kAll = 2, kRowGroups = 3 };

// Block of entry (i, j).
inline size_t BlockOf(int mode, size_t i, size_t j, size_t rowsPerGroup) {
  switch (mode) {
    case kRows: return i;
    case kCols: return j;
    case kAll: return 0;
    default: return i / rowsPerGroup;
  }
}

}  // namespace

// scalars: beta1, beta2, eps, decay, stepSize (lr/bc1), bc2Sqrt, blockMode, groups
// buffers: [expAvg (rows*cols), v (blocks)]
void AdamMiniStep(const RuleArgs& a) {
  const double* s = a.scalars;
  size_t rows = a.rows, cols = a.cols;
  float c1 = float(1.0 - s[0]), b2 = float(s[1]), c2 = float(1.0 - s[1]), eps = float(s[2]);
  int mode = int(s[6]);
  size_t groups = size_t(s[7]);
  size_t rowsPerGroup = mode == kRowGroups ? rows / groups : 1;
  size_t blocks = mode == kRows ? rows : mode == kCols ? cols : mode == kAll ? 1 : groups;
  size_t perBlock = (rows * cols) / blocks;
  float* m = a.buffers[0];
  float* v = a.buffers[1];
  std::vector<double> sumSq(blocks, 0.0);
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      float g = a.g[i * cols + j];
      sumSq[BlockOf(mode, i, j, rowsPerGroup)] += double(g) * g;
    }
  std::vector<float> inv(blocks);
  for (size_t b = 0; b < blocks; ++b) {
    v[b] = v[b] * b2 + c2 * float(sumSq[b] / double(perBlock));
    inv[b] = 1.0f / (std::sqrt(v[b]) / float(s[5]) + eps);
  }
  float keep = a.Decay(s[3]);
  float stepSize = float(s[4]);
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      size_t k = i * cols + j;
      m[k] = m[k] + c1 * (a.g[k] - m[k]);
      a.w[k] = a.w[k] * keep - stepSize * m[k] * inv[BlockOf(mode, i, j, rowsPerGroup)];
    }
}

}  // namespace specopt
