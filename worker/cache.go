package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/models"
)

// maxModels is the number of loaded models a worker keeps. A request for
// another model closes the least recently used one that no request is
// using. The largest official model, esrgan-thick at one scale, has about
// 29 MB of weights in its package, so four models hold at most about
// 120 MB of weights.
const maxModels = 4

// defaultModel is the catalog name a request with an empty Model gets.
const defaultModel = "default-model"

// modelCache loads each model once and shares it between requests.
type modelCache struct {
	resolve func(name string, scale int) (models.Definition, error)
	threads int
	log     *slog.Logger

	mu      sync.Mutex
	entries map[string]*cacheEntry // guarded by mu
	clock   int64                  // guarded by mu; counts acquisitions for LRU order
}

// cacheEntry is one model, loaded or loading. ready is closed when u or
// err is set.
type cacheEntry struct {
	key   string
	ready chan struct{}
	u     *upscaler.Upscaler
	err   error
	refs  int   // guarded by modelCache.mu
	used  int64 // guarded by modelCache.mu
}

func newModelCache(cfg *Config, log *slog.Logger) *modelCache {
	resolve := cfg.Models
	if resolve == nil {
		resolve = models.Lookup
	}
	return &modelCache{resolve: resolve, threads: cfg.Threads, log: log, entries: map[string]*cacheEntry{}}
}

// acquire returns the loaded Upscaler for name and scale, loading it on
// first use. The caller must call release with the entry when done. The
// error is a *message.Error of kind KindUnknownModel, KindCanceled or
// KindInternal.
func (c *modelCache) acquire(ctx context.Context, id, name string, scale int) (*cacheEntry, *message.Error) {
	if name == "" {
		name = defaultModel
	}
	def, err := c.resolve(name, scale)
	if err != nil {
		return nil, errorf(id, message.KindUnknownModel, "model %q at scale %d: %v", name, scale, err)
	}
	key := def.String()

	// Step 1: find or create the entry.
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &cacheEntry{key: key, ready: make(chan struct{})}
		c.entries[key] = e
	}
	e.refs++
	c.clock++
	e.used = c.clock
	c.mu.Unlock()

	// Step 2: load it, or wait for the request that loads it.
	if !ok {
		c.log.Info("worker: loading model", "model", key)
		e.u, e.err = upscaler.New(upscaler.Config{Model: &def, Threads: c.threads, Logger: c.log})
		if e.err != nil {
			c.log.Warn("worker: model failed to load", "model", key, "err", e.err)
		}
		close(e.ready)
		c.evict()
	} else {
		select {
		case <-e.ready:
		case <-ctx.Done():
			c.release(e)
			return nil, errorf(id, message.KindCanceled, "request canceled while model %s was loading", key)
		}
	}
	if e.err != nil {
		err := e.err
		c.release(e)
		kind := message.KindInternal
		if errors.Is(err, models.ErrNotCached) {
			kind = message.KindUnknownModel
		}
		return nil, &message.Error{ID: id, Kind: kind, Message: fmt.Sprintf("load model %s: %v", key, err)}
	}
	return e, nil
}

// release ends one use of e. A failed entry is dropped when its last user
// leaves, so a later request tries to load the model again.
func (c *modelCache) release(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs == 0 && e.err != nil && c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
}

// evict closes the least recently used idle models while more than
// maxModels are loaded.
func (c *modelCache) evict() {
	c.mu.Lock()
	var drop []*cacheEntry
	for len(c.entries) > maxModels {
		var oldest *cacheEntry
		for _, e := range c.entries {
			if e.refs == 0 && (oldest == nil || e.used < oldest.used) {
				oldest = e
			}
		}
		if oldest == nil {
			break
		}
		delete(c.entries, oldest.key)
		drop = append(drop, oldest)
	}
	c.mu.Unlock()
	for _, e := range drop {
		<-e.ready
		if e.u != nil {
			c.log.Info("worker: unloading model", "model", e.key)
			e.u.Close()
		}
	}
}

// close closes every loaded model. No request may be running.
func (c *modelCache) close() {
	c.mu.Lock()
	entries := c.entries
	c.entries = map[string]*cacheEntry{}
	c.mu.Unlock()
	for _, e := range entries {
		<-e.ready
		if e.u != nil {
			e.u.Close()
		}
	}
}
