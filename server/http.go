package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/autopatch"
	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/tensor"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/upscale", s.handleUpscale)
	mux.HandleFunc("POST /v1/jobs", s.handleJobCreate)
	mux.HandleFunc("GET /v1/jobs/{id}/events", s.handleJobEvents)
	mux.HandleFunc("GET /v1/jobs/{id}/result", s.handleJobResult)
	mux.HandleFunc("GET /v1/jobs/{id}", s.handleJobStatus)
	mux.HandleFunc("DELETE /v1/jobs/{id}", s.handleJobCancel)

	mux.HandleFunc("GET /v2/health/live", s.handleLive)
	mux.HandleFunc("GET /v2/health/ready", s.handleReady)
	mux.HandleFunc("GET /v2", s.handleServerMetadata)
	mux.HandleFunc("GET /v2/models", s.handleModelList)
	mux.HandleFunc("GET /v2/models/{name}", s.handleModelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.handleModelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.handleInfer)

	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /", webHandler())
	return s.observe(mux)
}

// requestInfo collects what the request log line reports beyond method and
// path. Handlers fill it through infoFrom.
type requestInfo struct {
	id          string
	model       string
	inputWidth  int
	inputHeight int
	outWidth    int
	outHeight   int
	err         error
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// statusWriter records the status code and body size of a response.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer, for
// flushing event streams.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe wraps h with a request ID, one log line per request, and the
// request metrics.
func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		start := time.Now()
		info := &requestInfo{id: r.Header.Get("X-Request-Id")}
		if info.id == "" || len(info.id) > 64 {
			info.id = newID()
		}
		w.Header().Set("X-Request-Id", info.id)
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))

		h.ServeHTTP(sw, r)

		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())

		attrs := []any{
			"id", info.id, "method", r.Method, "path", r.URL.Path, "status", sw.code,
			"duration", elapsed, "in_bytes", r.ContentLength, "out_bytes", sw.bytes,
		}
		if info.model != "" {
			attrs = append(attrs, "model", info.model)
		}
		if info.inputWidth > 0 {
			attrs = append(attrs, "in_size", fmt.Sprintf("%dx%d", info.inputWidth, info.inputHeight))
		}
		if info.outWidth > 0 {
			attrs = append(attrs, "out_size", fmt.Sprintf("%dx%d", info.outWidth, info.outHeight))
		}
		level := slog.LevelInfo
		if info.err != nil {
			attrs = append(attrs, "err", info.err.Error())
			if sw.code >= 500 {
				level = slog.LevelError
			} else {
				level = slog.LevelWarn
			}
		}
		if strings.HasPrefix(route, "GET /v2/health") || route == "GET /metrics" {
			level = slog.LevelDebug
		}
		s.log.Log(r.Context(), level, "request", attrs...)
	})
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errBadRequest is wrapped by errors in request parameters.
var errBadRequest = errors.New("invalid request")

// statusClientClosed is logged for requests whose client went away before
// the response; the client never sees it.
const statusClientClosed = 499

// statusOf maps an error to an HTTP status code.
func statusOf(err error) int {
	var maxBytes *http.MaxBytesError
	var decodeErr *message.DecodeError
	switch {
	case errors.Is(err, errBusy):
		return http.StatusTooManyRequests
	case errors.As(err, &maxBytes), errors.Is(err, imageio.ErrTooLarge), errors.Is(err, errTooLargeTensor):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &decodeErr) && decodeErr.Kind == message.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, imageio.ErrFormat):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, errUnknownModel):
		return http.StatusNotFound
	case errors.Is(err, models.ErrNotCached), errors.Is(err, errStopping), errors.Is(err, upscaler.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return statusClientClosed
	case errors.Is(err, errBadRequest), errors.Is(err, imageio.ErrCorrupt), errors.Is(err, upscaler.ErrInput),
		errors.Is(err, upscaler.ErrOptions), errors.As(err, &decodeErr):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError writes {"error": message} with the status for err, and
// records err for the request log.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	infoFrom(r.Context()).err = err
	msg := err.Error()
	switch code {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(s.queue.retryAfterSeconds()))
	case http.StatusRequestEntityTooLarge:
		msg = s.tooLargeMessage(err)
	case http.StatusServiceUnavailable:
		if errors.Is(err, context.DeadlineExceeded) {
			msg = fmt.Sprintf("request timed out after %s: use a smaller image or a patch size", s.cfg.RequestTimeout)
		}
	case http.StatusInternalServerError:
		msg = "internal error: " + msg
	}
	writeJSON(w, code, map[string]string{"error": msg})
}

