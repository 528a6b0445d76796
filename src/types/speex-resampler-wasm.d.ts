// The package ships no declarations: its default export is an emscripten module factory.
declare module '@echogarden/speex-resampler-wasm/simd' {
  const factory: () => Promise<unknown>;
  export default factory;
}
