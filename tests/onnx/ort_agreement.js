// Runs a QDQ model written by qk-quantize in ONNX Runtime (onnxruntime-node, CPU, one thread) on
// the images qk-quantize dumped, and compares ORT's outputs with qk's:
//   node ort_agreement.js MODEL.onnx DUMP_DIR [min_agreement_percent] [max_diff_steps] [batch] [max_abs_diff]
// Prints top-1 agreement, both accuracies and the largest logit difference in output
// quantization steps; exits 1 if agreement or the difference is outside the limits.
// batch (0 = all images in one run): models with DynamicQuantizeLinear take their range from the
// whole batch, so ORT must see the batches qk-quantize used (100). Float outputs (fp16 weights,
// dynamic) have no quantization step: give max_diff_steps Infinity and a max_abs_diff instead.
// qk's layers requantize in fixed point (TFLite's arithmetic), ORT in float (ONNX's), so a value
// that lands near a rounding tie can differ by one step in a layer and a few steps at the end.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function floats(path) {
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

async function main() {
  const [model, dir, minAgree = '99.0', maxSteps = '8', batchArg = '0', maxAbs = 'Infinity'] = process.argv.slice(2);
  const input = floats(dir + '/input.f32');
  const qk = floats(dir + '/qk_logits.f32');
  const labels = fs.readFileSync(dir + '/labels.u8');
  const n = labels.length;
  const classes = qk.length / n;
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, interOpNumThreads: 1});
  const px = input.length / n;
  const side = Math.round(Math.sqrt(px));
  const batch = Number(batchArg) > 0 ? Number(batchArg) : n;
  const ortLogits = new Float32Array(n * classes);
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    const x = input.subarray(i * px, (i + b) * px);
    const out = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', x, [b, 1, side, side])});
    ortLogits.set(out[session.outputNames[0]].data, i * classes);
  }
  // The output's quantization step: the smallest non-zero gap between ORT's logit values.
  const sorted = Float32Array.from(ortLogits).sort();
  let step = Infinity;
  for (let i = 1; i < sorted.length; ++i) if (sorted[i] > sorted[i - 1]) step = Math.min(step, sorted[i] - sorted[i - 1]);
  let agree = 0, qkRight = 0, ortRight = 0, maxDiff = 0;
  const argmax = (a, off) => { let b = 0; for (let k = 1; k < classes; ++k) if (a[off + k] > a[off + b]) b = k; return b; };
  for (let i = 0; i < n; ++i) {
    const a = argmax(qk, i * classes), b = argmax(ortLogits, i * classes);
    agree += a === b;
    qkRight += a === labels[i];
    ortRight += b === labels[i];
    for (let k = 0; k < classes; ++k) maxDiff = Math.max(maxDiff, Math.abs(qk[i * classes + k] - ortLogits[i * classes + k]));
  }
  const pct = 100 * agree / n, steps = maxDiff / step;
  console.log(`ORT ${require('onnxruntime-node/package.json').version} vs qk on ${n} images: top-1 agreement ` +
              `${pct.toFixed(2)}%, accuracy qk ${(100 * qkRight / n).toFixed(2)}% ORT ${(100 * ortRight / n).toFixed(2)}%, ` +
              `max |logit diff| ${maxDiff.toExponential(3)} = ${steps.toFixed(1)} output steps of ${step.toExponential(3)}`);
  if (pct < Number(minAgree) || steps > Number(maxSteps) || maxDiff > Number(maxAbs)) {
    console.log(`FAIL: agreement must be >= ${minAgree}% and the difference <= ${maxSteps} steps and <= ${maxAbs}`);
    process.exit(1);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
