// Package proc runs the servers a test starts as child processes (Dendrite,
// the walkie binary): it ties their life to the test binary's where the
// OS allows, keeps their output, waits until they serve, and finds free
// loopback ports for them.
package proc

import (
	"os"
	"os/exec"
	"time"
)

// Child is a started process and the news of its exit.
type Child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // how it exited; valid once exited is closed
}

// Start starts cmd, made to die with the test binary where the OS allows
// (it sets cmd.SysProcAttr), and watches for its exit.
func Start(cmd *exec.Cmd) (*Child, error) {
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// Exited is closed once the process has exited and its output is copied.
func (c *Child) Exited() <-chan struct{} { return c.exited }

// Err is how the process exited (nil for status 0); call it after Exited.
func (c *Child) Err() error {
	<-c.exited
	return c.err
}

// Running reports whether the process has not exited yet.
func (c *Child) Running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// End sends sig and waits for the process to exit; one still running after
// grace is killed. It returns at once if the process exited already.
func (c *Child) End(sig os.Signal, grace time.Duration) {
	_ = c.cmd.Process.Signal(sig) // fails only if it exited already
	select {
	case <-c.exited:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}
