declare module 'node-gyp-build' {
  /** Loads the addon found under `dir` (build/Release, then prebuilds/). */
  function load(dir: string): unknown;
  export default load;
}
