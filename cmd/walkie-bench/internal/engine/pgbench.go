package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pgbenchScript is the baseline transaction: one single-row update, the
// smallest durable write PostgreSQL can commit. A Walkie decision is a
// single-room transaction too (plus its reads), so the ratio of the two
// says how much of the database's commit capacity Walkie turns into
// decisions.
const pgbenchScript = `\set aid random(1, 100000 * :scale)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
`

// PgbenchOptions say where and how long to run pgbench.
type PgbenchOptions struct {
	BinDir   string // holds pgbench
	Port     int    // on 127.0.0.1, user postgres, trust authentication
	Database string
	Clients  int
	Threads  int
	Duration time.Duration
	WorkDir  string // where the script file is written
	// Initialised skips pgbench -i: an earlier run made the tables.
	Initialised bool
	// DataDir is the server's, to account for its CPU time ("": not).
	DataDir string
}

// PgbenchResult is one pgbench run, or the median of several (add).
type PgbenchResult struct {
	Clients, Threads int
	Duration         time.Duration
	TPS              float64 // the median of Runs
	Command          string  // for the report, so it can be rerun by hand
	// CPU is what each transaction cost PostgreSQL and pgbench together
	// (the median over runs; 0: not measured). Unlike TPS it hardly
	// depends on what else the machine runs meanwhile.
	CPU time.Duration
	rounds
}

// add records another run of the same command.
func (r *PgbenchResult) add(run PgbenchResult) {
	past := r.rounds
	*r = run
	r.rounds = past
	r.TPS, r.CPU = r.record(run.TPS, run.CPU)
}

// rounds keeps what each run of a repeated measurement gave; the results
// report their medians.
type rounds struct {
	Runs []float64 // each run's TPS, in order
	cpus []time.Duration
}

// record adds a run and returns the medians so far.
func (r *rounds) record(tps float64, cpu time.Duration) (float64, time.Duration) {
	r.Runs, r.cpus = append(r.Runs, tps), append(r.cpus, cpu)
	return median(r.Runs), medianDuration(r.cpus)
}

func medianDuration(ds []time.Duration) time.Duration {
	fs := make([]float64, len(ds))
	for i, d := range ds {
		fs[i] = float64(d)
	}
	return time.Duration(median(fs))
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// RunPgbench initialises a scale-1 pgbench database and runs the
// single-row-update script against it with prepared statements (pgx,
// which Walkie uses, prepares its statements too).
func RunPgbench(ctx context.Context, o PgbenchOptions) (PgbenchResult, error) {
	if !o.Initialised {
		if _, _, err := pgbench(ctx, o.BinDir, append(append([]string{"-i", "-s", "1", "-q"}, o.connArgs()...), o.Database)); err != nil {
			return PgbenchResult{}, fmt.Errorf("pgbench -i: %w", err)
		}
	}
	script := filepath.Join(o.WorkDir, "single-row-update.sql")
	if err := os.WriteFile(script, []byte(pgbenchScript), 0o644); err != nil {
		return PgbenchResult{}, err
	}
	run, err := o.measure(ctx, script)
	if err != nil {
		return PgbenchResult{}, fmt.Errorf("pgbench: %w", err)
	}
	return PgbenchResult{
		Clients: o.Clients, Threads: o.threads(), Duration: time.Duration(o.seconds()) * time.Second, TPS: run.tps, CPU: run.cpuPerTransaction(),
		Command: run.command,
	}, nil
}

// pgbenchRun is what one pgbench run measured.
type pgbenchRun struct {
	tps          float64
	transactions int64
	cpu          time.Duration // PostgreSQL's and pgbench's
	command      string        // for the report, so it can be rerun by hand
}

func (r pgbenchRun) cpuPerTransaction() time.Duration {
	if r.transactions <= 0 || r.cpu <= 0 {
		return 0
	}
	return r.cpu / time.Duration(r.transactions)
}

// measure runs script with o's clients, threads and duration (prepared
// statements, no vacuum) and reads pgbench's figures, and the CPU time
// it and the server used meanwhile.
func (o PgbenchOptions) measure(ctx context.Context, script string) (pgbenchRun, error) {
	args := append([]string{"-n", "-M", "prepared", "-f", script,
		"-c", strconv.Itoa(o.Clients), "-j", strconv.Itoa(o.threads()), "-T", strconv.Itoa(o.seconds())}, o.connArgs()...)
	args = append(args, o.Database)
	var pg0 time.Duration
	if o.DataDir != "" {
		pg0 = postgresCPU(o.DataDir)
	}
	out, state, err := pgbench(ctx, o.BinDir, args)
	if err != nil {
		return pgbenchRun{}, err
	}
	run := pgbenchRun{command: "pgbench " + strings.Join(args, " ")}
	if run.tps, err = parseTPS(out); err != nil {
		return pgbenchRun{}, err
	}
	if m := processedLine.FindStringSubmatch(out); m != nil {
		run.transactions, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if o.DataDir != "" {
		run.cpu = postgresCPU(o.DataDir) - pg0 + state.UserTime() + state.SystemTime()
	}
	return run, nil
}

// connArgs reach the server as postgres over loopback.
func (o PgbenchOptions) connArgs() []string {
	return []string{"-h", "127.0.0.1", "-p", strconv.Itoa(o.Port), "-U", "postgres"}
}

// threads is o.Threads, but no more than clients: pgbench refuses that.
func (o PgbenchOptions) threads() int { return max(1, min(o.Threads, o.Clients)) }

func (o PgbenchOptions) seconds() int { return max(1, int(o.Duration.Round(time.Second)/time.Second)) }

// pgbench runs pgbench with args and returns its output and how it
// ended (its CPU time).
func pgbench(ctx context.Context, binDir string, args []string) (string, *os.ProcessState, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pgbench"), args...)
	cmd.Env = withoutPGVariables(os.Environ())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", nil, fmt.Errorf("%w\n%s", err, strings.TrimSpace(string(out)))
	}
	return string(out), cmd.ProcessState, nil
}

// withoutPGVariables drops PG* variables: a developer's PGHOST or
// PGDATABASE must not point pgbench at another server.
func withoutPGVariables(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return out
}

// processedLine and tpsLine match pgbench's summary, e.g.
// "number of transactions actually processed: 12345" and
// "tps = 1234.567890 (without initial connection time)".
var processedLine = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)

var tpsLine = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)

func parseTPS(output string) (float64, error) {
	m := tpsLine.FindStringSubmatch(output)
	if m == nil {
		return 0, errors.New("pgbench output has no tps line:\n" + output)
	}
	return strconv.ParseFloat(m[1], 64)
}
