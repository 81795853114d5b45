package pool

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/upscaler-go/upscaler/message"
)

// memoryPoll is how often a worker process's resident memory is checked
// against ProcessConfig.MemoryLimit.
const memoryPoll = 100 * time.Millisecond

// proc is one running worker process.
type proc struct {
	cmd     *exec.Cmd
	pid     int
	log     *slog.Logger
	started time.Time
	exited  chan struct{} // closed once the process has exited and been waited for
	replies chan message.Message

	stdin  io.WriteCloser
	wmu    sync.Mutex // serialises frames on stdin
	writer *message.Writer

	mu      sync.Mutex
	current *Handle // guarded by mu; the job whose messages the reader delivers
	wireID  string  // guarded by mu; the ID the current job has on the wire
	reason  string  // guarded by mu; why the pool killed the process, if it did
	state   *os.ProcessState
}

// startProc starts one worker process of cfg.
func startProc(cfg *ProcessConfig, log *slog.Logger) (*proc, error) {
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	if cfg.MemoryLimit > 0 && !hasEnv(cfg.Env, "GOMEMLIMIT") {
		// A soft limit below the hard one makes a Go worker collect
		// garbage harder before the pool has to kill it.
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+strconv.FormatInt(cfg.MemoryLimit/4*3, 10))
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("pool: start worker %q: %w", cfg.Command[0], err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		stdin.Close()
		return nil, fmt.Errorf("pool: start worker %q: %w", cfg.Command[0], err)
	}
	lw := &lineLogger{log: log}
	cmd.Stderr = lw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pool: start worker %q: %w", cfg.Command[0], err)
	}
	p := &proc{
		cmd: cmd, pid: cmd.Process.Pid, started: time.Now(),
		exited: make(chan struct{}), replies: make(chan message.Message, 1),
		stdin: stdin, writer: message.NewWriter(stdin),
	}
	p.log = log.With("pid", p.pid)
	lw.setLogger(p.log)
	p.log.Info("pool: worker process started", "command", cfg.Command)
	go p.read(stdout, cfg.Limits)
	if cfg.MemoryLimit > 0 {
		go p.watchMemory(cfg.MemoryLimit)
	}
	return p, nil
}

func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if len(kv) > len(name) && kv[:len(name)+1] == name+"=" {
			return true
		}
	}
	return false
}

// read delivers the frames of the process's stdout to the current job
// until the stream ends, then waits for the process and closes exited.
func (p *proc) read(stdout io.Reader, lim *message.Limits) {
	r := message.NewReader(bufio.NewReaderSize(stdout, 64<<10), lim)
	for {
		m, err := r.ReadMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.kill(fmt.Sprintf("sent a frame the pool cannot read: %v", err))
			io.Copy(io.Discard, stdout)
			break
		}
		p.deliver(m)
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.state = p.cmd.ProcessState
	p.mu.Unlock()
	p.log.Info("pool: worker process ended", "status", p.exitText(), "err", err)
	close(p.exited)
}

// deliver passes a message from the worker to the current job.
func (p *proc) deliver(m message.Message) {
	p.mu.Lock()
	h, wireID := p.current, p.wireID
	// An Error without an ID rejects a frame the worker could not read. With
	// one job at a time, that frame can only be the current job's.
	mine := h != nil && (m.RequestID() == wireID || m.RequestID() == "")
	if mine {
		if _, ok := m.(*message.Progress); !ok {
			p.current, p.wireID = nil, ""
		}
	}
	p.mu.Unlock()
	if !mine {
		p.log.Debug("pool: dropped message for no current job", "id", m.RequestID(), "type", fmt.Sprintf("%T", m))
		return
	}
	if pr, ok := m.(*message.Progress); ok {
		h.sendProgress(pr)
		return
	}
	p.replies <- m
}

// begin makes h the current job, known on the wire as wireID, and sends
// its request. It returns the write error, which means the process died.
func (p *proc) begin(h *Handle, wireID string) error {
	p.mu.Lock()
	p.current, p.wireID = h, wireID
	p.mu.Unlock()
	req := *h.req
	req.ID = wireID
	return p.write(&req)
}

// end clears the current job, if any.
func (p *proc) end() {
	p.mu.Lock()
	p.current, p.wireID = nil, ""
	p.mu.Unlock()
}

// write sends one frame to the process.
func (p *proc) write(m message.Message) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.writer.WriteMessage(m)
}

// kill sends SIGKILL, recording reason as the cause unless an earlier
// kill recorded one.
func (p *proc) kill(reason string) {
	p.mu.Lock()
	if p.reason == "" {
		p.reason = reason
	}
	p.mu.Unlock()
	select {
	case <-p.exited:
		return
	default:
	}
	p.log.Warn("pool: killing worker process", "reason", reason)
	// Kill fails only when the process has already exited, and then
	// exited is closed by read.
	_ = p.cmd.Process.Kill()
}

// stop closes the process's stdin, which ends Serve after the request in
// flight, and kills the process if it has not exited after grace. It
// returns once the process has exited.
func (p *proc) stop(grace time.Duration) {
	p.wmu.Lock()
	p.stdin.Close()
	p.wmu.Unlock()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.kill(fmt.Sprintf("did not exit within %v of its input closing", grace))
		<-p.exited
	}
}

// exitText describes how the process ended, for errors and logs: "exited
// with status 3", or "was killed by signal 9 (killed): it exceeded ...".
func (p *proc) exitText() string {
	p.mu.Lock()
	st, reason := p.state, p.reason
	p.mu.Unlock()
	if st == nil {
		return "is still running"
	}
	s := fmt.Sprintf("exited with status %d", st.ExitCode())
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		s = fmt.Sprintf("was killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	if reason != "" {
		s += " after it " + reason
	}
	return s
}

// watchMemory kills the process when its resident set exceeds limit bytes,
// checking every memoryPoll until the process exits.
func (p *proc) watchMemory(limit int64) {
	t := time.NewTicker(memoryPoll)
	defer t.Stop()
	for {
		select {
		case <-p.exited:
			return
		case <-t.C:
		}
		rss, err := residentBytes(p.pid)
		if err != nil {
			// The process has exited and not yet been waited for.
			continue
		}
		if rss > limit {
			p.kill(fmt.Sprintf("exceeded memory limit %d MiB (RSS %d MiB)", limit>>20, rss>>20))
			return
		}
	}
}

// residentBytes returns the resident set size of process pid, from the
// VmRSS line of /proc/PID/status (Linux).
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest) // "123456", "kB"
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("pool: unexpected VmRSS line %q in /proc/%d/status", line, pid)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pool: unexpected VmRSS line %q in /proc/%d/status", line, pid)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("pool: no VmRSS line in /proc/%d/status", pid)
}

// lineLogger logs each line a worker writes to stderr.
type lineLogger struct {
	mu  sync.Mutex
	log *slog.Logger // guarded by mu
	buf []byte       // guarded by mu
}

// setLogger replaces the logger, once the process ID is known.
func (l *lineLogger) setLogger(log *slog.Logger) {
	l.mu.Lock()
	l.log = log
	l.mu.Unlock()
}

// maxLogLine bounds a logged stderr line; longer lines are split.
const maxLogLine = 4 << 10

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i, next := bytes.IndexByte(l.buf, '\n'), 0
		switch {
		case i >= 0:
			next = i + 1
		case len(l.buf) < maxLogLine:
			return len(b), nil
		default:
			i, next = maxLogLine, maxLogLine
		}
		l.log.Info("pool: worker stderr", "line", string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[next:]
	}
}
