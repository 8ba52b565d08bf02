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

	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
	"github.com/walkie-ptt/walkie/internal/testkit/pg"
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
	// ExtraRegistrations are more appservice registration files for the
	// homeserver (a benchmark's baseline appservice, for instance).
	ExtraRegistrations []string
}

// Stack is a running local deployment.
type Stack struct {
	dir    string
	PG     *pg.Cluster
	HS     *dendrite.Server
	Walkie *walkieproc.Process
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
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()
	if s.PG, err = pg.Start(ctx, pg.Options{}); err != nil {
		return nil, err
	}
	dbURL, err := s.PG.CreateDatabase(ctx, "walkie")
	if err != nil {
		return nil, err
	}
	// The homeserver needs Walkie's registration to start, and Walkie the
	// homeserver's address, known once it runs: the config gets it after.
	s.Walkie, err = walkieproc.Configure(ctx, walkieproc.Options{Dir: dir, DatabaseURL: dbURL, Domain: Domain,
		Floor: opts.Floor, LogLevel: opts.LogLevel, Metrics: true, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	s.HS, err = dendrite.Start(ctx, dendrite.Options{WorkDir: dir, ServerName: Domain, LogWriter: opts.Log,
		AppserviceRegistrationPaths: append([]string{s.Walkie.RegistrationPath()}, opts.ExtraRegistrations...)})
	if err != nil {
		return nil, err
	}
	if err := s.Walkie.SetHomeserverURL(s.HS.URL()); err != nil {
		return nil, err
	}
	if err := s.Walkie.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Stop tears everything down; safe to call more than once.
func (s *Stack) Stop() {
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
