package livekit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
	"github.com/walkie-ptt/walkie/internal/testkit/proc"
)

// startupTimeout bounds how long Start waits for the server to answer, even
// if the caller's context has no deadline.
const startupTimeout = time.Minute

// apiKey is the key name of every test server; each gets its own secret.
const apiKey = "walkie-test"

// Options configures Start. The zero value is usable.
type Options struct {
	// BinDir holds livekit-server. Default: $WALKIE_LIVEKIT_BIN_DIR, else
	// <repo>/.cache/bin. A missing binary fails Start (`make livekit`).
	BinDir string
	// WorkDir is where the instance directory is created (removed by
	// Stop). Default: os.TempDir().
	WorkDir string
	// NodeIP is the address media flows to and every ICE candidate names.
	// Default 127.0.0.1, with loopback candidates on (browsers only). For
	// Go participants give a non-loopback address, such as the host side of
	// a netns veth pair; the HTTP port then listens there and on 127.0.0.1.
	NodeIP string
	// WebhookURLs receive the server's webhooks, signed with the API key.
	WebhookURLs []string
	// LogWriter receives the server's output. Default: discarded, though
	// the tail is still quoted in startup errors.
	LogWriter io.Writer
}

// Server is a running throwaway livekit-server.
type Server struct {
	nodeIP string
	port   int
	secret string
	dir    string
	log    io.Writer
	output *proc.Output

	child    *proc.Child
	stopOnce sync.Once
}

// Start checks the binary, writes a fresh config and runs the server on
// free ports. It returns once the HTTP port answers 200. The caller must
// call Stop (t.Cleanup(lk.Stop) in tests).
func Start(ctx context.Context, opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	bin := filepath.Join(opts.BinDir, binaryName)
	if err := checkBinary(ctx, bin); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.WorkDir, "livekit-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		nodeIP: opts.NodeIP,
		secret: rand.Text() + rand.Text(), // 52 characters; the server wants at least 32
		dir:    dir,
		log:    opts.LogWriter,
		output: proc.NewOutput(opts.LogWriter, 16<<10),
	}
	if err := s.start(ctx, bin, opts); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
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
	if o.NodeIP == "" {
		o.NodeIP = "127.0.0.1"
	}
	if a, err := netip.ParseAddr(o.NodeIP); err != nil || !a.Is4() {
		return o, fmt.Errorf("livekit: NodeIP %q is not an IPv4 address", o.NodeIP)
	}
	if o.LogWriter == nil {
		o.LogWriter = io.Discard
	}
	return o, nil
}

func (s *Server) start(ctx context.Context, bin string, opts Options) error {
	var err error
	if s.port, err = proc.FreePort(); err != nil {
		return err
	}
	udpPort, err := freeUDPPort(s.nodeIP)
	if err != nil {
		return err
	}
	loopback := netip.MustParseAddr(s.nodeIP).IsLoopback()
	bind := []string{"127.0.0.1"}
	if !loopback {
		bind = append(bind, s.nodeIP)
	}
	cfg := serverConfig{
		Port:          s.port,
		BindAddresses: bind,
		Keys:          map[string]string{apiKey: s.secret},
		LogLevel:      "info",
		RTC: rtcConfig{
			UDPPort:                 udpPort,
			NodeIP:                  s.nodeIP,
			EnableLoopbackCandidate: loopback,
			IPs:                     ipsConfig{Includes: []string{s.nodeIP + "/32"}},
		},
		Room: roomConfig{AutoCreate: true, EmptyTimeout: 60, DepartureTimeout: 5},
	}
	if len(opts.WebhookURLs) > 0 {
		cfg.Webhook = &webhookConfig{APIKey: apiKey, URLs: opts.WebhookURLs}
	}
	path, err := cfg.write(s.dir)
	if err != nil {
		return err
	}
	// Not CommandContext: ctx only bounds startup; the process lives until
	// Stop.
	cmd := exec.Command(bin, "--config", path)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.output, s.output
	if s.child, err = proc.Start(cmd); err != nil {
		return fmt.Errorf("start livekit-server: %w", err)
	}
	err = proc.WaitServing(ctx, s.APIURL()+"/", s.child.Exited())
	if errors.Is(err, proc.ErrExited) {
		return fmt.Errorf("livekit-server exited during startup (%v); last output:\n%s", s.child.Err(), s.output.String())
	}
	if err != nil {
		return fmt.Errorf("livekit-server not serving: %w; last output:\n%s", err, s.output.String())
	}
	return nil
}

// freeUDPPort asks the kernel for a UDP port on ip that nothing uses; as
// with proc.FreePort, another process could take it before the server
// binds it, which shows as a startup failure.
func freeUDPPort(ip string) (int, error) {
	c, err := net.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port on %s: %w", ip, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// Stop kills the server, waits for it to exit and removes its directory.
// It is safe to call more than once and on a failed Start.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.child != nil {
			s.child.End(os.Kill, time.Minute)
		}
		if err := os.RemoveAll(s.dir); err != nil {
			fmt.Fprintf(s.log, "livekit: remove %s: %v\n", s.dir, err)
		}
	})
}

// URL is what clients connect to: ws://<node IP>:<port>.
func (s *Server) URL() string { return "ws://" + net.JoinHostPort(s.nodeIP, strconv.Itoa(s.port)) }

// APIURL is the server API (Twirp) base URL on loopback: http://127.0.0.1:<port>.
func (s *Server) APIURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

// APIKey is the key name the server knows, and signs webhooks with.
func (s *Server) APIKey() string { return apiKey }

// APISecret is the secret of APIKey.
func (s *Server) APISecret() string { return s.secret }

// Output is what the server printed so far (its last 16 KiB), for
// failure messages.
func (s *Server) Output() string { return s.output.String() }
