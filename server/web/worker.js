// The Web Worker: receives {type: "upscale", id, data, shape, engine, opts},
// {type: "cancel", id} and {type: "preload"} (start loading the
// WebAssembly upscaler, acknowledged with "preloaded"), and posts back "progress", "result", "canceled"
// and "error" messages. The pixel buffers travel as transferables in both
// directions, so they are moved, not copied.
"use strict";
importScripts("wasm_exec.js", "engine.js");

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === "preload") {
    loadWasmUpscaler().then(
      () => self.postMessage({ type: "preloaded" }),
      (err) => self.postMessage({ type: "preloaded", error: err.message }));
    return;
  }
  if (msg.type === "cancel") {
    cancelWasm(msg.id);
    cancelServer(msg.id);
    return;
  }
  if (msg.type !== "upscale") {
    return;
  }
  const onProgress = (p) => {
    self.postMessage({ type: "progress", id: msg.id, fraction: p.fraction, row: p.row, col: p.col });
  };
  const run = msg.engine === "server" ? upscaleOnServer : upscaleInBrowser;
  try {
    const out = await run(msg.id, msg.data, msg.shape, msg.opts || {}, onProgress);
    self.postMessage({ type: "result", id: msg.id, data: out.data, shape: out.shape }, [out.data.buffer]);
  } catch (err) {
    const text = String(err && err.message ? err.message : err);
    if (text.startsWith("canceled")) {
      self.postMessage({ type: "canceled", id: msg.id });
    } else {
      self.postMessage({ type: "error", id: msg.id, message: text });
    }
  }
};
