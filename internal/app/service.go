package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Intervals of the background loops. Timers are deadlines in the database;
// timerPoll bounds how late one fires.
const (
	timerPoll      = 100 * time.Millisecond
	pendingSweep   = 2 * time.Second
	janitorEvery   = time.Hour
	inboxRetention = 24 * time.Hour
	sentRetention  = 7 * 24 * time.Hour
	roomWorkers    = 16
	shutdownGrace  = 10 * time.Second
)

// Service is a running Walkie: the appservice endpoint, the decision
// workers, the timer loop and the outbox sender around one database.
type Service struct {
	cfg      *config.Config
	log      zerolog.Logger
	store    *store.Store
	metrics  *metrics.Metrics
	registry prometheus.Gatherer
	client   *mautrix.Client
	handler  *matrix.Handler
	sender   *matrix.Sender
	loader   *matrix.RoomLoader
	server   *matrix.Server
	sched    *roomScheduler
	ready    atomic.Bool
}

// NewService connects to the database, migrates it and wires the parts.
// reg receives Walkie's metrics; it must also be a Gatherer to serve them.
func NewService(ctx context.Context, cfg *config.Config, log zerolog.Logger, reg interface {
	prometheus.Registerer
	prometheus.Gatherer
}) (*Service, error) {
	st, err := store.Open(ctx, store.Options{
		URI: cfg.Database.URI, MaxConns: int32(cfg.Database.MaxConns),
		Controller: cfg.BotUserID(), Defaults: cfg.FloorDefaults(),
	})
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	client, err := matrix.NewClient(cfg.Homeserver.Address, cfg.BotUserID(), cfg.AppService.ASToken,
		log.With().Str("component", "client").Logger())
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Service{cfg: cfg, log: log, store: st, registry: reg, client: client}
	s.metrics = metrics.New(reg, Version, Commit)
	metrics.RegisterState(reg, st)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.handler = &matrix.Handler{
		Controller: cfg.BotUserID(),
		MayInvite:  func(user string) bool { return cfg.PermissionLevel(user).Allows(config.LevelUser) },
		Commands:   s.command,
		Log:        log.With().Str("component", "handler").Logger(),
	}
	s.sched = newRoomScheduler(s.processRoom)
	s.loader = &matrix.RoomLoader{
		Client: client, Store: st, Handler: s.handler, ManagePowerLevels: cfg.Floor.ManagePowerLevels,
		Committed: s.committed, Log: log.With().Str("component", "loader").Logger(),
	}
	s.sender = &matrix.Sender{
		Client: client, Store: st, LoadState: s.loader.Load, Observe: s.metrics.ObserveSend,
		Log: log.With().Str("component", "sender").Logger(),
	}
	s.server = &matrix.Server{
		HSToken: cfg.AppService.HSToken, MaxBodyBytes: cfg.AppService.MaxBodyBytes, Store: receiver{s},
		Wake: func(rooms []string) { s.sched.Schedule(rooms...) }, Observe: s.metrics.ObserveTransaction,
		Log: log.With().Str("component", "appservice").Logger(),
	}
	return s, nil
}

// Close releases the database.
func (s *Service) Close() { s.store.Close() }

// Store exposes the store (tests, benchmarks).
func (s *Service) Store() *store.Store { return s.store }

// Handler is the appservice listener's HTTP handler.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	s.server.Register(mux)
	mux.HandleFunc("GET /_walkie/health", s.health)
	s.registerAdmin(mux)
	return mux
}

func (s *Service) health(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Run serves until ctx ends. The appservice listener starts first, so the
// homeserver can deliver (and ping) while Walkie checks it.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.AppService.Hostname, strconv.Itoa(s.cfg.AppService.Port))
	servers := []*http.Server{{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	if s.cfg.Metrics.Enabled {
		s.warnIfMetricsExposed()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
		servers = append(servers, &http.Server{Addr: s.cfg.Metrics.Listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second})
	}
	errc := make(chan error, len(servers)+1)
	listenFor := []string{"appservice", "metrics"}
	listenKeys := []string{"appservice.hostname and appservice.port", "metrics.listen"}
	for i, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s (%s): %w", srv.Addr, listenKeys[i], err)
		}
		s.log.Info().Str("address", ln.Addr().String()).Str("for", listenFor[i]).Msg("Listening")
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}

	var wg sync.WaitGroup
	background := func(fn func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); fn(ctx) }()
	}
	background(func(ctx context.Context) { s.sched.Run(ctx, roomWorkers) })
	background(s.sender.Run)
	background(s.timerLoop)
	background(s.pendingLoop)
	background(s.janitorLoop)

	go func() {
		if err := matrix.Connect(ctx, s.client, s.cfg.AppService.ID, s.cfg.AppService.Bot.Displayname, s.log); err != nil {
			errc <- err
			return
		}
		s.reloadJoinedRooms(ctx)
		s.ready.Store(true)
		s.log.Info().Str("bot", s.cfg.BotUserID()).Msg("Walkie is ready")
	}()

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info().Msg("Shutting down")
	case runErr = <-errc:
		s.log.Info().Msg("Stopping on an error") // the caller logs the error
	}
	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer stop()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	cancel()
	wg.Wait()
	return runErr
}

