// Package walkieproc runs the real walkie binary as a child process, the
// way an operator does: it writes config.yaml, has `walkie -g` generate the
// tokens and registration.yaml, starts the binary and waits until it says
// it is healthy, and kills it (a crash) or stops it (SIGTERM) on demand.
// A process can be started again on the same config, port and database,
// and replicas share its config on ports of their own.
package walkieproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/testkit/proc"
	"github.com/walkie-ptt/walkie/internal/testkit/testconfig"
)

// readyTimeout bounds a start: a minute means something is broken.
const readyTimeout = time.Minute

// stopGrace is how long a signalled process may take to exit before it
// is killed.
const stopGrace = 20 * time.Second

// Process is one walkie binary with its config. Start, Kill, Stop and the
// accessors are safe for concurrent use; SetHomeserverURL belongs before
// the first Start.
type Process struct {
	bin              string
	values           testconfig.Values // what config.yaml says
	configPath       string
	registrationPath string
	log              io.Writer
	output           *proc.Output // every run's stdout and stderr
	// Config is config.yaml as last written: after `walkie -g`, with the
	// real tokens.
	Config *config.Config

	mu     sync.Mutex
	child  *proc.Child // nil when not started or ended
	starts int
}

// Start runs the binary and waits until its health endpoint says ready.
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.child != nil && p.child.Running() {
		p.mu.Unlock()
		return errors.New("walkie is already running")
	}
	cmd := exec.Command(p.bin, "-c", p.configPath)
	cmd.Stdout, cmd.Stderr = p.output, p.output
	child, err := proc.Start(cmd)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	p.child = child
	p.starts++
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err = proc.WaitServing(ctx, p.URL()+"/_walkie/health", child.Exited())
	if errors.Is(err, proc.ErrExited) {
		err = fmt.Errorf("walkie exited before it was ready (%v)", child.Err())
	}
	if err != nil {
		return fmt.Errorf("%w; its output ends with:\n%s", err, p.OutputTail())
	}
	return nil
}

// Kill ends the process with SIGKILL: a crash, no shutdown code runs.
func (p *Process) Kill() { p.end(syscall.SIGKILL) }

// Stop ends the process with SIGTERM, as an operator would. Safe to call
// when it is not running.
func (p *Process) Stop() { p.end(syscall.SIGTERM) }

// end hands the running process over to exactly one caller and ends it.
func (p *Process) end(sig syscall.Signal) {
	p.mu.Lock()
	child := p.child
	p.child = nil
	p.mu.Unlock()
	if child != nil {
		child.End(sig, stopGrace)
	}
}

// Running reports whether the process is alive (started, and it has not
// exited on its own).
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.child != nil && p.child.Running()
}

// Starts counts the processes started so far.
func (p *Process) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Output is what every run of the process has printed (its log), or the
// end of it when Options.Log receives it.
func (p *Process) Output() string { return p.output.String() }

// OutputTail is the end of Output, for failure messages.
func (p *Process) OutputTail() string { return p.output.Tail(4000) }

// URL is where the homeserver reaches this process.
func (p *Process) URL() string { return "http://127.0.0.1:" + strconv.Itoa(p.values.Port) }

// WebURL is the web client's URL ("" without Options.Web).
func (p *Process) WebURL() string {
	if p.values.WebListen == "" {
		return ""
	}
	return "http://" + p.values.WebListen
}

// MetricsURL is where Prometheus metrics are served ("" without Metrics).
func (p *Process) MetricsURL() string {
	if p.values.MetricsListen == "" {
		return ""
	}
	return "http://" + p.values.MetricsListen + "/metrics"
}

// ConfigPath is config.yaml.
func (p *Process) ConfigPath() string { return p.configPath }

// RegistrationPath is the registration.yaml `walkie -g` wrote, for the
// homeserver.
func (p *Process) RegistrationPath() string { return p.registrationPath }

// BotUserID is the controller's user ID.
func (p *Process) BotUserID() string { return p.Config.BotUserID() }