// tooLargeMessage words a 413 error for the service's clients: it names
// the server's limit and the serve flag that sets it, in place of the
// library's advice.
func (s *Server) tooLargeMessage(err error) string {
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return fmt.Sprintf("request body is larger than this server's limit of %d bytes (upscaler serve --max-body-bytes)", maxBytes.Limit)
	}
	var limit *imageio.LimitError
	if errors.As(err, &limit) && limit.Limit == "MaxBytes" {
		return fmt.Sprintf("%v: %s: send a smaller file (this server's limit is set with upscaler serve --max-body-bytes)", imageio.ErrTooLarge, limit.Detail)
	}
	if errors.As(err, &limit) {
		return fmt.Sprintf("%v: %s: send a smaller image (this server's limit is set with upscaler serve --max-pixels)", imageio.ErrTooLarge, limit.Detail)
	}
	var decodeErr *message.DecodeError
	if errors.As(err, &decodeErr) {
		err = decodeErr.Err
	}
	return fmt.Sprintf("%v: send a smaller image (this server's limit is set with upscaler serve --max-pixels)", err)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// upscaleRequest is a parsed /v1/upscale or /v1/jobs request.
type upscaleRequest struct {
	model     modelRef
	input     any // image.Image or *tensor.Tensor
	width     int
	height    int
	opts      upscaler.Options
	format    upscaler.Format
	quality   int
	tensorOut bool
}

// parseUpscaleRequest reads the query parameters and the body of r.
func (s *Server) parseUpscaleRequest(w http.ResponseWriter, r *http.Request) (*upscaleRequest, error) {
	q := r.URL.Query()
	req := &upscaleRequest{format: upscaler.PNG}
	info := infoFrom(r.Context())

	// Query parameters.
	scale, err := intParam(q.Get("scale"), "scale")
	if err != nil {
		return nil, err
	}
	req.model, err = resolveModel(q.Get("model"), scale)
	if err != nil {
		return nil, err
	}
	info.model = req.model.inferenceName()
	if req.opts.PatchSize, err = intParam(q.Get("patchSize"), "patchSize"); err != nil {
		return nil, err
	}
	switch p := q.Get("padding"); p {
	case "auto":
		req.opts.AutoPadding = true
	default:
		if req.opts.Padding, err = intParam(p, "padding"); err != nil {
			return nil, fmt.Errorf("%w: padding=%q is not a non-negative integer or \"auto\"", errBadRequest, p)
		}
	}
	if f := q.Get("format"); f != "" {
		switch upscaler.Format(strings.ToLower(f)) {
		case upscaler.PNG, upscaler.JPEG, upscaler.WebP:
			req.format = upscaler.Format(strings.ToLower(f))
		case "jpg":
			req.format = upscaler.JPEG
		default:
			return nil, fmt.Errorf("%w: format=%q is not supported: use png, jpeg or webp", errBadRequest, f)
		}
	}
	if v := q.Get("quality"); v != "" {
		// 0 would select the encoder's default, so it is rejected with the
		// other values outside 1..100.
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, fmt.Errorf("%w: quality=%q is out of range: use 1..100", errBadRequest, v)
		}
		req.quality = n
	}
	req.tensorOut = acceptsJSON(r)
	req.opts.MaxPixels = s.cfg.MaxPixels

	// Body.
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	ctype, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ctype {
	case "application/json":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		mt, err := message.UnmarshalJSON(b, &message.Limits{MaxPixels: s.cfg.MaxPixels})
		if err != nil {
			return nil, fmt.Errorf("%w: JSON tensor: %w", errBadRequest, err)
		}
		t, err := mt.ToTensor()
		if err != nil {
			return nil, fmt.Errorf("%w: JSON tensor: %w", errBadRequest, err)
		}
		if err := checkImageTensor(t, s.cfg.MaxPixels); err != nil {
			return nil, err
		}
		req.input = t
		req.height, req.width = t.Shape[len(t.Shape)-3], t.Shape[len(t.Shape)-2]
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, fmt.Errorf("%w: multipart body without a boundary", errBadRequest)
		}
		b, err := readFormFile(r, "image")
		if err != nil {
			return nil, err
		}
		if err := req.decodeImage(b, s.cfg); err != nil {
			return nil, err
		}
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		if err := req.decodeImage(b, s.cfg); err != nil {
			return nil, err
		}
	}
	info.inputWidth, info.inputHeight = req.width, req.height
	if q.Get("patchSize") == "" {
		autopatch.Apply(&req.opts, req.width, req.height, q.Get("padding") != "")
	}
	return req, nil
}

func (req *upscaleRequest) decodeImage(b []byte, cfg Config) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty body: send an image (PNG, JPEG, WebP, GIF, BMP or TIFF)", errBadRequest)
	}
	img, _, err := imageio.DecodeBytes(b, imageio.Limits{MaxPixels: cfg.MaxPixels, MaxBytes: cfg.MaxBodyBytes})
	if err != nil {
		return err
	}
	req.input = img
	req.width, req.height = img.Bounds().Dx(), img.Bounds().Dy()
	return nil
}

