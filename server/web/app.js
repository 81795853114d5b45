// The page's UI thread. It loads the image and hands the pixels to the Web
// Worker, or for comparison runs the WebAssembly upscaler itself. It draws
// the result and the before/after comparison, and keeps an animation running
// to show whether the UI thread is free.
"use strict";

const $ = (id) => document.getElementById(id);
const worker = new Worker("worker.js");
// Load and compile the WebAssembly upscaler in the worker now, so the first
// upscale does not wait for it.
worker.postMessage({ type: "preload" });
let input = null;     // {data: RGB Uint8Array, shape: [h, w, 3]}
let inputBitmap = null;
let running = null;   // {id, engine, mode, start}
let nextID = 1;

// Frame gaps: the animation records the time between animation frames.
// frameStats.maxGap is the longest gap since the last reset, in ms.
// frameStats.longGaps lists gaps over 50 ms as [time since reset, gap].
const frameStats = {
  last: 0, maxGap: 0, start: 0, longGaps: [],
  reset() { this.maxGap = 0; this.last = 0; this.start = performance.now(); this.longGaps = []; },
};
window.frameStats = frameStats;
// lastRun describes the last finished upscale, for people and for tests.
window.lastRun = null;

function animate(now) {
  if (frameStats.last) {
    const gap = now - frameStats.last;
    frameStats.maxGap = Math.max(frameStats.maxGap, gap);
    if (gap > 50) {
      frameStats.longGaps.push([Math.round(now - frameStats.start), Math.round(gap)]);
    }
  }
  frameStats.last = now;
  const ctx = $("spinner").getContext("2d");
  ctx.clearRect(0, 0, 48, 48);
  ctx.save();
  ctx.translate(24, 24);
  ctx.rotate((now / 1000) * Math.PI);
  ctx.fillStyle = "#8cf";
  ctx.fillRect(-12, -12, 24, 24);
  ctx.restore();
  requestAnimationFrame(animate);
}
requestAnimationFrame(animate);

function setState(state, text) {
  document.body.dataset.state = state;
  $("status").textContent = text;
  const busy = state === "running";
  $("run-worker").disabled = busy || !input;
  $("run-main").disabled = busy || !input || engine() !== "browser";
  $("cancel").disabled = !busy || running.mode !== "worker";
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

function engine() {
  return document.querySelector("input[name=engine]:checked").value;
}

function options() {
  const patchSize = Number($("patch").value) || 0;
  return { patchSize: patchSize, padding: patchSize ? "auto" : 0 };
}

// loadFile decodes the chosen file in the browser and keeps its pixels
// without alpha.
async function loadFile(file) {
  $("error").hidden = true;
  $("compare").hidden = true;
  $("download").classList.add("disabled");
  input = null;
  try {
    inputBitmap = await createImageBitmap(file);
  } catch (err) {
    setState("error", "No image loaded.");
    showError("“" + file.name + "” is not an image this browser can read (PNG, JPEG, WebP, GIF or BMP).");
    return;
  }
  const w = inputBitmap.width, h = inputBitmap.height;
  const canvas = $("source");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(inputBitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  input = { data: rgb, shape: [h, w, 3] };
  // Clear the input so that choosing the same file again loads it again.
  $("file").value = "";
  setState("ready", "Loaded " + file.name + ": " + w + "×" + h + " pixels.");
}

function start(mode) {
  $("error").hidden = true;
  $("progress").value = 0;
  running = { id: String(nextID++), engine: engine(), mode: mode, start: performance.now() };
  frameStats.reset();
  setState("running", "Upscaling " + (mode === "worker" ? "in a Web Worker" : "on the UI thread") +
    (running.engine === "server" ? " on the server…" : " in the browser…"));
}

function finish(state, text) {
  const r = running;
  window.lastRun = {
    id: r.id, engine: r.engine, mode: r.mode, state: state,
    durationMs: performance.now() - r.start, maxFrameGapMs: frameStats.maxGap,
    longFrameGaps: frameStats.longGaps,
  };
  $("frame-gap").textContent = "longest frame gap: " + Math.round(frameStats.maxGap) + " ms";
  setState(state, text);
  running = null;
}

// runInWorker posts the pixels to the worker. The copy is transferred, so
// the page keeps its own input for later runs.
function runInWorker() {
  start("worker");
  const data = input.data.slice();
  worker.postMessage({
    type: "upscale", id: running.id, data: data, shape: input.shape,
    engine: running.engine, opts: options(),
  }, [data.buffer]);
}

// wasmPreloaded is true once the worker has compiled the WebAssembly
// upscaler, or contains the error that stopped it.
window.wasmPreloaded = false;

worker.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "preloaded") {
    window.wasmPreloaded = msg.error || true;
    if (msg.error) {
      showError("The in-browser engine is unavailable: " + msg.error);
    }
    return;
  }
  if (!running || msg.id !== running.id) {
    return;
  }
  switch (msg.type) {
    case "progress":
      $("progress").value = msg.fraction;
      $("status").textContent = "Upscaling… " + Math.round(100 * msg.fraction) + "%";
      break;
    case "result":
      showResult(msg.data, msg.shape);
      break;
    case "canceled":
      finish("canceled", "Canceled.");
      break;
    case "error":
      finish("error", "Upscale failed.");
      showError(msg.message);
      break;
  }
};

