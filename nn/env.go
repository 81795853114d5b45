package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Env carries what one call of a model provides to its layers: the number of
// goroutines to use and scratch memory. An Env belongs to one call at a time.
type Env struct {
	threads int
	scratch [][]float32
}

// Threads returns the number of goroutines a layer may use.
func (e *Env) Threads() int { return e.threads }

// Scratch returns a buffer of n floats for worker w, valid until the layer's
// Forward returns. Its contents are not zeroed.
func (e *Env) Scratch(w, n int) []float32 {
	for len(e.scratch) <= w {
		e.scratch = append(e.scratch, nil)
	}
	if cap(e.scratch[w]) < n {
		e.scratch[w] = make([]float32, n)
	}
	return e.scratch[w][:n]
}

// Parallel calls fn for each of the chunks [0, n) is cut into, on up to
// Threads goroutines. fn receives the worker index (for Scratch) and a
// half-open range. It returns after every call has finished, with the
// first error any of them returned.
func (e *Env) Parallel(n, chunk int, fn func(worker, lo, hi int) error) error {
	if n <= 0 {
		return nil
	}
	chunks := (n + chunk - 1) / chunk
	workers := min(e.threads, chunks)
	if workers <= 1 {
		for lo := 0; lo < n; lo += chunk {
			if err := fn(0, lo, min(lo+chunk, n)); err != nil {
				return err
			}
		}
		return nil
	}
	// Scratch grows its slice, so size it before the workers share it.
	e.Scratch(workers-1, 0)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
	)
	for w := range workers {
		wg.Go(func() {
			for !failed.Load() {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				lo := c * chunk
				if err := fn(w, lo, min(lo+chunk, n)); err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// DefaultThreads returns the number of goroutines a model uses when the
// caller sets none: GOMAXPROCS.
func DefaultThreads() int { return runtime.GOMAXPROCS(0) }
