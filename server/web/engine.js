// Upscale engines shared by the Web Worker (worker.js) and the page's
// no-worker mode (app.js). Both load this file as a classic script.
//
// Every engine takes RGB pixels (a Uint8Array of height·width·3 bytes) and
// resolves to {data: Uint8ClampedArray of RGB bytes, shape: [h, w, 3]}.
"use strict";

let wasmModule = null;

// loadWasmUpscaler starts the Go upscaler compiled to WebAssembly in the
// current global scope (a worker or the page) once, and resolves to its
// goUpscaler object.
function loadWasmUpscaler() {
  if (wasmModule) {
    return wasmModule;
  }
  wasmModule = (async () => {
    const go = new Go();
    const ready = new Promise((resolve) => { self.goUpscalerReady = resolve; });
    const response = fetch("upscaler.wasm");
    let result;
    try {
      result = await WebAssembly.instantiateStreaming(response, go.importObject);
    } catch (err) {
      wasmModule = null;
      throw new Error("could not load upscaler.wasm: " + err.message);
    }
    go.run(result.instance);
    await ready;
    if (self.goUpscaler.error) {
      throw new Error(self.goUpscaler.error);
    }
    return self.goUpscaler;
  })();
  return wasmModule;
}

// upscaleInBrowser runs the WebAssembly upscaler. cancelWasm(id) stops it
// between patches.
async function upscaleInBrowser(id, data, shape, opts, onProgress) {
  const up = await loadWasmUpscaler();
  const out = await up.upscale(data, shape, {
    id: id, patchSize: opts.patchSize, padding: opts.padding,
  }, onProgress);
  return { data: new Uint8ClampedArray(out.data.buffer), shape: out.shape };
}

function cancelWasm(id) {
  if (self.goUpscaler) {
    self.goUpscaler.cancel(id);
  }
}

// describeHTTPError turns an error response of the service into a sentence.
async function describeHTTPError(resp) {
  let detail = "";
  try {
    detail = (await resp.json()).error || "";
  } catch (_) {
    // The body was not the service's JSON error.
  }
  switch (resp.status) {
    case 429:
      return "The server is busy: all workers are in use. Try again in " +
        (resp.headers.get("Retry-After") || "a few") + " s.";
    case 413:
      return "The image is too large for the server: " + detail;
    default:
      return "The server could not upscale the image (HTTP " + resp.status + "): " + detail;
  }
}

// serverJobs maps a request id to the server job id, for cancelling.
const serverJobs = new Map();

// upscaleOnServer sends the pixels to the service as a job
// (POST /v1/jobs with the JSON tensor form), follows its progress over
// Server-Sent Events, and fetches the tensor result.
async function upscaleOnServer(id, data, shape, opts, onProgress) {
  const query = new URLSearchParams();
  if (opts.patchSize) {
    query.set("patchSize", String(opts.patchSize));
    query.set("padding", String(opts.padding));
  }
  const resp = await fetch("v1/jobs?" + query, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ data: Array.from(data), shape: shape }),
  });
  if (resp.status !== 202) {
    throw new Error(await describeHTTPError(resp));
  }
  const job = (await resp.json()).id;
  serverJobs.set(id, job);
  try {
    await new Promise((resolve, reject) => {
      const events = new EventSource("v1/jobs/" + job + "/events");
      events.addEventListener("progress", (e) => {
        const p = JSON.parse(e.data);
        onProgress({ id: id, fraction: p.fraction, row: p.row, col: p.col });
      });
      events.addEventListener("done", () => { events.close(); resolve(); });
      events.addEventListener("error", (e) => {
        events.close();
        if (!e.data) {
          reject(new Error("lost the connection to the server"));
          return;
        }
        const p = JSON.parse(e.data);
        reject(new Error(p.state === "canceled" ? "canceled: the upscale was stopped" : p.error));
      });
    });
    const result = await fetch("v1/jobs/" + job + "/result", { headers: { Accept: "application/json" } });
    if (!result.ok) {
      throw new Error(await describeHTTPError(result));
    }
    const tensor = await result.json();
    // Uint8ClampedArray rounds the 0..255 float values to the nearest byte.
    return { data: Uint8ClampedArray.from(tensor.data), shape: tensor.shape };
  } finally {
    serverJobs.delete(id);
  }
}

function cancelServer(id) {
  const job = serverJobs.get(id);
  if (job) {
    fetch("v1/jobs/" + job, { method: "DELETE" });
  }
}