worker.onerror = (event) => {
  if (running) {
    finish("error", "Upscale failed.");
  }
  showError("The worker failed: " + event.message);
};

// runOnMainThread runs the WebAssembly upscaler in the page itself.
async function runOnMainThread() {
  start("main");
  try {
    const out = await upscaleInBrowser(running.id, input.data.slice(), input.shape, options(), (p) => {
      $("progress").value = p.fraction;
    });
    showResult(out.data, out.shape);
  } catch (err) {
    finish("error", "Upscale failed.");
    showError(String(err.message || err));
  }
}

function showResult(rgb, shape) {
  const [h, w] = shape;
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgba[i] = rgb[j];
    rgba[i + 1] = rgb[j + 1];
    rgba[i + 2] = rgb[j + 2];
    rgba[i + 3] = 255;
  }
  const result = $("result");
  result.width = w;
  result.height = h;
  result.getContext("2d").putImageData(new ImageData(rgba, w, h), 0, 0);

  const before = $("before");
  before.width = w;
  before.height = h;
  const bctx = before.getContext("2d");
  bctx.imageSmoothingEnabled = false;
  bctx.drawImage(inputBitmap, 0, 0, w, h);
  $("compare").hidden = false;
  updateSlider();

  result.toBlob((blob) => {
    const link = $("download");
    if (link.href) {
      URL.revokeObjectURL(link.href);
    }
    link.href = URL.createObjectURL(blob);
    link.classList.remove("disabled");
  }, "image/png");
  $("progress").value = 1;
  const seconds = ((performance.now() - running.start) / 1000).toFixed(2);
  finish("done", "Done: " + w + "×" + h + " pixels in " + seconds + " s.");
}

function updateSlider() {
  $("result").style.clipPath = "inset(0 0 0 " + $("slider").value + "%)";
}

$("file").addEventListener("change", () => {
  if ($("file").files.length) {
    loadFile($("file").files[0]);
  }
});
$("drop").addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => {
  e.preventDefault();
  $("drop").classList.remove("over");
  if (e.dataTransfer.files.length) {
    loadFile(e.dataTransfer.files[0]);
  }
});
$("run-worker").addEventListener("click", runInWorker);
$("run-main").addEventListener("click", runOnMainThread);
$("cancel").addEventListener("click", () => {
  if (running && running.mode === "worker") {
    worker.postMessage({ type: "cancel", id: running.id });
    $("status").textContent = "Canceling…";
  }
});
$("slider").addEventListener("input", updateSlider);
document.querySelectorAll("input[name=engine]").forEach((el) => el.addEventListener("change", () => {
  if (document.body.dataset.state !== "running") {
    setState(document.body.dataset.state, $("status").textContent);
  }
}));
