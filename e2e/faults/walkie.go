package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

// Domain is the server name of every user and room in the fault tests.
const Domain = "faults.test"

// BotUserID is the controller Walkie runs as.
const BotUserID = "@walkie:" + Domain

// readyTimeout bounds a start: connecting to the stand-in takes
// milliseconds, so a minute means something is broken.
const readyTimeout = time.Minute

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// WalkieBinary builds cmd/walkie once per test process. The binary lands in
// one fixed place under the temporary directory (replaced atomically), so
// repeated runs reuse the space instead of leaving a copy each.
func WalkieBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "walkie-faults")
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		tmp, err := os.MkdirTemp(dir, "build-")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin, err := stack.BuildWalkie(ctx, tmp)
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "walkie")
		buildErr = os.Rename(bin, builtBin)
	})
	if buildErr != nil {
		t.Fatalf("build walkie: %v", buildErr)
	}
	return builtBin
}

// WalkieOptions configure a Walkie process.
type WalkieOptions struct {
	DatabaseURL   string
	HomeserverURL string
	// Floor is YAML for config.yaml's floor section, each line indented by
	// two spaces; empty keeps the defaults.
	Floor string
	// LogLevel is logging.level (default debug: the tests want every path
	// to speak, and the secrets test wants the noisiest level).
	LogLevel string
	// LogFormat is logging.format (default json).
	LogFormat string
}

// Walkie is the real walkie binary run as a child process: configured
// through its own `walkie -g`, started, killed with SIGKILL and started
// again on the same config, port and database.
type Walkie struct {
	t          testing.TB
	bin        string
	dir        string
	configPath string
	port       int
	// Config is the config as `walkie -g` left it: the tokens are real.
	Config *config.Config

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	output lockedBuffer // every run's stdout and stderr
	starts int
}

// NewWalkie writes a config, runs `walkie -g` to generate the tokens and the
// registration, and returns the (not yet started) process. It is stopped
// when the test ends.
func NewWalkie(t testing.TB, opts WalkieOptions) *Walkie {
	t.Helper()
	w := &Walkie{t: t, bin: WalkieBinary(t), dir: t.TempDir()}
	w.configPath = filepath.Join(w.dir, "config.yaml")
	w.port = freePort(t)
	if err := os.WriteFile(w.configPath, []byte(configYAML(opts, w.port)), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(w.dir, "registration.yaml")
	if out, err := exec.Command(w.bin, "-g", "-c", w.configPath, "-r", reg).CombinedOutput(); err != nil {
		t.Fatalf("walkie -g: %v: %s", err, out)
	}
	w.loadConfig()
	t.Cleanup(w.Stop)
	return w
}

// Replica is a second Walkie process with the same config (tokens,
// database, homeserver) listening on a port of its own.
func (w *Walkie) Replica() *Walkie {
	w.t.Helper()
	data, err := os.ReadFile(w.configPath)
	if err != nil {
		w.t.Fatal(err)
	}
	r := &Walkie{t: w.t, bin: w.bin, dir: w.t.TempDir(), port: freePort(w.t)}
	r.configPath = filepath.Join(r.dir, "config.yaml")
	old := []byte("port: " + strconv.Itoa(w.port) + "\n")
	data = bytes.ReplaceAll(data, old, []byte("port: "+strconv.Itoa(r.port)+"\n"))
	data = bytes.ReplaceAll(data, []byte("127.0.0.1:"+strconv.Itoa(w.port)), []byte("127.0.0.1:"+strconv.Itoa(r.port)))
	if err := os.WriteFile(r.configPath, data, 0o600); err != nil {
		w.t.Fatal(err)
	}
	r.loadConfig()
	if r.Config.AppService.Port != r.port {
		w.t.Fatalf("replica config still listens on %d", r.Config.AppService.Port)
	}
	w.t.Cleanup(r.Stop)
	return r
}

func (w *Walkie) loadConfig() {
	cfg, err := config.Load(w.configPath)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		w.t.Fatalf("config after walkie -g: %v", err)
	}
	w.Config = cfg
}

func configYAML(o WalkieOptions, port int) string {
	if o.LogLevel == "" {
		o.LogLevel = "debug"
	}
	if o.LogFormat == "" {
		o.LogFormat = config.LogFormatJSON
	}
	floor := ""
	if o.Floor != "" {
		floor = "floor:\n" + o.Floor + "\n"
	}
	// Metrics stay off: a fixed metrics port would clash between replicas.
	return fmt.Sprintf(`homeserver:
  address: %s
  domain: %s
appservice:
  address: http://127.0.0.1:%d
  hostname: 127.0.0.1
  port: %d
  id: walkie
  bot:
    username: walkie
    displayname: Walkie
  as_token: %q
  hs_token: %q
  admin_token: %q
database:
  uri: %s
  max_conns: 10
permissions:
  %q: user
%slogging:
  level: %s
  format: %s
`, o.HomeserverURL, Domain, port, port, config.TokenPlaceholder, config.TokenPlaceholder, config.TokenPlaceholder,
		o.DatabaseURL, Domain, floor, o.LogLevel, o.LogFormat)
}

// URL is where the homeserver reaches this Walkie.
func (w *Walkie) URL() string { return "http://127.0.0.1:" + strconv.Itoa(w.port) }

// Start runs the binary and waits until its health endpoint says ready.
func (w *Walkie) Start(ctx context.Context) error {
	w.mu.Lock()
	if w.cmd != nil {
		w.mu.Unlock()
		return errors.New("walkie is already running")
	}
	cmd := exec.Command(w.bin, "-c", w.configPath)
	cmd.Stdout, cmd.Stderr = &w.output, &w.output
	// Should the test binary die, its walkie dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		w.mu.Unlock()
		return err
	}
	exited := make(chan struct{})
	w.cmd, w.exited = cmd, exited
	w.starts++
	w.mu.Unlock()
	go func() { _ = cmd.Wait(); close(exited) }()
	return w.waitReady(ctx, exited)
}

// MustStart is Start that fails the test.
func (w *Walkie) MustStart(ctx context.Context) {
	w.t.Helper()
	if err := w.Start(ctx); err != nil {
		w.t.Fatalf("start walkie: %v\n%s", err, w.output.Tail(4000))
	}
}

func (w *Walkie) waitReady(ctx context.Context, exited chan struct{}) error {
	return stack.WaitHealthy(ctx, w.URL(), exited, readyTimeout)
}

// Kill ends the process with SIGKILL: a crash, no shutdown code runs.
func (w *Walkie) Kill() { w.end(syscall.SIGKILL) }

// Stop ends the process with SIGTERM, as an operator would.
func (w *Walkie) Stop() { w.end(syscall.SIGTERM) }

func (w *Walkie) end(sig syscall.Signal) {
	w.mu.Lock()
	cmd, exited := w.cmd, w.exited
	w.cmd = nil
	w.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Running reports whether the process is alive (it has not exited on its own).
func (w *Walkie) Running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd == nil {
		return false
	}
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// Starts counts the processes started so far.
func (w *Walkie) Starts() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.starts
}

// Output is everything every run of the process has printed (its log).
func (w *Walkie) Output() string { return w.output.String() }

// OutputTail is the end of Output, for failure messages.
func (w *Walkie) OutputTail() string { return w.output.Tail(4000) }

// lockedBuffer is a bytes.Buffer two process pipes may write at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
