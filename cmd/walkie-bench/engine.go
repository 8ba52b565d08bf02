package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/engine"
)

// quickDefaults make a run that finishes well within a minute, for CI
// smoke tests: the figures say nothing about capacity.
var quickDefaults = map[string]string{"rooms": "20", "senders": "4", "duration": "4s"}

// quickChannelDefaults: over the channel rooms move faster, and 20 of
// them would run into the request rate limit.
var quickChannelDefaults = map[string]string{"rooms": "200", "senders": "4", "duration": "4s"}

// runEngine is `walkie-bench engine`.
func runEngine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	rep, err := engineReport(ctx, args, stdout, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case err != nil:
		fmt.Fprintln(stderr, "walkie-bench engine:", err)
		return exitError
	case !rep.Clean():
		fmt.Fprintln(stderr, "walkie-bench engine: the run was not clean (see anomalies): do not quote its figures")
		return exitError
	}
	return exitOK
}

var errUsage = errors.New("usage")

// engineReport parses the flags, runs the benchmark, prints the report to stdout
// (progress and Walkie's warnings go to stderr) and returns it.
func engineReport(ctx context.Context, args []string, stdout, stderr io.Writer) (*engine.Report, error) {
	flags := flag.NewFlagSet("walkie-bench engine", flag.ContinueOnError)
	flags.SetOutput(stderr)
	rooms := flags.Int("rooms", 1000, "rooms, all managed by Walkie")
	devices := flags.Int("devices", 4, "devices per room (one user each, at least 2)")
	senders := flags.Int("senders", 16, "concurrent transaction senders (or channel clients), and pgbench's client count")
	load := flags.String("load", string(engine.LoadAppservice), "how the load reaches Walkie: `appservice` (one-event transactions over HTTP) or channel (talk requests from many clients at once, each decided synchronously)")
	duration := flags.Duration("duration", 30*time.Second, "length of the measured phase")
	requests := flags.Int64("requests", 0, "end the measured phase after this many transactions instead of -duration")
	pgbenchDuration := flags.Duration("pgbench-duration", 0, "length of the pgbench run (default: the measured window)")
	maxConns := flags.Int("max-conns", 0, "override Walkie's database.max_conns (default: Walkie's own default)")
	quick := flags.Bool("quick", false, "small run finishing within a minute, for CI (20 rooms (200 over the channel), 4 senders, 4s unless set)")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile of the measured phase to `file`")
	logLevel := flags.String("log-level", "warn", "Walkie's log level (to stderr)")
	writeCeiling := flags.Bool("write-ceiling", false, "after pgbench, replay a channel decision's writes with pgbench on Walkie's tables (no Walkie process) and print that ceiling's ratio")
	ceilingVariants := flags.Bool("write-ceiling-variants", false, "like -write-ceiling, then again with each part of the write set left out (floor log, outbox and each of its parts, notification, indexed room columns), to show what each costs")
	ceilingRounds := flags.Int("ceiling-rounds", 1, "run pgbench's baseline and the write ceilings this many times, alternating, and report medians")
	ceilingClients := flags.Int("ceiling-clients", engine.DecisionBatches, "the write ceiling's pgbench clients (default: as many decision transactions as Walkie has in flight)")
	ceilingRooms := flags.Int("ceiling-rooms-per-commit", 0, "rooms each write-ceiling transaction writes (default: Walkie's measured rooms per commit)")
	pgStats := flags.Bool("pg-stats", false, "load pg_stat_statements and print PostgreSQL's costliest statements (to stderr)")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), `Usage: walkie-bench engine [flags]

Runs the real Walkie service in-process against a throwaway PostgreSQL
(fsync on) and a homeserver stand-in, pushes protocol-correct appservice
transactions over HTTP (or, with -load channel, makes talk requests from
many clients at once, as the floor channel does), and reports decisions
per second, grant latency and allocations per decision; then runs pgbench
on the same server and prints the throughput ratio. The report goes to
stdout, progress to stderr.

`)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "walkie-bench engine: unexpected argument %q\n", flags.Arg(0))
		return nil, errUsage
	}
	if *quick {
		set := map[string]bool{}
		flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
		defaults := quickDefaults
		if *load == string(engine.LoadChannel) {
			defaults = quickChannelDefaults
		}
		for name, value := range defaults {
			if !set[name] {
				_ = flags.Set(name, value) // known flags, valid values
			}
		}
	}
	level, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "walkie-bench engine: -log-level: %v\n", err)
		return nil, errUsage
	}

	opts := engine.Options{
		Rooms: *rooms, Devices: *devices, Senders: *senders, Load: engine.Load(*load), Duration: *duration, Transactions: *requests,
		PgbenchDuration: *pgbenchDuration, MaxConns: *maxConns, WriteCeiling: *writeCeiling, CeilingVariants: *ceilingVariants, CeilingRounds: *ceilingRounds, CeilingClients: *ceilingClients, CeilingRoomsPerCommit: *ceilingRooms, Progress: stderr,
		Log: zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true}).Level(level).With().Timestamp().Logger(),
	}
	if *pgStats {
		opts.StatementStats = stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		opts.CPUProfile = f
	}
	rep, err := engine.Run(ctx, opts)
	if err != nil {
		return nil, err
	}
	rep.Write(stdout)
	return rep, nil
}
