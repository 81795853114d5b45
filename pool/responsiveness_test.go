package pool

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/models"
)

// tickInterval is the period of the loop whose lateness is measured, like
// a UI frame loop or a health check.
const tickInterval = 10 * time.Millisecond

// lateness is how late the ticks of a 10 ms ticker were.
type lateness struct {
	worst, p99 time.Duration
	ticks      int
}

func (l lateness) String() string {
	return fmt.Sprintf("worst %v, 99th percentile %v over %d ticks", l.worst.Round(time.Microsecond), l.p99.Round(time.Microsecond), l.ticks)
}

// measureLateness runs a 10 ms ticker on the calling goroutine until job
// returns, calling job on that goroutine when inline is set and on another
// one otherwise, and returns by how much the gaps between two ticks
// exceeded the interval.
func measureLateness(t *testing.T, inline bool, job func() error) lateness {
	t.Helper()
	var done atomic.Bool
	errc := make(chan error, 1)
	ticker := time.NewTicker(tickInterval)
	defer ticker.Stop()
	if !inline {
		go func() {
			errc <- job()
			done.Store(true)
		}()
	}
	var late []time.Duration
	last := time.Now()
	for first := true; !done.Load(); first = false {
		<-ticker.C
		now := time.Now()
		late = append(late, max(now.Sub(last)-tickInterval, 0))
		last = now
		if inline && first {
			// The upscale runs inside this tick, so the next tick is late by
			// all of it.
			errc <- job()
			done.Store(true)
			<-ticker.C
			late = append(late, max(time.Since(last)-tickInterval, 0))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	slices.Sort(late)
	return lateness{worst: late[len(late)-1], p99: late[len(late)*99/100], ticks: len(late)}
}

// TestResponsiveness measures how late a 10 ms ticker gets while
// esrgan-medium 2× upscales a 384×384 image in patches of 64 with padding
// 8: in the in-process pool, in a worker process, and inline on the
// ticking goroutine.
func TestResponsiveness(t *testing.T) {
	if testing.Short() {
		t.Skip("upscales three 384×384 images with esrgan-medium")
	}
	def, err := models.FromPackage(testfiles.Package(t, testfiles.ESRGANMedium), "", 2)
	if err != nil {
		t.Fatal(err)
	}
	req := &message.Request{ID: "r", Tensor: rgb(fixtureImage(t, 384, 384)), Model: "esrgan-medium", PatchSize: 64, Padding: 8}
	procs := runtime.GOMAXPROCS(0)
	threads := max(procs-1, 1)
	submitAndWait := func(s submitter) func() error {
		return func() error {
			h, err := s.Submit(context.Background(), req)
			if err != nil {
				return err
			}
			_, err = h.Wait(context.Background())
			return err
		}
	}

	// (a) In process, one job with GOMAXPROCS-1 threads, then with all.
	inPool := newPool(t, Config{Model: &def, ThreadsPerJob: threads})
	start := time.Now()
	a := measureLateness(t, false, submitAndWait(inPool))
	aTime := time.Since(start)
	inPoolAll := newPool(t, Config{Model: &def, ThreadsPerJob: procs})
	start = time.Now()
	aAll := measureLateness(t, false, submitAndWait(inPoolAll))
	aAllTime := time.Since(start)

	// (b) In a worker process, which loads the model before the clock
	// starts.
	pp := newProcessPool(t, ProcessConfig{})
	if err := submitAndWait(pp)(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	b := measureLateness(t, false, submitAndWait(pp))
	bTime := time.Since(start)

	// (c) Inline on the ticking goroutine.
	u, err := upscaler.New(upscaler.Config{Model: &def})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	in, err := req.Tensor.ToTensor()
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	c := measureLateness(t, true, func() error {
		_, err := u.Upscale(context.Background(), in, &upscaler.Options{PatchSize: 64, Padding: 8})
		return err
	})
	cTime := time.Since(start)

	t.Logf("GOMAXPROCS %d, %s, 384×384 in patches of 64, padding 8:", procs, def.String())
	t.Logf("(a) in-process pool, threads per job %d: lateness %v; upscale %v", threads, a, aTime.Round(time.Millisecond))
	t.Logf("(a) in-process pool, threads per job %d: lateness %v; upscale %v", procs, aAll, aAllTime.Round(time.Millisecond))
	t.Logf("(b) worker process: lateness %v; upscale %v", b, bTime.Round(time.Millisecond))
	t.Logf("(c) inline on the ticking goroutine: lateness %v; upscale %v", c, cTime.Round(time.Millisecond))
	for _, m := range []struct {
		name string
		got  lateness
	}{{"in-process pool", a}, {"worker process", b}} {
		if m.got.worst >= c.worst/2 {
			t.Errorf("worst tick lateness with the %s = %v, want under half the inline %v", m.name, m.got.worst, c.worst)
		}
	}
}
