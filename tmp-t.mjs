import pkg from '/work/main/node_modules/onnx-proto/dist/onnx.js';
const { onnx } = pkg;
const which = process.argv[2];
const ort = which === 'webgpu' ? await import('/work/main/node_modules/onnxruntime-web/dist/ort.webgpu.bundle.min.mjs') : await import('onnxruntime-web');
console.log(Object.keys(onnx).slice(0,10));
// MatMulNBits: A [1,2,K=32], B uint8 [N=3, 1 block, 16], scales [3]
const K = 32, N = 3;
const B = new Uint8Array(N * 16); for (let i = 0; i < B.length; i++) B[i] = (i * 37) & 0xff;
const scales = new Float32Array([0.5, 0.25, 1]);
const model = onnx.ModelProto.create({
  irVersion: 8, opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
  graph: {
    name: 'g',
    node: [{ opType: 'MatMulNBits', domain: 'com.microsoft', input: ['A', 'B', 'S'], output: ['Y'], attribute: [
      { name: 'K', type: onnx.AttributeProto.AttributeType.INT, i: K }, { name: 'N', type: 2, i: N }, { name: 'bits', type: 2, i: 4 }, { name: 'block_size', type: 2, i: 32 }] }],
    initializer: [
      { name: 'B', dims: [N, 1, 16], dataType: onnx.TensorProto.DataType.UINT8, rawData: B },
      { name: 'S', dims: [N], dataType: 1, rawData: new Uint8Array(scales.buffer) },
    ],
    input: [{ name: 'A', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimParam: 's' }, { dimValue: K }] } } } }],
    output: [{ name: 'Y', type: { tensorType: { elemType: 1 } } }],
  },
});
const bytes = onnx.ModelProto.encode(model).finish();
const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
const A = new Float32Array(2 * K).fill(1);
const out = await s.run({ A: new ort.Tensor('float32', A, [1, 2, K]) });
console.log(which, Array.from(out.Y.data));
// expected
for (let n = 0; n < N; n++) { let acc = 0; for (let k = 0; k < K; k++) { const byte = B[n * 16 + (k >> 1)]; const q = k & 1 ? byte >> 4 : byte & 15; acc += (q - 8) * scales[n]; } console.log('want', acc); }
