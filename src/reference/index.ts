// Pure-TypeScript float64 reference implementations (clarity over speed),
// used by the tests to cross-check the native OpenBLAS/LAPACK path.

export * from './dense.js';
export * from './gemm.js';
export * from './eigh.js';
export * from './inverseRoot.js';
export * from './svd.js';
export * from './qr.js';
export * from './powerIteration.js';
export * from './orthogonalize.js';
