package server

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
)

// The WebAssembly build of the upscaler (gzip-compressed, about 3.5 MB
// instead of 11 MB) and Go's JavaScript support file for it are generated
// into web/ and committed, so building the server needs no js/wasm step.
// Run `go generate ./server` after changing the library or the Go version:
// wasm_exec.js must come from the Go release that built the .wasm.
//go:generate sh -c "GOOS=js GOARCH=wasm go build -tags purego -trimpath -ldflags=-s -o web/upscaler.wasm ../cmd/wasm && gzip -9 -n -f web/upscaler.wasm"
//go:generate sh -c "cp \"$(go env GOROOT)/lib/wasm/wasm_exec.js\" web/wasm_exec.js"

//go:embed web
var webFiles embed.FS

// webHandler serves the page and its scripts.
func webHandler() http.Handler {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree always contains web/
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		if r.URL.Path == "/upscaler.wasm" {
			serveWasm(w, r, sub)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// serveWasm serves the compressed upscaler.wasm.gz as upscaler.wasm with
// Content-Encoding gzip, or decompressed for a client that does not accept
// gzip. WebAssembly.instantiateStreaming needs the application/wasm type.
func serveWasm(w http.ResponseWriter, r *http.Request, files fs.FS) {
	gz, err := fs.ReadFile(files, "upscaler.wasm.gz")
	if err != nil {
		http.Error(w, "upscaler.wasm is missing from this build: run go generate ./server", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Set("Vary", "Accept-Encoding")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(gz)))
		w.Write(gz)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		http.Error(w, "upscaler.wasm.gz is corrupt: run go generate ./server", http.StatusInternalServerError)
		return
	}
	io.Copy(w, zr)
}
