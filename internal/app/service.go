package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/appservice"
	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/homeserver"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/openid"
	"github.com/walkie-ptt/walkie/internal/outbox"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Intervals of the background loops. Timers are deadlines in the database;
// timerPoll bounds how late one fires.
const (
	timerPoll      = 100 * time.Millisecond
	pendingSweep   = 2 * time.Second
	outageCheck    = time.Second
	janitorEvery   = time.Hour
	inboxRetention = 24 * time.Hour
	sentRetention  = 7 * 24 * time.Hour
	roomWorkers    = 16
	shutdownGrace  = 10 * time.Second
)

// Build describes the running binary (the walkie_build_info metric).
type Build struct{ Version, Commit string }

// Service is a running Walkie: the parts wired around one database, and
// the background loops that feed the decision package.
type Service struct {
	cfg      *config.Config
	log      zerolog.Logger
	store    *store.Store
	metrics  *metrics.Metrics
	registry prometheus.Gatherer
	client   *mautrix.Client
	decider  *decide.Decider
	sender   *outbox.Sender
	server   *appservice.Server
	workers  *roomScheduler
	// channel is the floor channel, nil when it is not served.
	channel        *floorchannel.Server
	channelMetrics *metrics.Channel
	// verifier checks the OpenID tokens of the floor channel and the
	// LiveKit token service (one cache of vouched-for tokens for both);
	// nil when neither is served.
	verifier *openid.Verifier
	// live is live mode's wiring, nil when livekit.url is not set.
	live  *liveMode
	ready atomic.Bool
	build Build
}

