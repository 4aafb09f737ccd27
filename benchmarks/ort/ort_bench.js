// Times and checks ONNX Runtime's MatMulNBits (onnxruntime-node) on the models make_models.py wrote.
//
//   node ort_bench.js time  [--reps R] [--min-time S] DIR...   one JSON line per (model, repetition)
//   node ort_bench.js check DIR...                             ORT's outputs against qk's
//
// Each DIR is one shape, named MxNxK, holding qk_ort_dump's files and make_models.py's models.
// Sessions: one intra-op thread, one inter-op thread, sequential, all graph optimizations (ORT's
// defaults otherwise). time: for each model, a warm-up of at least 0.2 s, then R repetitions, each
// running session.run back to back for at least S seconds (default 0.5, Google Benchmark's
// default min time) and reporting the mean real and CPU time per call, as a Google Benchmark
// repetition does.
// overhead.onnx (no work, same inputs and output) is timed the same way: what a run costs from
// node besides the operator.
// The onnxruntime-node package is found through NODE_PATH or the usual module resolution.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const MODELS = ['mnb_b32_l4', 'mnb_b32_l0', 'mnb_b128_l4', 'mnb_b128_l0', 'overhead'];
const SESSION_OPTIONS = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

function readF32(file) {
  const bytes = fs.readFileSync(file);
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function shapeOf(dir) {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(path.basename(dir));
  if (!m) throw new Error(`${dir}: the directory's name must be MxNxK`);
  return m.slice(1, 4).map(Number);
}

function feedsFor(model, dir) {
  const [M, N, K] = shapeOf(dir);
  const feeds = { A: new ort.Tensor('float32', readF32(path.join(dir, 'a.f32')), [M, K]) };
  if (model === 'overhead') feeds.Z = new ort.Tensor('float32', new Float32Array(M * N), [M, N]);
  return feeds;
}

function nowSeconds() {
  return Number(process.hrtime.bigint()) / 1e9;
}

// Mean seconds per call of at least minTime seconds of back-to-back runs: { real, cpu }, cpu
// being the process's user + system time (node's other threads are idle meanwhile).
async function timedLoop(session, feeds, minTime) {
  let calls = 0;
  const c0 = process.cpuUsage();
  const t0 = nowSeconds();
  let t = t0;
  while (t - t0 < minTime) {
    await session.run(feeds);
    ++calls;
    t = nowSeconds();
  }
  const c = process.cpuUsage(c0);
  return { real: (t - t0) / calls, cpu: (c.user + c.system) / 1e6 / calls };
}

async function time(dirs, reps, minTime) {
  for (const dir of dirs) {
    for (const model of MODELS) {
      const session = await ort.InferenceSession.create(path.join(dir, `${model}.onnx`), SESSION_OPTIONS);
      const feeds = feedsFor(model, dir);
      await timedLoop(session, feeds, 0.2);
      for (let r = 0; r < reps; ++r) {
        const t = await timedLoop(session, feeds, minTime);
        console.log(JSON.stringify({ shape: path.basename(dir), model, real_us: t.real * 1e6, cpu_us: t.cpu * 1e6 }));
      }
      await session.release();
    }
  }
}

// max |ort - qk| / max |qk|, and the largest elementwise |ort - qk| / |qk| over the outputs with
// |qk| >= 1e-3 max |qk| (near-zero outputs of a long dot product have no relative accuracy).
function compare(ort_out, qk_out) {
  let maxAbs = 0;
  for (const v of qk_out) maxAbs = Math.max(maxAbs, Math.abs(v));
  let maxDiff = 0;
  let maxRel = 0;
  for (let i = 0; i < qk_out.length; ++i) {
    const diff = Math.abs(ort_out[i] - qk_out[i]);
    if (!(diff <= maxDiff)) maxDiff = diff;  // NaN propagates
    if (Math.abs(qk_out[i]) >= 1e-3 * maxAbs && !(diff / Math.abs(qk_out[i]) <= maxRel)) maxRel = diff / Math.abs(qk_out[i]);
  }
  return { normwise: maxDiff / maxAbs, elementwise: maxRel, max_abs_c: maxAbs };
}

async function check(dirs) {
  let bad = 0;
  for (const dir of dirs) {
    for (const block of [32, 128]) {
      for (const level of [0, 4]) {
        const model = `mnb_b${block}_l${level}`;
        const session = await ort.InferenceSession.create(path.join(dir, `${model}.onnx`), SESSION_OPTIONS);
        const y = (await session.run(feedsFor(model, dir))).Y.data;
        await session.release();
        // level 0: fp32 compute, against qk's weight-only fp32 GEMM; level 4: int8 A per block,
        // against qk's dynamic W4A8 GEMM (and, for scale, against the fp32 one).
        const same = readF32(path.join(dir, `qk_${level === 0 ? 'f32' : 'dyn'}_b${block}.f32`));
        const res = { shape: path.basename(dir), model, vs: level === 0 ? 'qk_f32' : 'qk_dyn', ...compare(y, same) };
        if (level === 4) res.vs_qk_f32 = compare(y, readF32(path.join(dir, `qk_f32_b${block}.f32`))).normwise;
        console.log(JSON.stringify(res));
        // fp32 compute in two summation orders: ~1e-6 of the largest output; int8 A: the same
        // rounding of A on both sides, so far below A's quantization error (~1e-2).
        if (!(res.normwise < (level === 0 ? 1e-4 : 1e-3))) ++bad;
      }
    }
  }
  if (bad > 0) {
    console.error(`ort_bench.js check: ${bad} model(s) disagree with qk`);
    process.exit(1);
  }
}

async function main() {
  const args = process.argv.slice(2);
  const mode = args.shift();
  let reps = 5;
  let minTime = 0.5;
  const dirs = [];
  while (args.length > 0) {
    const a = args.shift();
    if (a === '--reps') reps = Number(args.shift());
    else if (a === '--min-time') minTime = Number(args.shift());
    else dirs.push(a);
  }
  if (mode === 'time') await time(dirs, reps, minTime);
  else if (mode === 'check') await check(dirs);
  else throw new Error('usage: node ort_bench.js time|check [--reps R] [--min-time S] DIR...');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