// readFormFile returns the content of the multipart field name.
func readFormFile(r *http.Request, name string) ([]byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("%w: multipart body: %w", errBadRequest, err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: multipart form has no field %q: upload the image as %q", errBadRequest, name, name)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: multipart body: %w", errBadRequest, err)
		}
		if part.FormName() != name {
			part.Close()
			continue
		}
		b, err := io.ReadAll(part)
		part.Close()
		if err != nil {
			return nil, fmt.Errorf("read multipart field %q: %w", name, err)
		}
		return b, nil
	}
}

// checkImageTensor checks that t is [h, w, 3] or [1, h, w, 3] with h × w
// within maxPixels and values in 0..255.
func checkImageTensor(t *tensor.Tensor, maxPixels int64) error {
	shape := t.Shape
	if len(shape) == 4 && shape[0] == 1 {
		shape = shape[1:]
	}
	if len(shape) != 3 || shape[2] != 3 {
		return fmt.Errorf("%w: tensor shape %v is not an RGB image: use [height, width, 3]", errBadRequest, t.Shape)
	}
	if int64(shape[0])*int64(shape[1]) > maxPixels {
		return fmt.Errorf("%w: tensor of %dx%d pixels exceeds the limit of %d pixels", errTooLargeTensor, shape[1], shape[0], maxPixels)
	}
	for i, v := range t.Data {
		if !(v >= 0 && v <= 255) {
			return fmt.Errorf("%w: tensor value %g at index %d is outside 0..255", errBadRequest, v, i)
		}
	}
	return nil
}

func intParam(s, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s=%q is not a non-negative integer", errBadRequest, name, s)
	}
	return n, nil
}

func acceptsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		if mt == "application/json" {
			return true
		}
	}
	return false
}

// upscale runs req on a worker slot. progress, when not nil, receives each
// finished patch.
func (s *Server) upscale(ctx context.Context, req *upscaleRequest, progress func(upscaler.Progress)) (*upscaler.Result, error) {
	select {
	case <-s.stopping:
		return nil, errStopping
	default:
	}
	engine, err := s.engine(ctx, req.model)
	if err != nil {
		return nil, err
	}
	if err := s.queue.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.queue.release()
	opts := req.opts
	opts.Progress = progress
	res, err := engine.Upscale(ctx, req.input, &opts)
	if err != nil {
		return nil, err
	}
	s.metrics.pixels.WithLabelValues(req.model.inferenceName()).Add(float64(res.Tensor.Shape[0] * res.Tensor.Shape[1]))
	return res, nil
}

// engine returns the Engine that runs model: the loaded model itself, or
// the worker processes.
func (s *Server) engine(ctx context.Context, model modelRef) (Engine, error) {
	if s.procs != nil {
		return processEngine{pool: s.procs, model: model}, nil
	}
	return s.models.getRef(ctx, model)
}

// writeResult writes res as an image, or as a JSON tensor when the
// request accepts JSON.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, req *upscaleRequest, res *upscaler.Result) {
	info := infoFrom(r.Context())
	info.outHeight, info.outWidth = res.Tensor.Shape[0], res.Tensor.Shape[1]
	if req.tensorOut {
		b, err := message.MarshalJSON(message.FromTensor(res.Tensor))
		if err != nil {
			s.writeError(w, r, fmt.Errorf("encode JSON tensor: %w", err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
		return
	}
	var buf bytes.Buffer
	if err := res.Encode(&buf, req.format, req.quality); err != nil {
		s.writeError(w, r, fmt.Errorf("encode %s: %w", req.format, err))
		return
	}
	w.Header().Set("Content-Type", contentType(req.format))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

func contentType(f upscaler.Format) string {
	switch f {
	case upscaler.JPEG:
		return "image/jpeg"
	case upscaler.WebP:
		return "image/webp"
	}
	return "image/png"
}

func (s *Server) handleUpscale(w http.ResponseWriter, r *http.Request) {
	if s.rejectWhenFull(w, r) {
		return
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.RequestTimeout)
	defer cancel()
	req, err := s.parseUpscaleRequest(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.upscale(ctx, req, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeResult(w, r, req, res)
}

// rejectWhenFull responds 429 Too Many Requests and returns true when the
// queue is full. Handlers call it before reading the body, so that a
// rejected request costs no decoding: under overload, rejections would
// otherwise take processor time from the running upscales and from the
// liveness probes. The queue can fill between this check and acquire,
// which then rejects the request after all.
func (s *Server) rejectWhenFull(w http.ResponseWriter, r *http.Request) bool {
	if !s.queue.full() {
		return false
	}
	s.queue.metrics.rejected.Inc()
	s.writeError(w, r, errBusy)
	return true
}

// contextWithTimeout returns r's context bounded by d. The request context
// ends when the client disconnects, which cancels the upscale and frees its
// worker.
func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}