// NewService connects to the database, migrates it and wires the parts.
// reg receives Walkie's metrics; it must also be a Gatherer to serve them.
func NewService(ctx context.Context, cfg *config.Config, log zerolog.Logger, reg interface {
	prometheus.Registerer
	prometheus.Gatherer
}, build Build) (*Service, error) {
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
	client, err := homeserver.NewClient(cfg.Homeserver.Address, cfg.BotUserID(), cfg.AppService.ASToken,
		log.With().Str("component", "client").Logger())
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Service{cfg: cfg, log: log, store: st, registry: reg, client: client, build: build}
	s.metrics = metrics.New(reg, build.Version, build.Commit)
	metrics.RegisterState(reg, st)
	if cfg.Web.Enabled() && cfg.Web.FloorChannel.Enabled {
		s.channelMetrics = metrics.NewChannel(reg)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The decider first: live rooms' floor state names the token service
	// (known from the configuration alone), and live mode decides webhooks
	// through the decider.
	s.decider = decide.New(decide.Options{
		Store: st, Controller: cfg.BotUserID(), Permissions: cfg, ManagePowerLevels: cfg.Floor.ManagePowerLevels,
		LiveKitServiceURL: liveServiceURL(cfg), Metrics: s.metrics, Log: log.With().Str("component", "decide").Logger(),
	})
	if err := s.setUpClientAuth(reg); err != nil {
		st.Close()
		return nil, err
	}
	s.workers = newRoomScheduler(s.decideRoom)
	s.sender = &outbox.Sender{
		Client: client, Store: st, Ready: s.decider.OutboxReady(), Decider: s.decider, Metrics: s.metrics,
		Loader: &outbox.Loader{
			Client: client, Store: st, Decider: s.decider, Controller: cfg.BotUserID(),
			Log: log.With().Str("component", "loader").Logger(),
		},
		Log: log.With().Str("component", "sender").Logger(),
	}
	if s.live != nil {
		s.sender.Media = s.live
	}
	s.server = &appservice.Server{
		HSToken: cfg.AppService.HSToken, AdminToken: cfg.AppService.AdminToken, MaxBodyBytes: cfg.AppService.MaxBodyBytes,
		Decider: s.decider, Store: st, Workers: s.workers, Metrics: s.metrics, Ready: &s.ready,
		Log: log.With().Str("component", "appservice").Logger(),
	}
	return s, nil
}

// Close releases the database.
func (s *Service) Close() { s.store.Close() }

// Handler is the appservice listener's HTTP handler.
func (s *Service) Handler() http.Handler { return s.server.Handler() }

// Decider is the service's decision maker: walkie-bench's channel load
// decides through it, as clients of the floor channel do.
func (s *Service) Decider() *decide.Decider { return s.decider }

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
	listenFor := []string{"appservice", "metrics"}
	listenKeys := []string{"appservice.hostname and appservice.port", "metrics.listen"}
	if !s.cfg.Metrics.Enabled {
		listenFor, listenKeys = listenFor[:1], listenKeys[:1]
	}
	if s.cfg.Web.Enabled() {
		handler, err := s.webHandler()
		if err != nil {
			return err
		}
		servers = append(servers, &http.Server{Addr: s.cfg.Web.Listen, Handler: handler, ReadHeaderTimeout: 10 * time.Second})
		listenFor, listenKeys = append(listenFor, "web client"), append(listenKeys, "web.listen")
	}
	errc := make(chan error, len(servers)+1)
	for i, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s (%s): %w", srv.Addr, listenKeys[i], err)
		}
		s.log.Info().Str("address", ln.Addr().String()).Str("for", listenFor[i]).Msg("Listening")
		if listenFor[i] == "web client" {
			s.log.Info().Str("url", s.cfg.Web.ClientPublicURL()).Msg("The web client is served")
		}
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
	background(func(ctx context.Context) { s.workers.Run(ctx, roomWorkers) })
	background(s.sender.Run)
	background(s.timerLoop)
	background(s.pendingLoop)
	background(s.janitorLoop)
	background(s.outageLoop)
	if s.channel != nil {
		background(s.channel.Run)
	}
	if s.live != nil {
		background(func(ctx context.Context) { s.live.reconcileLoop(ctx, s.every) })
	}

	go func() {
		if err := homeserver.Connect(ctx, s.client, s.cfg.AppService.ID, s.cfg.AppService.Bot.Displayname, s.log); err != nil {
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

// decideRoom is a room worker's run: one decision for the room's pending
// events and due deadlines.
func (s *Service) decideRoom(ctx context.Context, roomID string) {
	more, err := s.decider.Room(ctx, roomID)
	if err != nil {
		if ctx.Err() == nil {
			s.metrics.DecisionErrors.Inc()
			s.log.Warn().Err(err).Str("room_id", roomID).Msg("Decision failed; the room is retried by the pending sweep")
		}
		return
	}
	if more {
		s.workers.Schedule(roomID)
	}
}

// timerLoop fires due deadlines. Deadlines are compared with the
// database's clock, so replicas with skewed clocks agree.
func (s *Service) timerLoop(ctx context.Context) {
	s.everyRooms(ctx, timerPoll, s.store.DueRooms, "Could not read due timers")
}

// pendingLoop picks up inbox events no worker is handling: after a crash,
// a failed decision, or a replica that stopped between ack and decision.
func (s *Service) pendingLoop(ctx context.Context) {
	s.everyRooms(ctx, pendingSweep, s.store.PendingRooms, "Could not read pending rooms")
}

// everyRooms hands the rooms list finds to the room workers, every interval.
func (s *Service) everyRooms(ctx context.Context, interval time.Duration, list func(context.Context, int) ([]string, error), failed string) {
	s.every(ctx, interval, func() {
		rooms, err := list(ctx, 1000)
		if err != nil {
			s.warn(ctx, err).Msg(failed)
			return
		}
		s.workers.Schedule(rooms...)
	})
}

// outageLoop tells the homeserver that Walkie is back after a database
// outage made it refuse transactions: the homeserver retries them with a
// growing backoff, and the appservice ping is the one request Walkie can
// make to it about its own reachability (see docs/admin.md for what each
// homeserver does with it).
func (s *Service) outageLoop(ctx context.Context) {
	s.every(ctx, outageCheck, func() {
		if !s.server.DatabaseOutage.Load() || s.store.Ping(ctx) != nil {
			return
		}
		// Clear the flag before pinging: a transaction refused from now on
		// sets it again, and is followed by another ping.
		if !s.server.DatabaseOutage.CompareAndSwap(true, false) {
			return
		}
		took, supported, err := homeserver.Ping(ctx, s.client, s.cfg.AppService.ID, fmt.Sprintf("walkie-recovered-%d", time.Now().UnixMilli()))
		switch {
		case err != nil:
			s.server.DatabaseOutage.Store(true)
			s.warn(ctx, err).Msg("The database is back, but pinging the homeserver failed; trying again")
		case supported:
			s.log.Info().Int64("duration_ms", took.Milliseconds()).Msg("The database is back; pinged the homeserver so it delivers again")
		default:
			s.log.Info().Msg("The database is back; the homeserver has no appservice ping, it delivers at its next retry")
		}
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
	load, err := matrix.LoadStateCall.Payload()
	if err != nil {
		s.log.Error().Err(err).Msg("Could not encode a state reload")
		return
	}
	for _, room := range rooms {
		if err := s.store.Enqueue(ctx, room, store.OutboxRow{Kind: matrix.KindLoadState, Payload: load}); err != nil {
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
