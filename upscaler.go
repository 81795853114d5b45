package upscaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
	"github.com/upscaler-go/upscaler/tfjs"
)

// Errors returned, wrapped, by an Upscaler's methods.
var (
	// ErrAborted is matched by the error of a call stopped by its context
	// or by Abort.
	ErrAborted = errors.New("upscaler: aborted")
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("upscaler: closed")
	// ErrInput is matched by errors about an input that cannot be upscaled:
	// wrong shape, bad values, undecodable bytes.
	ErrInput = errors.New("upscaler: invalid input")
	// ErrOptions is matched by errors about invalid Options.
	ErrOptions = errors.New("upscaler: invalid options")
)

// Config configures New. The zero value gives the embedded default model.
type Config struct {
	// Model is the model to load; nil means models.Default().
	Model *models.Definition
	// WarmUp lists square input sizes to run once through the model when it
	// loads, so the first real call does not pay for first-use costs.
	WarmUp []int
	// Threads is the number of goroutines one call uses; 0 means GOMAXPROCS.
	Threads int
	// Logger receives the warnings UpscalerJS prints (patch size without
	// padding, and so on). Nil means no logging.
	Logger *slog.Logger
}

// Upscaler runs one model. Its methods are safe for concurrent use: the
// weights are shared and every call has its own buffers.
type Upscaler struct {
	def    models.Definition
	info   *tfjs.Model
	log    *slog.Logger
	radius float64

	mu     sync.Mutex
	model  *nn.Model // nil after Close
	calls  map[*call]struct{}
	closed bool
	wg     sync.WaitGroup
}

// call is one Upscale in flight, cancellable by Abort.
type call struct {
	cancel context.CancelCauseFunc
}

// New loads the model of cfg and returns an Upscaler for it.
func New(cfg Config) (*Upscaler, error) {
	def := models.Default()
	if cfg.Model != nil {
		def = *cfg.Model
	}
	info, err := def.Load()
	if err != nil {
		return nil, fmt.Errorf("upscaler: load model %s: %w", def.String(), err)
	}
	m, err := nn.Compile(info.Graph, nn.Options{Threads: cfg.Threads})
	if err != nil {
		return nil, fmt.Errorf("upscaler: compile model %s: %w", def.String(), err)
	}
	if s := info.Graph.Scale(); int(math.Round(s)) != def.Scale {
		return nil, fmt.Errorf("upscaler: model %s enlarges %g× but its definition sets Scale to %d; set it to %g", def.String(), s, def.Scale, s)
	}
	if in := info.Graph.Input().Shape(); in.C != 3 {
		return nil, fmt.Errorf("upscaler: model %s takes %d channels; image models take 3 (RGB)", def.String(), in.C)
	}
	if def.InputSize == 0 {
		if in := info.Graph.Input().Shape(); in.H > 0 && in.H == in.W {
			def.InputSize = in.H
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &Upscaler{def: def, info: info, model: m, log: log, calls: map[*call]struct{}{}, radius: info.Graph.ReceptiveRadius()}
	for _, size := range cfg.WarmUp {
		if err := u.WarmUp(context.Background(), WarmUpSize{Width: size, Height: size}); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// Definition returns the definition of the loaded model.
func (u *Upscaler) Definition() models.Definition { return u.def }

// Model returns the loaded model: its graph, file and size.
func (u *Upscaler) Model() *tfjs.Model { return u.info }

// Scale returns the factor by which the model enlarges each side.
func (u *Upscaler) Scale() int { return u.def.Scale }

// ReceptiveRadius returns how many input pixels, on each side, one output
// pixel depends on, from the model's graph. Patches padded by at least this
// much give the same output as one untiled pass.
func (u *Upscaler) ReceptiveRadius() float64 { return u.radius }

// Abort cancels every call in flight on u. Their errors match ErrAborted.
// The Upscaler stays usable.
func (u *Upscaler) Abort() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.calls {
		c.cancel(ErrAborted)
	}
}

// Close aborts the calls in flight, waits for them to return and releases
// the model. Later calls return ErrClosed. Close is idempotent.
func (u *Upscaler) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	for c := range u.calls {
		c.cancel(ErrClosed)
	}
	u.mu.Unlock()
	u.wg.Wait()
	u.mu.Lock()
	u.model = nil
	u.mu.Unlock()
	return nil
}

// begin registers a call and returns its context and model. end must be
// called when the call returns.
func (u *Upscaler) begin(ctx context.Context) (context.Context, *call, *nn.Model, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil, nil, nil, ErrClosed
	}
	cctx, cancel := context.WithCancelCause(ctx)
	c := &call{cancel: cancel}
	u.calls[c] = struct{}{}
	u.wg.Add(1)
	return cctx, c, u.model, nil
}

func (u *Upscaler) end(c *call) {
	u.mu.Lock()
	delete(u.calls, c)
	u.mu.Unlock()
	c.cancel(nil)
	u.wg.Done()
}

// stopError turns the error of a cancelled call into one that matches
// ErrAborted and, when the caller's context ended, the context's error.
func stopError(parent, cctx context.Context) error {
	if err := parent.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrAborted, err)
	}
	if cause := context.Cause(cctx); errors.Is(cause, ErrClosed) {
		return fmt.Errorf("%w: %w", ErrAborted, ErrClosed)
	}
	return ErrAborted
}

// WarmUpSize is an input size for WarmUp. Patch, when above zero, stands for
// square patches of that size (their padding is inside the patch).
type WarmUpSize struct {
	Width, Height int
	Patch         int
}

// WarmUp runs zero inputs of the given sizes through the model.
func (u *Upscaler) WarmUp(ctx context.Context, sizes ...WarmUpSize) error {
	for _, s := range sizes {
		w, h := s.Width, s.Height
		if s.Patch > 0 {
			w, h = s.Patch, s.Patch
		}
		if w <= 0 || h <= 0 {
			return fmt.Errorf("%w: warm-up size %d×%d must be positive", ErrOptions, w, h)
		}
		if _, err := u.Upscale(ctx, tensor.New(h, w, 3), nil); err != nil {
			return fmt.Errorf("upscaler: warm up %d×%d: %w", w, h, err)
		}
	}
	return nil
}

// defaultLimits is used when Options.Limits is zero.
var defaultLimits = imageio.DefaultLimits
