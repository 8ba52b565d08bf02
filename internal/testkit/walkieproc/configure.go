package walkieproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/testkit/proc"
	"github.com/walkie-ptt/walkie/internal/testkit/testconfig"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// Options configure a walkie process.
type Options struct {
	// Dir receives config.yaml and registration.yaml; the caller removes it.
	Dir         string
	DatabaseURL string
	// HomeserverURL may be left empty when the homeserver needs the
	// registration before it can start; SetHomeserverURL sets it then.
	HomeserverURL string
	// Domain is homeserver.domain; its users may talk.
	Domain string
	// ID names the controller: its appservice.id and its bot's username
	// (default walkie, the bot @walkie). Controllers sharing a homeserver
	// need one each.
	ID    string
	Floor timers.Floor
	// LogLevel defaults to debug: tests want every path to speak.
	LogLevel string
	// LogFormat defaults to json.
	LogFormat string
	// Metrics serves /metrics on a free port of the process's own.
	Metrics bool
	// Web serves the web client (and the client-facing endpoints) on a
	// free port of the process's own.
	Web bool
	// Channel raises the floor channel's socket limits (with Web).
	Channel testconfig.ChannelLimits
	// Log receives the process's output too. Without it, Output keeps all
	// of it in memory; with it, only the end, for error messages.
	Log io.Writer
}

// BlockedUser is the one user of domain the test config blocks: its
// invites are declined and its commands ignored.
func BlockedUser(domain string) string { return "@intruder:" + domain }

// unreachableHomeserver stands in until SetHomeserverURL: nothing listens
// on port 1.
const unreachableHomeserver = "http://127.0.0.1:1"

// Configure builds the binary if this process has not yet, writes
// config.yaml, runs `walkie -g` to generate the tokens and the
// registration, and returns the process, not yet started.
func Configure(ctx context.Context, opts Options) (*Process, error) {
	bin, err := Binary(ctx)
	if err != nil {
		return nil, err
	}
	v := testconfig.Values{
		HomeserverURL: opts.HomeserverURL, Domain: opts.Domain, DatabaseURL: opts.DatabaseURL, ID: opts.ID, Bot: opts.ID,
		ASToken: config.TokenPlaceholder, HSToken: config.TokenPlaceholder, AdminToken: config.TokenPlaceholder,
		Permissions: map[string]string{opts.Domain: "user", BlockedUser(opts.Domain): "block"},
		Floor:       opts.Floor, LogLevel: opts.LogLevel, LogFormat: opts.LogFormat, Channel: opts.Channel,
	}
	if v.HomeserverURL == "" {
		v.HomeserverURL = unreachableHomeserver
	}
	if v.LogLevel == "" {
		v.LogLevel = "debug"
	}
	if v.LogFormat == "" {
		v.LogFormat = config.LogFormatJSON
	}
	p := &Process{bin: bin, values: v, log: opts.Log, output: newOutput(opts.Log),
		configPath:       filepath.Join(opts.Dir, "config.yaml"),
		registrationPath: filepath.Join(opts.Dir, "registration.yaml")}
	if err := p.choosePorts(opts.Metrics, opts.Web); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.configPath, []byte(testconfig.YAML(p.values)), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-g", "-c", p.configPath, "-r", p.registrationPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("walkie -g: %v: %s", err, out)
	}
	if err := p.load(); err != nil {
		return nil, err
	}
	// Rewrites of the file keep the tokens `walkie -g` generated.
	as := p.Config.AppService
	p.values.ASToken, p.values.HSToken, p.values.AdminToken = as.ASToken, as.HSToken, as.AdminToken
	return p, nil
}

func newOutput(log io.Writer) *proc.Output {
	if log == nil {
		return proc.NewOutput(nil, 0)
	}
	return proc.NewOutput(log, 16<<10)
}

// choosePorts picks the listener's port, and the metrics and web ports if
// wanted.
func (p *Process) choosePorts(metrics, web bool) error {
	port, err := proc.FreePort()
	if err != nil {
		return err
	}
	p.values.Port, p.values.MetricsListen, p.values.WebListen = port, "", ""
	for _, want := range []struct {
		on   bool
		addr *string
	}{{metrics, &p.values.MetricsListen}, {web, &p.values.WebListen}} {
		if !want.on {
			continue
		}
		if port, err = proc.FreePort(); err != nil {
			return err
		}
		*want.addr = "127.0.0.1:" + strconv.Itoa(port)
	}
	return nil
}

// Replica is a second process with the same config (tokens, database,
// homeserver) in dir, listening on ports of its own. It shares the
// registration: the homeserver reaches either.
func (p *Process) Replica(dir string) (*Process, error) {
	r := &Process{bin: p.bin, values: p.values, log: p.log, output: newOutput(p.log),
		configPath: filepath.Join(dir, "config.yaml"), registrationPath: p.registrationPath}
	if err := r.choosePorts(p.values.MetricsListen != "", p.values.WebListen != ""); err != nil {
		return nil, err
	}
	return r, r.write()
}

// SetHomeserverURL points the config at the homeserver; it applies from
// the next Start.
func (p *Process) SetHomeserverURL(url string) error {
	p.values.HomeserverURL = url
	return p.write()
}

// LiveKit is the SFU a walkie process runs live mode on.
type LiveKit struct {
	// URL is what clients connect to; APIURL where Walkie calls the room
	// API (empty: URL).
	URL, APIURL string
	// APIKey and APISecret: the key pair the server knows, which also
	// signs its webhooks.
	APIKey, APISecret string
}

// SetLiveKit turns live mode on (the process needs Options.Web): the
// secret goes into a file of its own beside config.yaml, as an operator
// keeps it. It applies from the next Start.
func (p *Process) SetLiveKit(lk LiveKit) error {
	if p.values.WebListen == "" {
		return errors.New("walkieproc: live mode needs the web listener (Options.Web)")
	}
	secretFile := filepath.Join(filepath.Dir(p.configPath), "livekit-secret")
	if err := os.WriteFile(secretFile, []byte(lk.APISecret+"\n"), 0o600); err != nil {
		return err
	}
	p.values.LiveKit = &testconfig.LiveKit{URL: lk.URL, APIURL: lk.APIURL, APIKey: lk.APIKey, APISecretFile: secretFile}
	return p.write()
}

// LiveKitWebhookURL is where LiveKit sends this process its webhooks (""
// without Options.Web).
func (p *Process) LiveKitWebhookURL() string {
	if p.values.WebListen == "" {
		return ""
	}
	return p.WebURL() + "/_walkie/v1/livekit/webhook"
}

// write rewrites config.yaml from the values and reloads it.
func (p *Process) write() error {
	if err := os.WriteFile(p.configPath, []byte(testconfig.YAML(p.values)), 0o600); err != nil {
		return err
	}
	return p.load()
}

func (p *Process) load() error {
	cfg, err := config.Load(p.configPath)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return fmt.Errorf("walkie config %s: %w", p.configPath, err)
	}
	p.Config = cfg
	return nil
}
