// Prints the Markdown tables of docs/benchmarks.md from the JSON lines that
// bench/run.sh collects (bench/gobench and bench/js/run.mjs write them).
//
//   node bench/table.mjs bench/out/results.jsonl
//
// Times are medians over the timed runs of one process; memory is the
// largest peak RSS any run of that process reported.

import { readFileSync } from 'node:fs';

const impls = [
  ['js', 'UpscalerJS wasm'],
  ['default', 'Go default'],
  ['openblas', 'Go OpenBLAS'],
  ['purego', 'pure Go'],
  ['default-all', 'Go default, all cores'],
];

const path = process.argv[2];
if (!path) {
  console.error('table.mjs: usage: node bench/table.mjs RESULTS.jsonl');
  process.exit(2);
}
let machine = null;
const cases = new Map();
for (const line of readFileSync(path, 'utf8').split('\n')) {
  if (!line.startsWith('{')) {
    continue;
  }
  const r = JSON.parse(line);
  if (r.machine) {
    machine = r;
    continue;
  }
  const key = `${r.model}|${r.scale}|${r.size}|${r.patch}|${r.padding}`;
  if (!cases.has(key)) {
    cases.set(key, { model: r.model, scale: r.scale, size: r.size, patch: r.patch, padding: r.padding, loads: [], byImpl: new Map() });
  }
  const c = cases.get(key);
  c.loads.push(r.load1);
  if (!c.byImpl.has(r.impl)) {
    c.byImpl.set(r.impl, { seconds: [], peak: 0, kernel: r.kernel, means: [] });
  }
  const m = c.byImpl.get(r.impl);
  m.seconds.push(r.seconds);
  m.means.push(r.outputMean);
  m.peak = Math.max(m.peak, r.peakRSSBytes);
}

if (machine) {
  console.log(`${machine.date}: ${machine.cpu}, ${machine.cores} cores, ${(machine.memBytes / 2 ** 30).toFixed(0)} GiB; ${machine.go}; Node ${machine.node}.`);
  console.log('');
}
const kernels = new Set();
for (const c of cases.values()) {
  for (const [impl, m] of c.byImpl) {
    kernels.add(`${impl}: ${m.kernel}`);
  }
}
console.log(`Kernels: ${[...kernels].join('; ')}.`);
console.log('');

// Time table: one row per case, medians in seconds.
const present = impls.filter(([id]) => [...cases.values()].some((c) => c.byImpl.has(id)));
console.log(`| case | ${present.map(([, name]) => `${name} (s)`).join(' | ')} | speed-up vs UpscalerJS | default vs OpenBLAS throughput | peak RSS UpscalerJS / default (MiB) | memory default ÷ UpscalerJS | runs | load |`);
console.log(`|---|${present.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|---|`);
for (const c of cases.values()) {
  const t = (id) => (c.byImpl.has(id) ? median(c.byImpl.get(id).seconds) : NaN);
  const p = (id) => (c.byImpl.has(id) ? c.byImpl.get(id).peak : NaN);
  const runs = [...new Set([...c.byImpl.values()].map((m) => m.seconds.length))].join('/');
  const loads = c.loads.filter((l) => typeof l === 'number');
  const load = loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '';
  console.log(`| ${label(c)} | ${present.map(([id]) => fmt(t(id), 3)).join(' | ')} | ${ratio(t('js'), t('default'))}${c.byImpl.has('default-all') ? ` (all cores ${ratio(t('js'), t('default-all'))})` : ''} | ${percent(t('openblas'), t('default'))} | ${mib(p('js'))} / ${mib(p('default'))} | ${fmt(p('default') / p('js'), 2)} | ${runs} | ${load} |`);
}

// Agreement: every implementation should produce the same output up to
// float32 rounding, so the means of the outputs should agree closely.
let worst = { diff: 0, label: '' };
for (const c of cases.values()) {
  const means = [...c.byImpl.values()].flatMap((m) => m.means).filter(Number.isFinite);
  if (means.length > 1) {
    const diff = (Math.max(...means) - Math.min(...means)) / Math.abs(Math.min(...means));
    if (diff >= worst.diff) {
      worst = { diff, label: label(c) };
    }
  }
}
console.log('');
console.log(`Largest relative spread of the output mean between implementations: ${worst.diff.toExponential(1)} (${worst.label}).`);

// Memory table: the patched cases of one model at several sizes. Every
// implementation keeps the input and output tensors whole (the input as
// int32 or float32, the output as float32, both 4 bytes a value), so the
// table also gives each peak less those two: the memory the patches need.
const patched = [...cases.values()].filter((c) => c.patch > 0 && [...cases.values()].some((o) => o !== c && o.patch === c.patch && o.model === c.model && o.scale === c.scale && o.size !== c.size && (o.size >= 1024 || c.size >= 1024)));
if (patched.length > 1) {
  console.log('');
  const memImpls = present.filter(([id]) => patched.every((c) => c.byImpl.has(id)));
  console.log(`| case | input + output tensors (MiB) | ${memImpls.map(([, name]) => `${name} peak RSS (MiB)`).join(' | ')} | ${memImpls.map(([, name]) => `${name} beyond input and output (MiB)`).join(' | ')} | default ÷ UpscalerJS |`);
  console.log(`|---|---:|${memImpls.map(() => '---:|---:').join('|')}|---:|`);
  for (const c of patched.sort((a, b) => a.size - b.size)) {
    const tensors = c.size ** 2 * 3 * 4 * (1 + c.scale ** 2);
    const p = (id) => c.byImpl.get(id).peak;
    console.log(`| ${label(c)} | ${mib(tensors)} | ${memImpls.map(([id]) => mib(p(id))).join(' | ')} | ${memImpls.map(([id]) => mib(p(id) - tensors)).join(' | ')} | ${fmt(p('default') / p('js'), 2)} |`);
  }
}

function label(c) {
  return `${c.model} x${c.scale}, ${c.size}², ${c.patch ? `patch ${c.patch}/${c.padding}` : 'whole'}`;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function fmt(x, digits) {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

function ratio(a, b) {
  return Number.isFinite(a / b) ? `${fmt(a / b, 2)}×` : '–';
}

// percent returns the default build's throughput as a share of the
// OpenBLAS build's: the OpenBLAS time over the default time.
function percent(openblas, def) {
  return Number.isFinite(openblas / def) ? `${Math.round((100 * openblas) / def)} %` : '–';
}

function mib(bytes) {
  return Number.isFinite(bytes) && bytes > 0 ? (bytes / 2 ** 20).toFixed(0) : '–';
}
