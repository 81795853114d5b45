// Times one upscaling case with UpscalerJS 1.0.0 on the TF.js WebAssembly
// backend and prints one JSON line per timed run, in the format of
// bench/gobench, so bench/run.sh can put both in one table.
//
//   node run.mjs --model esrgan-slim --scale 4 --size 256 --repeats 5
//
// It runs UpscalerJS's own upscale() from the package's browser ES-module
// build under plain @tensorflow/tfjs. The "upscaler/node" entry would need
// @tensorflow/tfjs-node, a native addon. Two pieces stand in for what a
// browser or tfjs-node would supply: esm-hooks.mjs lets Node import the
// bundler-style build, and a tf.io load router reads file:// model URLs from
// disk. The input is a tensor, so no image decoding is timed.
//
// Each line records the wall time of one run, from the upscale() call until the
// output tensor's values are read, and the process's peak resident set size
// so far. That includes the model, the warm-up and every earlier run.

import { register } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const jsDir = dirname(fileURLToPath(import.meta.url));
register('./esm-hooks.mjs', pathToFileURL(jsDir + '/'));

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'esrgan-slim' },
    scale: { type: 'string', default: '4' },
    size: { type: 'string', default: '128' },
    patch: { type: 'string', default: '0' },
    padding: { type: 'string', default: '0' },
    repeats: { type: 'string', default: '3' },
    impl: { type: 'string', default: 'upscalerjs/wasm' },
  },
});
const scale = positive('scale', args.scale);
const size = positive('size', args.size);
const repeats = positive('repeats', args.repeats);
const patch = Number(args.patch);
const padding = Number(args.padding);
if (!Number.isInteger(patch) || patch < 0 || !Number.isInteger(padding) || padding < 0) {
  fail(`--patch ${args.patch} --padding ${args.padding}: need whole numbers of pixels, 0 or more`);
}

// The modules below must load after register() has installed the hooks.
const tf = await import('@tensorflow/tfjs');
const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
const { default: Upscaler } = await import('upscaler');

// Step 1: the WebAssembly backend, with its .wasm files read from disk.
setWasmPaths(join(jsDir, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + '/');
if (!(await tf.setBackend('wasm'))) {
  fail('the TF.js wasm backend did not initialise');
}
await tf.ready();
const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
const multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');

// Step 2: file:// model URLs, read from the installed model package.
tf.io.registerLoadRouter((url) => (typeof url === 'string' && url.startsWith('file://') ? fileHandler(url) : null));

let definition;
try {
  ({ default: definition } = await import(`@upscalerjs/${args.model}/${scale}x`));
} catch (err) {
  fail(`--model ${args.model} --scale ${scale}: no such model package entry in node_modules (${err.message})`);
}
const packageDir = join(jsDir, 'node_modules', '@upscalerjs', args.model);
const model = {
  ...definition,
  path: pathToFileURL(join(packageDir, definition._internals.path)).href,
};
const upscaler = new Upscaler({ model });

// Step 3: one untimed warm-up, then the timed runs.
const options = { output: 'tensor' };
if (patch > 0) {
  options.patchSize = patch;
  options.padding = padding;
}
await upscaleOnce();
for (let run = 1; run <= repeats; run++) {
  const { seconds, outputMean } = await upscaleOnce();
  console.log(JSON.stringify({
    impl: args.impl,
    kernel: `tfjs-wasm${simd ? '-simd' : ''}${multithread ? '-threads' : ''}`,
    model: args.model,
    scale,
    size,
    patch,
    padding: patch > 0 ? padding : 0,
    threads: multithread ? null : 1,
    run,
    seconds,
    peakRSSBytes: process.resourceUsage().maxRSS * 1024,
    outputMean,
  }));
}
await upscaler.dispose();

// upscaleOnce upscales a fresh copy of the synthetic input and returns the
// seconds taken and the mean of the output's values (a cheap check that
// every implementation ran the same model on the same input). UpscalerJS disposes a three-dimensional input tensor, so
// each run gets its own, built before the clock starts.
async function upscaleOnce() {
  const input = syntheticInput(size);
  const start = process.hrtime.bigint();
  const output = await upscaler.upscale(input, options);
  const values = await output.data();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  output.dispose();
  input.dispose();
  let sum = 0;
  for (const v of values) {
    sum += v;
  }
  return { seconds, outputMean: sum / Math.max(values.length, 1) };
}

// syntheticInput returns a side×side×3 int32 tensor (the dtype of
// tf.browser.fromPixels) with the pattern bench/gobench builds: channel c of
// pixel (x, y) is (7x + 13y + 61c + (x·y mod 17)) mod 256.
function syntheticInput(side) {
  const data = new Int32Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      for (let c = 0; c < 3; c++) {
        data[(y * side + x) * 3 + c] = (7 * x + 13 * y + 61 * c + ((x * y) % 17)) % 256;
      }
    }
  }
  return tf.tensor3d(data, [side, side, 3], 'int32');
}

// fileHandler returns a tf.io IOHandler that loads a layers model from a
// file:// URL of its model.json, with the weight shards the manifest lists
// beside it.
function fileHandler(url) {
  const modelPath = fileURLToPath(url);
  return {
    async load() {
      const json = JSON.parse(await readFile(modelPath, 'utf8'));
      const weightSpecs = [];
      const shards = [];
      for (const group of json.weightsManifest ?? []) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) {
          shards.push(await readFile(join(dirname(modelPath), shard)));
        }
      }
      const weights = Buffer.concat(shards);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      };
    },
  };
}

function positive(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    fail(`--${name} ${text}: need a whole number above 0`);
  }
  return n;
}

function fail(message) {
  console.error(`run.mjs: ${message}`);
  process.exit(1);
}
