package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// download fetches the tarball d names into a temporary file in cache and
// returns the file's name. The file is removed again unless its digest
// matches the one the registry publishes. The caller removes it after use.
func (c *Client) download(ctx context.Context, pkg, version string, d dist, cache string, progress func(done, total int64)) (name string, err error) {
	want, err := d.expected()
	if err != nil {
		return "", fmt.Errorf("registry: %s@%s: %w", pkg, version, err)
	}

	// A timer cancels the request when no data arrives for StallTimeout.
	// Every read restarts it.
	stall := c.stallTimeout()
	stalled := fmt.Errorf("%w: no data received for %v", ErrUnreachable, stall)
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(stall, func() { cancel(stalled) })
	defer timer.Stop()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("registry: download %s: %w", d.Tarball, context.Cause(ctx))
		}
		if context.Cause(dctx) == stalled {
			return fmt.Errorf("registry: download %s: %w", d.Tarball, stalled)
		}
		return fmt.Errorf("registry: download %s: %w", d.Tarball, err)
	}

	// Send the request.
	req, err := http.NewRequestWithContext(dctx, http.MethodGet, d.Tarball, nil)
	if err != nil {
		return "", fmt.Errorf("registry: %s@%s: invalid tarball URL %q: %w", pkg, version, d.Tarball, err)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if ctx.Err() != nil || context.Cause(dctx) == stalled {
			return "", fail(err)
		}
		return "", requestError(ctx, d.Tarball, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("registry: %s@%s: %w", pkg, version, &StatusError{URL: d.Tarball, StatusCode: resp.StatusCode, Status: resp.Status})
	}
	total := resp.ContentLength
	if total > MaxTarballBytes {
		return "", fmt.Errorf("registry: %s@%s: %w: tarball %s is %d bytes, over the %d-byte limit", pkg, version, ErrInvalidPackage, d.Tarball, total, MaxTarballBytes)
	}

	// Stream the body into a temporary file and through the hash.
	f, err := os.CreateTemp(cache, tempPrefix+entryName(pkg, version)+"-*.tgz")
	if err != nil {
		return "", fmt.Errorf("registry: create temporary file in the model cache: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("registry: write %s: %w", f.Name(), cerr)
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	h := want.newHash()
	body := &progressReader{r: io.LimitReader(resp.Body, MaxTarballBytes+1), total: total, progress: progress,
		onRead: func() { timer.Reset(stall) }}
	file := &recordingWriter{w: f}
	n, err := io.Copy(io.MultiWriter(file, h), body)
	switch {
	case file.err != nil:
		return "", fmt.Errorf("registry: write %s: %w", f.Name(), file.err)
	case err != nil:
		return "", fail(err)
	case n > MaxTarballBytes:
		return "", fmt.Errorf("registry: %s@%s: %w: tarball %s is over the %d-byte limit", pkg, version, ErrInvalidPackage, d.Tarball, MaxTarballBytes)
	case total >= 0 && n != total:
		return "", fail(fmt.Errorf("received %d of %d bytes: %w", n, total, io.ErrUnexpectedEOF))
	}

	// Compare the digests before anything is unpacked.
	got := digest{want.algorithm, h.Sum(nil)}
	if !bytes.Equal(got.sum, want.sum) {
		return "", fmt.Errorf("registry: %s@%s: %w: the registry publishes %s, the %d bytes downloaded from %s have %s; retry, and check any proxy or mirror in between", pkg, version, ErrIntegrity, want, n, d.Tarball, got)
	}
	return f.Name(), nil
}

// recordingWriter keeps the error of a failed write, so that a full disk
// is not reported as a network failure.
type recordingWriter struct {
	w   io.Writer
	err error
}

func (r *recordingWriter) Write(b []byte) (int, error) {
	n, err := r.w.Write(b)
	if err != nil {
		r.err = err
	}
	return n, err
}

// progressReader counts the bytes read, calls progress and onRead after
// each read, and calls progress once more at the end of the data.
type progressReader struct {
	r        io.Reader
	done     int64
	total    int64
	progress func(done, total int64)
	onRead   func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if n > 0 {
		p.onRead()
	}
	if p.progress != nil && (n > 0 || err == io.EOF) {
		p.progress(p.done, p.total)
	}
	return n, err
}
