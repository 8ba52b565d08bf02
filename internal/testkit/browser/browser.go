// Package browser starts Debian's Chromium for tests and benchmarks of the
// web client: headless, with a fake microphone that plays a known tone,
// autoplay allowed, and one browser context (its own cookies and storage)
// per simulated user. Each page's console and uncaught exceptions go to the
// test log, so a failing browser test explains itself.
//
// Chromium is a real part, not an optional one: when it is missing, Start
// fails with the command that installs it.
package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/walkie-ptt/walkie/internal/testkit/proc"
)

// InstallHint is how to get the browser the tests need.
const InstallHint = "install Debian's chromium: apt-get install chromium"

// execEnv names another Chromium binary (the default is DefaultExecPath).
const execEnv = "WALKIE_CHROMIUM"

// DefaultExecPath is where Debian's package installs Chromium.
const DefaultExecPath = "/usr/bin/chromium"

// startTimeout bounds Chromium's start; on a loaded CI machine it takes a
// few seconds, never a minute.
const startTimeout = time.Minute

// Options say how to start the browser. The zero value is a headless
// Chromium whose microphone plays DefaultTone, logging nowhere.
type Options struct {
	// ExecPath is the Chromium binary: $WALKIE_CHROMIUM, else
	// DefaultExecPath, when empty.
	ExecPath string
	// Tone is what the fake microphone plays (looped), unless MicWAV is set.
	Tone Tone
	// MicWAV is an existing WAV file (absolute path) to play instead.
	MicWAV string
	// Logf receives every page's console messages and uncaught exceptions,
	// prefixed with the user's name. Nil discards them.
	Logf func(format string, args ...any)
	// Output receives Chromium's own stdout and stderr (noisy). The last
	// lines are kept anyway and quoted when the start fails.
	Output io.Writer
	// Flags are extra command-line flags (name without "--"; a string value
	// gives --name=value, true gives --name).
	Flags map[string]any
}

// Browser is one running Chromium.
type Browser struct {
	ctx    context.Context // the browser's root chromedp context
	cancel context.CancelFunc
	dir    string // user data dir and the mic's WAV; removed by Close
	mic    string
	tone   Tone
	log    *gate
	output *proc.Output
	once   sync.Once
}

// Start launches Chromium. It runs until ctx ends or Close is called; give
// it a context without a deadline (a deadline would stop the browser).
func Start(ctx context.Context, opts Options) (*Browser, error) {
	execPath, err := findChromium(opts.ExecPath)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "walkie-chromium-")
	if err != nil {
		return nil, err
	}
	b := &Browser{dir: dir, mic: opts.MicWAV, log: &gate{logf: opts.Logf},
		output: proc.NewOutput(opts.Output, 16<<10)}
	if b.mic == "" {
		b.tone = opts.Tone.withDefaults()
		b.mic = filepath.Join(dir, "mic.wav")
		if err := b.tone.WriteFile(b.mic); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	profile := filepath.Join(dir, "profile")
	allocOpts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(b.output),
	}
	for name, value := range chromiumFlags(b.mic) {
		allocOpts = append(allocOpts, chromedp.Flag(name, value))
	}
	for name, value := range opts.Flags {
		allocOpts = append(allocOpts, chromedp.Flag(name, value))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, allocOpts...)
	rootCtx, rootCancel := chromedp.NewContext(allocCtx)
	b.ctx = rootCtx
	b.cancel = func() { rootCancel(); allocCancel() }

	started := make(chan error, 1)
	go func() { started <- chromedp.Do(rootCtx) }() // launches the process
	select {
	case err = <-started:
	case <-time.After(startTimeout):
		err = fmt.Errorf("no answer after %v", startTimeout)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("start %s: %w\nits last output:\n%s", execPath, err, b.output.Tail(4000))
	}
	return b, nil
}

// chromiumFlags are the flags every test browser gets: headless as root,
// a fake microphone that plays mic (looped), audio that plays without a
// user gesture, and nothing that calls home. Not chromedp's defaults: they
// mute audio, which the listener must hear. Not
// --use-fake-ui-for-media-stream either: it grants the microphone to
// everyone, whatever the permission says, so no test could deny it; each
// user is granted it through the DevTools protocol instead (NewUser).
func chromiumFlags(mic string) map[string]any {
	return map[string]any{
		"headless":                               "new",
		"no-sandbox":                             true,
		"use-fake-device-for-media-stream":       true,
		"use-file-for-fake-audio-capture":        mic,
		"autoplay-policy":                        "no-user-gesture-required",
		"disable-gpu":                            true,
		"disable-quic":                           true,
		"no-first-run":                           true,
		"no-default-browser-check":               true,
		"disable-background-networking":          true,
		"disable-component-update":               true,
		"disable-sync":                           true,
		"disable-dev-shm-usage":                  true,
		"disable-background-timer-throttling":    true,
		"disable-renderer-backgrounding":         true,
		"disable-backgrounding-occluded-windows": true,
		"password-store":                         "basic",
		"use-mock-keychain":                      true,
	}
}

// findChromium resolves the binary, or says how to install it.
func findChromium(path string) (string, error) {
	if path == "" {
		path = os.Getenv(execEnv)
	}
	if path == "" {
		path = DefaultExecPath
	}
	found, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("no Chromium at %s (%v): %s, or set %s to a Chromium binary",
			path, err, InstallHint, execEnv)
	}
	return found, nil
}

// Tone is what the fake microphone plays (with defaults filled in), for
// detectors that look for it. Zero when Options.MicWAV replaced it.
func (b *Browser) Tone() Tone { return b.tone }

// Close stops Chromium and removes its profile. Safe to call twice.
func (b *Browser) Close() {
	b.once.Do(func() {
		b.log.close()
		b.cancel() // waits for the process to exit
		if err := os.RemoveAll(b.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "browser: remove %s: %v\n", b.dir, err)
		}
	})
}

// gate passes log lines on until closed: a test's Logf must not be called
// once the test has finished, and page events keep arriving until the
// browser is gone.
type gate struct {
	mu     sync.Mutex
	logf   func(string, ...any)
	closed bool
}

func (g *gate) printf(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed && g.logf != nil {
		g.logf(format, args...)
	}
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
