// specopt/tfjs: specopt's optimizers as a TensorFlow.js optimizer, and tfjs's cpu matrix products
// on OpenBLAS. Loading this subpath loads '@tensorflow/tfjs-core' (an optional peer dependency);
// the main entry never does. Reference: docs/tfjs.md.
export {
  SpecoptOptimizer,
  muonRecipe,
  tfjsOptimizer,
  type MatrixView,
  type NamedTensor,
  type RecipeGroup,
  type TfjsOptimizerOptions,
  type TfjsRecipe,
  type VariableAssignment,
  type VariableSelector,
} from './optimizer.js';
export { SPECOPT_KERNEL_NAMES, registerSpecoptKernels, specoptKernelsRegistered, unregisterSpecoptKernels } from './kernels/index.js';