// processRoom makes one decision transaction for a room.
func (s *Service) processRoom(ctx context.Context, roomID string) {
	// The store turns a panic of the decision code into a poison error;
	// this catches the rest (metrics, logging), so a bug fails this room's
	// run, not the process.
	defer func() {
		if p := recover(); p != nil {
			s.metrics.DecisionErrors.Inc()
			s.log.Error().Str("room_id", roomID).Interface("panic", p).Bytes("stack", debug.Stack()).
				Msg("Decision panicked; the room is retried by the pending sweep")
		}
	}()
	out, err := s.store.Process(ctx, roomID, s.handler)
	if store.IsPoisoned(err) {
		s.setAsidePoison(ctx, roomID)
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.metrics.DecisionErrors.Inc()
			s.log.Warn().Err(err).Str("room_id", roomID).Msg("Decision failed; the room is retried by the pending sweep")
		}
		return
	}
	s.committed(out)
	if len(out.Events) == store.BatchSize {
		s.sched.Schedule(roomID) // more events are waiting
	}
}

// setAsidePoison: one event no decision can be made or stored for (the
// database refuses it, or the decision panics) must not stop its room for
// good. (The parser already cleans what is known to be unstorable; this is
// the net under it.)
func (s *Service) setAsidePoison(ctx context.Context, roomID string) {
	outs, aside, err := s.store.ProcessSettingAside(ctx, roomID, s.handler)
	for _, out := range outs {
		s.committed(out)
	}
	for _, eventID := range aside {
		s.metrics.EventsSetAside.Inc()
		s.log.Error().Str("room_id", roomID).Str("event_id", eventID).
			Msg("Set an event aside: no decision on it could be made or stored (the floor log has the error)")
	}
	if err != nil {
		s.metrics.DecisionErrors.Inc()
		s.log.Error().Err(err).Str("room_id", roomID).Msg("Decision failed; the room is retried by the pending sweep")
		return
	}
	s.sched.Schedule(roomID)
}

func (s *Service) committed(out store.Outcome) {
	s.metrics.ObserveOutcome(out)
	if out.Actions > 0 {
		s.sender.Wake()
	}
	for _, e := range out.Log {
		s.log.Debug().Str("room_id", out.RoomID).Str("action", string(e.Action)).Str("user_id", e.Device.UserID).
			Str("device_id", e.Device.DeviceID).Int64("term", e.Term).Str("reason", string(e.Reason)).Msg("Floor decision")
	}
}

// timerLoop fires due deadlines. Deadlines are compared with the
// database's clock, so replicas with skewed clocks agree.
func (s *Service) timerLoop(ctx context.Context) {
	s.every(ctx, timerPoll, func() {
		rooms, err := s.store.DueRooms(ctx, 1000)
		if err != nil {
			s.warn(ctx, err).Msg("Could not read due timers")
			return
		}
		s.sched.Schedule(rooms...)
	})
}

// pendingLoop picks up inbox events no worker is handling: after a crash,
// a failed decision, or a replica that stopped between ack and decision.
func (s *Service) pendingLoop(ctx context.Context) {
	s.every(ctx, pendingSweep, func() {
		rooms, err := s.store.PendingRooms(ctx, 1000)
		if err != nil {
			s.warn(ctx, err).Msg("Could not read pending rooms")
			return
		}
		s.sched.Schedule(rooms...)
	})
}

func (s *Service) janitorLoop(ctx context.Context) {
	s.every(ctx, janitorEvery, func() {
		if _, err := s.store.PruneInbox(ctx, inboxRetention); err != nil {
			s.warn(ctx, err).Msg("Could not prune the inbox")
		}
		if _, err := s.store.PruneOutbox(ctx, sentRetention); err != nil {
			s.warn(ctx, err).Msg("Could not prune the outbox")
		}
	})
}

// warn logs a background loop's failure, unless it failed because Walkie
// is stopping (then it says nothing: the cause is logged once, elsewhere).
func (s *Service) warn(ctx context.Context, err error) *zerolog.Event {
	if ctx.Err() != nil {
		return nil // zerolog's nil event discards everything
	}
	return s.log.Warn().Err(err)
}

func (s *Service) every(ctx context.Context, interval time.Duration, fn func()) {
	fn()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// reloadJoinedRooms re-reads the state of every joined room after start-up,
// through the outbox so it is retried like any other homeserver call.
func (s *Service) reloadJoinedRooms(ctx context.Context) {
	rooms, err := s.store.JoinedRooms(ctx)
	if err != nil {
		s.log.Warn().Err(err).Msg("Could not list joined rooms")
		return
	}
	for _, room := range rooms {
		if err := s.store.Enqueue(ctx, room, store.Action{Kind: matrix.KindLoadState, Payload: matrix.Request{}}); err != nil {
			s.log.Warn().Err(err).Str("room_id", room).Msg("Could not schedule a state reload")
		}
	}
	s.sender.Wake()
}

func (s *Service) warnIfMetricsExposed() {
	host, _, err := net.SplitHostPort(s.cfg.Metrics.Listen)
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return
	}
	s.log.Warn().Str("listen", s.cfg.Metrics.Listen).
		Msg("The metrics listener is not bound to loopback and has no authentication; put it behind a firewall or proxy")
}
