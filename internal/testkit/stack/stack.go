// Package stack starts a whole local Walkie deployment for end-to-end tests,
// the demo and benchmarks: a throwaway PostgreSQL, the real walkie binary
// (configured and registered through its own -g flow) and a real Dendrite
// homeserver with Walkie registered as its appservice. Everything lives in
// one temporary directory and is removed by Stop.
package stack

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
	"github.com/walkie-ptt/walkie/internal/testkit/pg"
	"github.com/walkie-ptt/walkie/internal/testkit/testconfig"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// Domain is the homeserver's server name, and so of every user and room.
const Domain = "localhost"

// Options tune a stack.
type Options struct {
	// Log receives Walkie's and Dendrite's output (io.Discard when nil).
	Log io.Writer
	// Floor sets Walkie's floor timers; zero keeps the defaults.
	Floor timers.Floor
	// LogLevel for Walkie (default debug).
	LogLevel string
	// Web serves the web client from every controller (Walkie.WebURL).
	Web bool
	// Channel raises the floor channel's socket limits (with Web).
	Channel testconfig.ChannelLimits
	// ExtraRegistrations are more appservice registration files for the
	// homeserver (a benchmark's baseline appservice, for instance).
	ExtraRegistrations []string
	// Rivals name more Walkie controllers on the same homeserver (see
	// walkieproc.Options.ID): each is a walkie process with a database,
	// registration and bot of its own, started with the first.
	Rivals []string
	// LiveKit, when set, puts the first controller in live mode (it needs
	// Web): called once its ports are chosen and before it starts, with
	// the URL LiveKit must send webhooks to, it starts an SFU (which the
	// caller stops) and says where it is.
	LiveKit func(ctx context.Context, webhookURL string) (walkieproc.LiveKit, error)
}

// Stack is a running local deployment.
type Stack struct {
	dir    string
	PG     *pg.Cluster
	HS     *dendrite.Server
	Walkie *walkieproc.Process
	// Rivals are the controllers Options.Rivals named, in that order.
	Rivals []*walkieproc.Process
}

// Start brings the stack up; on error everything started is torn down.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	dir, err := os.MkdirTemp("", "walkie-stack-")
	if err != nil {
		return nil, err
	}
	s = &Stack{dir: dir}
	started := s // the returns below set s to nil before this runs
	defer func() {
		if err != nil {
			started.Stop()
			s = nil
		}
	}()
	if s.PG, err = pg.Start(ctx, pg.Options{}); err != nil {
		return nil, err
	}
	// The homeserver needs Walkie's registration to start, and Walkie the
	// homeserver's address, known once it runs: the config gets it after.
	if s.Walkie, err = s.configure(ctx, opts, ""); err != nil {
		return nil, err
	}
	if opts.LiveKit != nil {
		lk, err := opts.LiveKit(ctx, s.Walkie.LiveKitWebhookURL())
		if err != nil {
			return nil, err
		}
		if err := s.Walkie.SetLiveKit(lk); err != nil {
			return nil, err
		}
	}
	registrations := []string{s.Walkie.RegistrationPath()}
	for _, id := range opts.Rivals {
		w, err := s.configure(ctx, opts, id)
		if err != nil {
			return nil, err
		}
		s.Rivals = append(s.Rivals, w)
		registrations = append(registrations, w.RegistrationPath())
	}
	s.HS, err = dendrite.Start(ctx, dendrite.Options{WorkDir: dir, ServerName: Domain, LogWriter: opts.Log,
		AppserviceRegistrationPaths: append(registrations, opts.ExtraRegistrations...)})
	if err != nil {
		return nil, err
	}
	for _, w := range append([]*walkieproc.Process{s.Walkie}, s.Rivals...) {
		if err := w.SetHomeserverURL(s.HS.URL()); err != nil {
			return nil, err
		}
		if err := w.Start(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// configure sets up one controller with a database of its own: the first
// (id "") in the stack's directory, a rival in a subdirectory named by it.
func (s *Stack) configure(ctx context.Context, opts Options, id string) (*walkieproc.Process, error) {
	dir, db := s.dir, "walkie"
	if id != "" {
		dir, db = filepath.Join(s.dir, id), "walkie-"+id
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
	}
	dbURL, err := s.PG.CreateDatabase(ctx, db)
	if err != nil {
		return nil, err
	}
	return walkieproc.Configure(ctx, walkieproc.Options{Dir: dir, DatabaseURL: dbURL, Domain: Domain, ID: id,
		Floor: opts.Floor, LogLevel: opts.LogLevel, Metrics: true, Web: opts.Web, Channel: opts.Channel, Log: opts.Log})
}

// Stop tears everything down; safe to call more than once.
func (s *Stack) Stop() {
	for _, w := range s.Rivals {
		w.Stop()
	}
	if s.Walkie != nil {
		s.Walkie.Stop()
	}
	if s.HS != nil {
		s.HS.Stop()
	}
	if s.PG != nil {
		_ = s.PG.Stop()
	}
	_ = os.RemoveAll(s.dir)
}
