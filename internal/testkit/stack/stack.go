// Package stack starts a whole local Walkie deployment for end-to-end tests,
// the demo and benchmarks: a throwaway PostgreSQL, the real walkie binary
// (configured and registered through its own -g flow) and a real Dendrite
// homeserver with Walkie registered as its appservice. Everything lives in
// one temporary directory and is removed by Stop.
package stack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
	"github.com/walkie-ptt/walkie/internal/testkit/pg"
)

// Options tune a stack.
type Options struct {
	// Log receives Walkie's and Dendrite's output (io.Discard when nil).
	Log io.Writer
	// Floor is YAML for config.yaml's floor section (indented by two
	// spaces); empty keeps the defaults.
	Floor string
	// LogLevel for Walkie (default debug).
	LogLevel string
	// ExtraRegistrations are more appservice registration files for the
	// homeserver (a benchmark's baseline appservice, for instance).
	ExtraRegistrations []string
}

// Stack is a running local deployment.
type Stack struct {
	opts       Options
	dir        string
	PG         *pg.Cluster
	HS         *dendrite.Server
	walkieBin  string
	configPath string
	regPath    string
	port       int
	metrics    string

	mu     sync.Mutex
	walkie *exec.Cmd
	exited chan struct{}
}

// Start brings the stack up; on error everything started is torn down.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "debug"
	}
	dir, err := os.MkdirTemp("", "walkie-stack-")
	if err != nil {
		return nil, err
	}
	s = &Stack{opts: opts, dir: dir}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()
	if s.walkieBin, err = BuildWalkie(ctx, filepath.Join(dir, "bin")); err != nil {
		return nil, err
	}
	if s.PG, err = pg.Start(ctx, pg.Options{}); err != nil {
		return nil, err
	}
	dbURL, err := s.PG.CreateDatabase(ctx, "walkie")
	if err != nil {
		return nil, err
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s.metrics = fmt.Sprintf("127.0.0.1:%d", metricsPort)
	s.configPath, s.regPath = filepath.Join(dir, "config.yaml"), filepath.Join(dir, "registration.yaml")
	// The homeserver's address is known only once it runs, and it needs the
	// registration to start: write a stand-in now and patch it below.
	if err := os.WriteFile(s.configPath, []byte(s.config(dbURL)), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, s.walkieBin, "-g", "-c", s.configPath, "-r", s.regPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("walkie -g: %v: %s", err, out)
	}
	s.HS, err = dendrite.Start(ctx, dendrite.Options{WorkDir: dir, AppserviceRegistrationPaths: append([]string{s.regPath}, opts.ExtraRegistrations...), LogWriter: opts.Log})
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(s.configPath)
	if err != nil {
		return nil, err
	}
	patched := strings.Replace(string(cfg), "address: "+hsPlaceholder, "address: "+s.HS.URL(), 1)
	if err := os.WriteFile(s.configPath, []byte(patched), 0o600); err != nil {
		return nil, err
	}
	if err := s.StartWalkie(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

const hsPlaceholder = "http://127.0.0.1:1"

func (s *Stack) config(dbURL string) string {
	floorSection := ""
	if s.opts.Floor != "" {
		floorSection = "floor:\n" + s.opts.Floor + "\n"
	}
	return fmt.Sprintf(`homeserver:
  address: %s
  domain: localhost
appservice:
  address: http://127.0.0.1:%d
  hostname: 127.0.0.1
  port: %d
  id: walkie
  bot:
    username: walkie
    displayname: Walkie
  as_token: "This value is generated when generating the registration"
  hs_token: "This value is generated when generating the registration"
  admin_token: "This value is generated when generating the registration"
database:
  uri: %s
  max_conns: 10
metrics:
  enabled: true
  listen: %s
permissions:
  "localhost": user
%slogging:
  level: %s
  format: json
`, hsPlaceholder, s.port, s.port, dbURL, s.metrics, floorSection, s.opts.LogLevel)
}

// StartWalkie runs the walkie binary and waits until it reports ready.
func (s *Stack) StartWalkie(ctx context.Context) error {
	s.mu.Lock()
	cmd := exec.Command(s.walkieBin, "-c", s.configPath)
	cmd.Stdout, cmd.Stderr = s.opts.Log, s.opts.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return err
	}
	exited := make(chan struct{})
	s.walkie, s.exited = cmd, exited
	s.mu.Unlock()
	go func() { _ = cmd.Wait(); close(exited) }()
	return s.waitReady(ctx, exited)
}

func (s *Stack) waitReady(ctx context.Context, exited chan struct{}) error {
	return WaitHealthy(ctx, fmt.Sprintf("http://127.0.0.1:%d", s.port), exited, 60*time.Second)
}

// WaitHealthy polls a walkie's /_walkie/health at baseURL until it answers
// 200 (ready), the process exits (exited closes), or timeout passes.
func WaitHealthy(ctx context.Context, baseURL string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(baseURL + "/_walkie/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("walkie exited before it was ready (see its log)")
		case <-ctx.Done():
			return fmt.Errorf("walkie not ready: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// takeWalkie hands over the running walkie process (nil when none), so
// exactly one caller stops it.
func (s *Stack) takeWalkie() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd, exited := s.walkie, s.exited
	s.walkie = nil
	return cmd, exited
}

// KillWalkie kills the walkie process with SIGKILL (a crash, not a shutdown).
func (s *Stack) KillWalkie() {
	if cmd, exited := s.takeWalkie(); cmd != nil {
		_ = cmd.Process.Kill()
		<-exited
	}
}

// StopWalkie stops walkie with SIGTERM, as an operator would.
func (s *Stack) StopWalkie() {
	cmd, exited := s.takeWalkie()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Stop tears everything down; safe to call more than once.
func (s *Stack) Stop() {
	s.StopWalkie()
	if s.HS != nil {
		s.HS.Stop()
	}
	if s.PG != nil {
		_ = s.PG.Stop()
	}
	_ = os.RemoveAll(s.dir)
}

// BotUserID is the controller's user ID.
func (s *Stack) BotUserID() string { return "@walkie:localhost" }

// MetricsURL is where Walkie's Prometheus metrics are served.
func (s *Stack) MetricsURL() string { return "http://" + s.metrics + "/metrics" }

// ConfigPath is the generated config.yaml.
func (s *Stack) ConfigPath() string { return s.configPath }

// BuildWalkie compiles cmd/walkie of this checkout into dir.
func BuildWalkie(ctx context.Context, dir string) (string, error) {
	root, err := checkout.Root()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "walkie")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/walkie")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build walkie: %v: %s", err, out)
	}
	return bin, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
