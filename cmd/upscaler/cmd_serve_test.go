package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"image/png"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler/message"
)

func TestWorkerAnswersRequest(t *testing.T) {
	c := newCLI(t)
	img := testImage(8, 6, false)
	rgb := make([]uint8, 0, 8*6*3)
	for i := 0; i < len(img.Pix); i += 4 {
		rgb = append(rgb, img.Pix[i:i+3]...)
	}
	var in bytes.Buffer
	req := &message.Request{ID: "r1", Tensor: message.FromUint8(rgb, 6, 8, 3), Output: message.OutputPNG}
	if err := message.NewWriter(&in).WriteMessage(req); err != nil {
		t.Fatal(err)
	}
	c.stdin = in.Bytes()

	r := c.mustRun("worker", "--threads", "1", "--concurrency", "1")

	// Progress messages may come first; the last message is the result.
	rd := message.NewReader(strings.NewReader(r.stdout), nil)
	var last message.Message
	for {
		m, err := rd.ReadMessage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read worker output: %v", err)
		}
		last = m
	}
	res, ok := last.(*message.Result)
	if !ok {
		t.Fatalf("last worker message = %#v, want a *message.Result\nstderr:\n%s", last, r.stderr)
	}
	out, err := png.Decode(bytes.NewReader(res.PNG))
	if err != nil {
		t.Fatalf("decode result PNG: %v", err)
	}
	if res.ID != "r1" || out.Bounds().Dx() != 16 || out.Bounds().Dy() != 12 {
		t.Errorf("result %s of size %v, want r1 of size 16x12", res.ID, out.Bounds().Size())
	}
}

// listenAddr finds the address in the server's start-up log line.
var listenAddr = regexp.MustCompile(`server: listening" addr=(\S+)`)

func TestServeStopsOnSIGINT(t *testing.T) {
	c := newCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, _, _ := c.command(ctx, "serve", "--addr", "127.0.0.1:0", "--workers", "1", "--grace", "5s", "--preload", "default-model")
	cmd.Stderr = nil
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	addr := ""
	for addr == "" && sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := listenAddr.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("serve logged no listening address:\n%s", log.String())
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
	}()

	resp, err := http.Get("http://" + addr + "/v2/health/live")
	if err != nil {
		t.Errorf("GET /v2/health/live: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /v2/health/live: status %d, want 200", resp.StatusCode)
		}
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-drained
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGINT: %v, want exit status 0\nstderr:\n%s", err, log.String())
	}
}
