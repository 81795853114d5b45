package pool

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/worker"
)

// The tests start this test binary as a worker process: with
// UPSCALER_TEST_WORKER=1 in its environment, TestMain serves frames on
// stdin and stdout with worker.Serve instead of running tests. Besides the
// catalog models, that worker resolves three model names that misbehave on
// demand:
//
//	test-exit   the process exits with status 3
//	test-alloc  the process allocates and touches 1 GiB, then waits
//	test-hang   the request ignores cancellation and waits an hour
//
// and it loads esrgan-medium from the package in testdata/npm, since the
// model cache may be empty.
func TestMain(m *testing.M) {
	if os.Getenv("UPSCALER_TEST_WORKER") == "1" {
		os.Exit(testWorker())
	}
	goleak.VerifyTestMain(m)
}

// ballast keeps test-alloc's memory reachable.
var ballast []byte

func testWorker() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := worker.Config{
		Logger: log,
		Models: func(name string, scale int) (models.Definition, error) {
			switch name {
			case "test-exit":
				os.Exit(3)
			case "test-alloc":
				ballast = make([]byte, 1<<30)
				for i := 0; i < len(ballast); i += 4096 {
					ballast[i] = 1
				}
				time.Sleep(time.Hour)
			case "test-hang":
				fmt.Fprintln(os.Stderr, "test-hang: ignoring cancellation")
				time.Sleep(time.Hour)
			case "esrgan-medium":
				pkg := filepath.Join(testfiles.Root(), "testdata", "npm", testfiles.ESRGANMedium)
				return models.FromPackage(pkg, "", scale)
			}
			return models.Lookup(name, scale)
		},
	}
	if err := worker.Serve(context.Background(), os.Stdin, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "test worker:", err)
		return 1
	}
	return 0
}
