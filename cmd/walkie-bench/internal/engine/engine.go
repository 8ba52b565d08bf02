// Package engine is `walkie-bench engine` and `scale` (parts A and C of
// BENCHMARKS.md). The engine benchmark runs the real service in-process — its HTTP transaction
// endpoint, store, scheduler and outbox sender — against a throwaway
// PostgreSQL and a homeserver stand-in that answers at once, so the figures
// are Walkie's and PostgreSQL's alone; pgbench on the same server gives the
// baseline they are compared with.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/app"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/fakehs"
	"github.com/walkie-ptt/walkie/internal/testkit/pg"
	"github.com/walkie-ptt/walkie/internal/testkit/proc"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
	"github.com/walkie-ptt/walkie/internal/testkit/testconfig"
)

// DecisionBatches is how many decision transactions a Walkie process has
// in flight at most (internal/decide's maxBatches).
const DecisionBatches = 2

// Options configure an engine benchmark.
type Options struct {
	Rooms   int // rooms, all managed by Walkie
	Devices int // devices per room, one user each (at least 2)
	// Senders is how many transactions (or channel clients' requests) are
	// in flight at once, and pgbench's client count.
	Senders int
	// Load is how the measured phase reaches Walkie (default
	// LoadAppservice).
	Load Load
	// Duration of the measured phase; Transactions, when positive, ends it
	// after that many transactions instead.
	Duration     time.Duration
	Transactions int64
	// PgbenchDuration defaults to the measured phase's length.
	PgbenchDuration time.Duration
	// MaxConns overrides config database.max_conns (0: Walkie's default).
	MaxConns int
	// GrantTimeout is how long a room waits for an expected grant before
	// the generator gives up on it and moves on.
	GrantTimeout time.Duration
	// SharedBuffers is PostgreSQL's shared_buffers.
	SharedBuffers string
	// ActiveRooms is how many of the rooms the measured phase drives (0:
	// all); the others only exist, which is how memory is measured against
	// the number of managed rooms.
	ActiveRooms int
	// SkipPgbench leaves out the pgbench baseline (the scale runs need no ratio).
	SkipPgbench bool
	// WriteCeiling adds a pgbench run of a channel decision's own writes
	// (ceiling.go) after the baseline; CeilingVariants runs every variant
	// of CeilingVariants instead of today's writes alone.
	WriteCeiling, CeilingVariants bool
	// CeilingRounds repeats the baseline and the ceilings, alternating
	// (default 1).
	CeilingRounds int
	// CeilingClients is the write ceiling's pgbench clients (default
	// DecisionBatches: as many transactions in flight as Walkie's
	// decisions have, each of Walkie's rooms per commit).
	CeilingClients int
	// CeilingRoomsPerCommit overrides the rooms each replayed transaction
	// writes (0: Walkie's measured rooms per commit).
	CeilingRoomsPerCommit int
	// StatementStats, when set, receives PostgreSQL's most expensive
	// statements of the Walkie phase (pg_stat_statements).
	StatementStats io.Writer

	// Progress receives a line every ProgressEvery; nil: none.
	Progress      io.Writer
	ProgressEvery time.Duration
	// CPUProfile, when set, receives a CPU profile of the measured phase.
	CPUProfile io.Writer
	// Log is Walkie's logger.
	Log zerolog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Duration <= 0 && o.Transactions <= 0 {
		o.Duration = 30 * time.Second
	}
	if o.GrantTimeout <= 0 {
		o.GrantTimeout = 30 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.SharedBuffers == "" {
		o.SharedBuffers = "128MB"
	}
	if o.Load == "" {
		o.Load = LoadAppservice
	}
	switch {
	case o.Load != LoadAppservice && o.Load != LoadChannel:
		return o, fmt.Errorf("load %q: want %s or %s", o.Load, LoadAppservice, LoadChannel)
	case o.Rooms < 1:
		return o, errors.New("rooms must be at least 1")
	case o.Devices < 2:
		return o, errors.New("devices must be at least 2: each cycle passes the floor between two devices")
	case o.Senders < 1:
		return o, errors.New("senders must be at least 1")
	case o.ActiveRooms < 0 || o.ActiveRooms > o.Rooms:
		return o, errors.New("active rooms must be between 0 (all) and rooms")
	}
	if o.ActiveRooms == 0 {
		o.ActiveRooms = o.Rooms
	}
	if o.CeilingClients <= 0 {
		o.CeilingClients = DecisionBatches
	}
	return o, nil
}

// Domain is the server name of every benchmark user and room.
const Domain = "bench.invalid"

// roomCreator made every benchmark room and is its admin.
const roomCreator = "@creator:" + Domain

// chunkLength is the declared chunk length of benchmark broadcasts, in
// seconds (it only matters for the inactivity timeout).
const chunkLength = 5

// Run runs the engine benchmark: it starts PostgreSQL (fsync on),
// the stand-in and Walkie, sets the rooms up, measures, then runs pgbench
// on the same server.
func Run(ctx context.Context, o Options) (*Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	pgOpts := pg.Options{SharedBuffers: o.SharedBuffers}
	if o.StatementStats != nil {
		pgOpts.Settings = map[string]string{"shared_preload_libraries": "'pg_stat_statements'"}
	}
	cluster, err := pg.Start(ctx, pgOpts)
	if err != nil {
		return nil, err
	}
	defer cluster.Stop() //nolint:errcheck // best effort: the directory is temporary
	walkieDB, err := cluster.CreateDatabase(ctx, "walkie")
	if err != nil {
		return nil, err
	}
	if _, err := cluster.CreateDatabase(ctx, "pgbench"); err != nil {
		return nil, err
	}
	rep := &Report{Options: o}

	b, err := newEngineRun(ctx, o, walkieDB, cluster.DataDir())
	if err != nil {
		return nil, err
	}
	if err := b.measureWalkie(ctx, rep); err != nil {
		b.stop()
		return nil, err
	}
	if err := b.stop(); err != nil {
		return nil, fmt.Errorf("walkie stopped with an error: %w", err)
	}
	if o.StatementStats != nil {
		if err := writeStatementStats(ctx, walkieDB, o.StatementStats); err != nil {
			return nil, err
		}
	}

	if err := readServerSettings(ctx, cluster.URL("postgres"), rep); err != nil {
		return nil, err
	}
	if o.SkipPgbench {
		return rep, nil
	}
	pgDuration := o.PgbenchDuration
	if pgDuration <= 0 {
		pgDuration = max(time.Second, rep.Window)
	}
	variants := CeilingVariants[:0]
	switch {
	case rep.Commits == 0:
	case o.CeilingVariants:
		variants = CeilingVariants
	case o.WriteCeiling:
		variants = CeilingVariants[:1]
	}
	rep.WriteCeilings = make([]WriteCeilingResult, len(variants))
	roomsPerCommit := float64(rep.Decisions) / float64(max(1, rep.Commits))
	if o.CeilingRoomsPerCommit > 0 {
		roomsPerCommit = float64(o.CeilingRoomsPerCommit)
	}
	var floorState string
	if len(variants) > 0 {
		if floorState, err = latestFloorState(ctx, walkieDB); err != nil {
			return nil, err
		}
	}
	// Rounds alternate the baseline and every variant, so a machine that
	// speeds up or slows down during the runs weighs on all of them; each
	// figure is its median over the rounds.
	for round := range max(1, o.CeilingRounds) {
		base, err := RunPgbench(ctx, PgbenchOptions{
			BinDir: cluster.BinDir(), Port: cluster.Port(), Database: "pgbench",
			Clients: o.Senders, Threads: 2, Duration: pgDuration, WorkDir: cluster.Dir(), Initialised: round > 0, DataDir: cluster.DataDir(),
		})
		if err != nil {
			return nil, err
		}
		rep.Pgbench.add(base)
		for i, v := range variants {
			ceiling, err := RunWriteCeiling(ctx, PgbenchOptions{
				BinDir: cluster.BinDir(), Port: cluster.Port(), Database: "walkie",
				Clients: o.CeilingClients, Threads: 2, Duration: pgDuration, WorkDir: cluster.Dir(), DataDir: cluster.DataDir(),
			}, walkieDB, o.Rooms, roomsPerCommit, floorState, v.Without)
			if err != nil {
				return nil, err
			}
			ceiling.Name = v.Name
			rep.WriteCeilings[i].add(ceiling)
		}
	}
	return rep, nil
}

// engineRun is one running Walkie with its stand-in and load generator.
type engineRun struct {
	o       Options
	bot     string
	events  *roomevents.Builder
	scripts []*roomScript
	channel []*channelScript // the same rooms and devices, for LoadChannel
	ready   chan int         // rooms whose next step may be sent
	tracker *grantTracker
	standin *fakehs.Server
	poster  *poster
	db      *pgxpool.Pool // the benchmark's own view of Walkie's database
	metrics prometheus.Gatherer
	dataDir string // PostgreSQL's, to account for its CPU time

	svc     *app.Service
	stopSvc context.CancelFunc
	stopped chan struct{} // closed when svc.Run has returned
	runErr  error         // what it returned; read after stopped
}

func newEngineRun(ctx context.Context, o Options, dbURL, dataDir string) (*engineRun, error) {
	b := &engineRun{o: o, bot: "@" + testconfig.BotLocalpart + ":" + Domain, ready: make(chan int, o.Rooms), dataDir: dataDir,
		events: roomevents.New("bench")}
	b.events.ChunkLength = chunkLength
	roomIDs := make([]string, o.Rooms)
	for i := range o.Rooms {
		roomIDs[i] = roomName(i)
		s := &roomScript{roomID: roomIDs[i]}
		for d := range o.Devices {
			s.devices = append(s.devices, floor.Device{
				UserID: "@u" + strconv.Itoa(i) + "d" + strconv.Itoa(d) + ":" + Domain, DeviceID: "DEV" + strconv.Itoa(d)})
		}
		b.scripts = append(b.scripts, s)
		b.channel = append(b.channel, &channelScript{roomID: s.roomID, devices: s.devices})
	}
	b.tracker = newGrantTracker(roomIDs, func(i int) { b.ready <- i })

	asToken, hsToken := randomToken(), randomToken()
	b.standin = fakehs.Start(fakehs.Options{BotUserID: b.bot, ASToken: asToken, Observer: b.tracker})
	port, err := proc.FreePort()
	if err != nil {
		b.standin.Close()
		return nil, err
	}
	// The configuration a user would write for this setup, so every key the
	// benchmark does not set keeps Walkie's shipped default.
	cfg, err := testconfig.Parse(testconfig.Values{HomeserverURL: b.standin.URL(), Domain: Domain, Port: port,
		ID: "walkie-bench", ASToken: asToken, HSToken: hsToken, DatabaseURL: dbURL})
	if o.MaxConns > 0 && err == nil {
		cfg.Database.MaxConns = o.MaxConns
		err = cfg.Validate()
	}
	if err != nil {
		b.standin.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	b.metrics = reg
	b.svc, err = app.NewService(ctx, cfg, o.Log, reg, app.Build{})
	if err != nil {
		b.standin.Close()
		return nil, err
	}
	b.db, err = pgxpool.New(ctx, dbURL)
	if err != nil {
		b.svc.Close()
		b.standin.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.stopSvc, b.stopped = cancel, make(chan struct{})
	go func() {
		b.runErr = b.svc.Run(runCtx)
		close(b.stopped)
	}()

	walkieURL := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	b.poster = newPoster(walkieURL, hsToken, o.Senders)
	if err := b.waitHealthy(ctx, walkieURL); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}

// stop shuts Walkie down and releases everything but PostgreSQL.
func (b *engineRun) stop() error {
	b.stopSvc()
	<-b.stopped
	err := b.runErr
	b.poster.close()
	b.db.Close()
	b.svc.Close()
	b.standin.Close()
	return err
}

// waitHealthy waits until Walkie has checked the homeserver and says it is ready.
func (b *engineRun) waitHealthy(ctx context.Context, walkieURL string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := proc.WaitServing(ctx, walkieURL+"/_walkie/health", b.stopped)
	if errors.Is(err, proc.ErrExited) {
		return fmt.Errorf("walkie stopped while starting: %w", b.runErr)
	}
	return err
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// readServerSettings asks the server itself for the settings the figures
// depend on, rather than trusting what was configured.
func readServerSettings(ctx context.Context, url string, rep *Report) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	var fsync string
	err = pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('shared_buffers')`).
		Scan(&rep.PostgresVersion, &fsync, &rep.SynchronousCommit, &rep.SharedBuffers)
	rep.FsyncOn = fsync == "on"
	return err
}
