// Batch-1 latency of ONNX models in ONNX Runtime (onnxruntime-node, CPU, one thread, all graph
// optimizations): mean over N images after 100 warm-up runs, measured R times; prints the best
// and the median of the R means, and the top-1 accuracy over the N images.
//   NODE_PATH=build/ort-npm/node_modules node scripts/ptq/ort_latency.js DUMP_DIR MODEL.onnx...
// DUMP_DIR holds input.f32 and labels.u8 as `qk-quantize --evaluate --dump DIR` writes them.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [dir, ...models] = process.argv.slice(2);
  const b = fs.readFileSync(dir + '/input.f32');
  const input = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  const labels = fs.readFileSync(dir + '/labels.u8');
  const n = Math.min(1000, labels.length), px = input.length / labels.length, side = Math.round(Math.sqrt(px));
  const repeats = Number(process.env.QK_LATENCY_REPEATS || 5);
  for (const model of models) {
    const s = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, interOpNumThreads: 1,
                                                        executionMode: 'sequential', graphOptimizationLevel: 'all'});
    const feeds = [];
    for (let i = 0; i < n; ++i)
      feeds.push({[s.inputNames[0]]: new ort.Tensor('float32', input.subarray(i * px, (i + 1) * px), [1, 1, side, side])});
    for (let i = 0; i < 100; ++i) await s.run(feeds[i % n]);
    const means = [];
    let correct = 0;
    for (let r = 0; r < repeats; ++r) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; ++i) {
        const out = await s.run(feeds[i]);
        if (r === 0) {
          const y = out[s.outputNames[0]].data;
          let best = 0;
          for (let k = 1; k < y.length; ++k) if (y[k] > y[best]) best = k;
          correct += best === labels[i];
        }
      }
      means.push(Number(process.hrtime.bigint() - t0) / 1e3 / n);
    }
    means.sort((a, c) => a - c);
    console.log(`ORT ${require('onnxruntime-node/package.json').version} ${model}: batch-1 latency best ` +
                `${means[0].toFixed(1)} us, median ${means[Math.floor(means.length / 2)].toFixed(1)} us ` +
                `(mean of ${n} images, ${repeats} repeats); top-1 ${(100 * correct / n).toFixed(2)}% on those images`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
