package dendrite

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"text/template"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
	"github.com/walkie-ptt/walkie/internal/testkit/proc"
)

// startupTimeout bounds how long Start waits for Dendrite to answer, even if
// the caller's context has no deadline: a wedged homeserver must fail the
// test rather than hang it until the global go test timeout.
const startupTimeout = 2 * time.Minute

// Options configures Start. The zero value is usable.
type Options struct {
	// BinDir holds the dendrite, generate-keys and create-account binaries.
	// Default: $WALKIE_DENDRITE_BIN_DIR, else <repo>/.cache/bin. Missing or
	// stale binaries are built there from e2e/tools.
	BinDir string
	// WorkDir is where the instance directory is created (one fresh
	// subdirectory per Start, removed by Stop). Default: os.TempDir().
	WorkDir string
	// ServerName is the Matrix server name. Default: "localhost".
	ServerName string
	// AppserviceRegistrationPaths are appservice registration YAML files
	// loaded at startup. Relative paths are resolved against the caller's
	// working directory.
	AppserviceRegistrationPaths []string
	// LogWriter receives Dendrite's (and a first build's) output. Default:
	// discarded, though the tail is still quoted in startup errors.
	LogWriter io.Writer
}

// Server is a running throwaway Dendrite homeserver: SQLite storage,
// federation API on (for OpenID userinfo) but on loopback with nobody to
// federate with, registration only through the shared secret.
type Server struct {
	url          string
	serverName   string
	sharedSecret string
	dir          string
	log          io.Writer
	output       *proc.Output // the last 16 KiB, quoted in startup errors

	child    *proc.Child // nil until started
	stopOnce sync.Once
}

//go:embed dendrite.yaml.tmpl
var configTemplateText string

var configTemplate = template.Must(template.New("dendrite.yaml").Funcs(template.FuncMap{
	// A JSON string is a valid YAML double-quoted scalar, so this quotes
	// any value (paths, secrets) safely.
	"quote": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
}).Parse(configTemplateText))

// configValues are the per-instance values substituted into the template.
type configValues struct {
	ServerName                  string
	RegistrationSharedSecret    string
	AppserviceRegistrationPaths []string
}

// Start builds the binaries if needed, writes a fresh instance directory and
// runs Dendrite on a free loopback port. It returns once the client API
// answers. The caller must call Stop (t.Cleanup(d.Stop) in tests).
func Start(ctx context.Context, opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// A first build compiles Dendrite (cgo SQLite included) and may take
	// minutes, so only the caller's context bounds it.
	if err := ensureBinaries(ctx, opts.BinDir, opts.LogWriter); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	dir, err := os.MkdirTemp(opts.WorkDir, "dendrite-")
	if err != nil {
		return nil, err
	}
	d := &Server{
		serverName:   opts.ServerName,
		sharedSecret: randomHex(32),
		dir:          dir,
		log:          opts.LogWriter,
		output:       proc.NewOutput(opts.LogWriter, 16<<10),
	}
	if err := d.start(ctx, opts); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

func (o Options) withDefaults() (Options, error) {
	var err error
	if o.BinDir == "" {
		if o.BinDir, err = checkout.BinDir(binDirEnv); err != nil {
			return o, err
		}
	}
	if o.WorkDir == "" {
		o.WorkDir = os.TempDir()
	}
	if o.ServerName == "" {
		o.ServerName = "localhost"
	}
	if o.LogWriter == nil {
		o.LogWriter = io.Discard
	}
	// Dendrite runs in the instance directory, so registration paths must
	// not depend on the caller's working directory.
	paths := make([]string, len(o.AppserviceRegistrationPaths))
	for i, p := range o.AppserviceRegistrationPaths {
		if paths[i], err = filepath.Abs(p); err != nil {
			return o, err
		}
	}
	o.AppserviceRegistrationPaths = paths
	return o, nil
}

func (d *Server) start(ctx context.Context, opts Options) error {
	keyGen := exec.CommandContext(ctx, filepath.Join(opts.BinDir, "generate-keys"), "-private-key", "matrix_key.pem")
	keyGen.Dir = d.dir
	if out, err := keyGen.CombinedOutput(); err != nil {
		return fmt.Errorf("generate matrix key: %w\n%s", err, out)
	}
	if err := d.writeConfig(opts.AppserviceRegistrationPaths); err != nil {
		return err
	}
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	d.url = "http://" + addr

	// Not CommandContext: ctx only bounds startup; the process lives until
	// Stop.
	cmd := exec.Command(filepath.Join(opts.BinDir, "dendrite"),
		"-config", "dendrite.yaml",
		"-http-bind-address", addr,
	)
	cmd.Dir = d.dir
	cmd.Stdout, cmd.Stderr = d.output, d.output
	if d.child, err = proc.Start(cmd); err != nil {
		return fmt.Errorf("start dendrite: %w", err)
	}
	return d.waitUntilServing(ctx)
}

func (d *Server) writeConfig(appservicePaths []string) error {
	f, err := os.Create(filepath.Join(d.dir, "dendrite.yaml"))
	if err != nil {
		return err
	}
	err = configTemplate.Execute(f, configValues{
		ServerName:                  d.serverName,
		RegistrationSharedSecret:    d.sharedSecret,
		AppserviceRegistrationPaths: appservicePaths,
	})
	return errors.Join(err, f.Close())
}

// waitUntilServing polls /_matrix/client/versions: Dendrite binds its
// listener only after every component (and its database migrations) is up,
// so the first answer means the whole server is ready.
func (d *Server) waitUntilServing(ctx context.Context) error {
	err := proc.WaitServing(ctx, d.url+"/_matrix/client/versions", d.child.Exited())
	if errors.Is(err, proc.ErrExited) {
		return fmt.Errorf("dendrite exited during startup (%v); last output:\n%s", d.child.Err(), d.output.String())
	}
	if err != nil {
		return fmt.Errorf("dendrite not serving: %w; last output:\n%s", err, d.output.String())
	}
	return nil
}

// Stop kills Dendrite, waits for it to exit and removes its instance
// directory. It is safe to call more than once and on a failed Start.
// Killing outright is deliberate: nothing in the instance outlives it, and
// a graceful shutdown only adds seconds to every test.
func (d *Server) Stop() {
	d.stopOnce.Do(func() {
		if d.child != nil {
			d.child.End(os.Kill, time.Minute)
		}
		if err := os.RemoveAll(d.dir); err != nil {
			fmt.Fprintf(d.log, "dendrite: remove %s: %v\n", d.dir, err)
		}
	})
}

// URL is the client-server API base URL, e.g. http://127.0.0.1:41234.
func (d *Server) URL() string { return d.url }

// ServerName is the Matrix server name (the part after the colon in IDs).
func (d *Server) ServerName() string { return d.serverName }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
