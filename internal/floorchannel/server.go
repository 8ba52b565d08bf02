// Package floorchannel is the floor channel: a WebSocket at
// /_walkie/v1/floor on the client-facing listener, where a client
// authenticated with a Matrix OpenID token asks for the floor and follows
// rooms' floor states without the homeserver's round trips
// (docs/protocol.md, "Floor channel"). It is an accelerator, never the
// record: a request sent here is decided by internal/decide like a
// talk_request, under the same room lock and in the same kind of database
// transaction, and the floor state still goes to the room.
//
// Pushes come from two sources: this process's decisions
// (decide.Decider.FloorChanges, right after each commit) and the
// notifications of every process's decisions (store.ListenFloor, PostgreSQL
// NOTIFY), so a replica pushes what another one decided. Each socket gets a
// room's states in version order (floor.Room.FloorVersion), each once.
// Both sources also carry the decisions' later answers to channel requests
// (a grant from the queue, say): the sockets of the answer's device that
// follow the room get them just before the floor state they came with
// (hub.deliver).
package floorchannel

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/openid"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Path is where the channel is served on the client-facing listener.
const Path = "/_walkie/v1/floor"

// Verifier checks OpenID tokens (openid.Verifier).
type Verifier interface {
	Verify(ctx context.Context, tok openid.Token) (string, error)
}

// Options configure a Server.
type Options struct {
	Decider  *decide.Decider
	Store    *store.Store
	Verifier Verifier
	// PublicURL is the client's public URL (web.public_url): pages from
	// its origin may connect. AllowedOrigins are more origins
	// (scheme://host[:port]) whose pages may; "*" allows any.
	PublicURL      string
	AllowedOrigins []string
	// MaxSocketsPerUser bounds one user's authenticated sockets; MaxSockets
	// all sockets, authenticated or not. Zero means config's default
	// (config.DefaultMaxSocketsPerUser, config.DefaultMaxSockets).
	MaxSocketsPerUser int
	MaxSockets        int
	// Metrics, when set, counts sockets, failures, messages and pushes.
	Metrics *metrics.Channel
	Log     zerolog.Logger
	// Timings; zero means the default (tests shorten them).
	AuthTimeout  time.Duration // 10 s (PROTOCOL.md)
	PingInterval time.Duration // 30 s
	// MemberCheck is how often followed rooms are read to drop followers
	// who left them (30 s).
	MemberCheck time.Duration
}

// Defaults of Options; the socket bounds' are config's.
const (
	defaultAuthTimeout  = 10 * time.Second
	defaultPingInterval = 30 * time.Second
	defaultMemberCheck  = 30 * time.Second
)

// Limits of one socket.
const (
	// maxMessageBytes bounds a client message (an auth message with its
	// token is a few hundred bytes); a longer one closes the socket (1009).
	maxMessageBytes = 4096
	// Messages per socket: a burst of burstMessages, then messageRate a
	// second. Past it a message is refused with M_LIMIT_EXCEEDED, and a
	// client that goes on regardless is disconnected.
	burstMessages = 20
	messageRate   = 5
	maxRefused    = 50
	// maxSubscriptions bounds the rooms one socket follows.
	maxSubscriptions = 64
	// outboundQueue is how many messages may wait for a slow socket
	// before it is disconnected instead of holding everyone up.
	outboundQueue = 256
	writeTimeout  = 10 * time.Second
	// verifyTimeout bounds the homeserver's answer to an auth.
	verifyTimeout = 10 * time.Second
)

// Server serves the floor channel. Run must run for pushes to flow.
type Server struct {
	opts      Options
	origins   map[string]bool // allowed Origin values, "scheme://host[:port]", lower case
	anyOrigin bool
	hub       hub
	log       zerolog.Logger

	mu      sync.Mutex
	sockets int
	closing bool
}

// New makes a Server.
func New(opts Options) *Server {
	if opts.MaxSocketsPerUser <= 0 {
		opts.MaxSocketsPerUser = config.DefaultMaxSocketsPerUser
	}
	if opts.MaxSockets <= 0 {
		opts.MaxSockets = config.DefaultMaxSockets
	}
	if opts.AuthTimeout <= 0 {
		opts.AuthTimeout = defaultAuthTimeout
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = defaultPingInterval
	}
	if opts.MemberCheck <= 0 {
		opts.MemberCheck = defaultMemberCheck
	}
	s := &Server{opts: opts, origins: map[string]bool{}, log: opts.Log, hub: newHub(opts.Metrics)}
	for _, o := range append([]string{opts.PublicURL}, opts.AllowedOrigins...) {
		if o == "*" {
			s.anyOrigin = true
			continue
		}
		if origin, ok := originOf(o); ok {
			s.origins[origin] = true
		}
	}
	return s
}

// originOf is a URL's origin as browsers send it: scheme://host[:port],
// lower case, the default port left out.
func originOf(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "https" && strings.HasSuffix(host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return strings.ToLower(u.Scheme) + "://" + host, true
}

// originAllowed: no Origin (not a browser: the token is the credential,
// and no cookie rides along), a listed one, or the page's own host.
func (s *Server) originAllowed(r *http.Request) bool {
	raw := r.Header.Get("Origin")
	if raw == "" || s.anyOrigin {
		return true
	}
	origin, ok := originOf(raw)
	if !ok {
		return false
	}
	if s.origins[origin] {
		return true
	}
	_, host, _ := strings.Cut(origin, "://")
	return strings.EqualFold(host, r.Host)
}

// ServeHTTP upgrades a request to a floor-channel socket and serves it
// until it closes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.originAllowed(r) {
		http.Error(w, "this origin may not use the floor channel (web.floor_channel.allowed_origins)", http.StatusForbidden)
		return
	}
	if !s.admit() {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many floor-channel sockets; try again later", http.StatusServiceUnavailable)
		return
	}
	defer s.leave()
	// The origin is checked above, against the configured list.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the request
	}
	ws.SetReadLimit(maxMessageBytes)
	newConn(s, ws).serve()
}

func (s *Server) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.sockets >= s.opts.MaxSockets {
		return false
	}
	s.sockets++
	if s.opts.Metrics != nil {
		s.opts.Metrics.Sockets.Inc()
	}
	return true
}

func (s *Server) leave() {
	s.mu.Lock()
	s.sockets--
	s.mu.Unlock()
	if s.opts.Metrics != nil {
		s.opts.Metrics.Sockets.Dec()
	}
}

// authFailed counts a socket closed at authentication.
func (s *Server) authFailed(reason string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.AuthFailures.WithLabelValues(reason).Inc()
	}
}

// received counts a message of an authenticated socket.
func (s *Server) received(messageType string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.Messages.WithLabelValues(messageType).Inc()
	}
}

// Run pushes floor changes to the sockets until ctx ends, then closes
// every socket ("going away"): an http.Server's Shutdown does not close
// hijacked connections.
func (s *Server) Run(ctx context.Context) {
	s.mu.Lock()
	s.closing = false // a Run after another serves again
	s.mu.Unlock()
	notices := make(chan store.FloorNotice, 256)
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		_ = s.opts.Store.ListenFloor(ctx, notices) // returns ctx's error
	}()
	changes := s.opts.Decider.FloorChanges()
	memberCheck := time.NewTicker(s.opts.MemberCheck)
	defer memberCheck.Stop()
	for {
		select {
		case <-memberCheck.C:
			go s.checkMembers(ctx)
		case <-ctx.Done():
			s.mu.Lock()
			s.closing = true
			s.mu.Unlock()
			s.hub.closeAll(websocket.StatusGoingAway, "Walkie is shutting down")
			<-listening
			return
		case ch := <-changes:
			s.hub.deliver(ch.RoomID, ch.Answers, ch.Version, ch.Floor)
			if s.opts.Decider.FloorChangesLost() {
				s.log.Warn().Msg("Floor changes were dropped before they reached the floor channel; reading every followed room")
				go s.resync(ctx)
			}
		case n := <-notices:
			switch {
			case n.Resync:
				if n.Lost != nil {
					s.log.Warn().Err(n.Lost).Msg("The floor channel's database listener reconnected; reading every followed room")
				}
				go s.resync(ctx)
			case n.Floor != nil:
				s.hub.deliver(n.RoomID, n.LaterAnswers(), n.Version, n.Floor)
			case len(n.Answers) > 0:
				// Answers of a decision that published no floor state:
				// no version tells the copies apart, so this process's
				// own come through changes only.
				if n.Origin != s.opts.Decider.Origin() {
					s.hub.deliver(n.RoomID, n.LaterAnswers(), n.Version, nil)
				}
			default:
				go s.refresh(ctx, n.RoomID)
			}
		}
	}
}

// resync reads every followed room and pushes what sockets have not seen.
func (s *Server) resync(ctx context.Context) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.Resyncs.Inc()
	}
	for _, roomID := range s.hub.followedRooms() {
		s.refresh(ctx, roomID)
	}
}

// checkMembers drops the followers of each followed room who are no
// longer joined to it (or whose room Walkie left), telling them why.
func (s *Server) checkMembers(ctx context.Context) {
	for _, roomID := range s.hub.followedRooms() {
		room, joined, err := s.opts.Store.Room(ctx, roomID)
		if err != nil {
			continue // the next check tries again
		}
		s.hub.dropFollowers(roomID, func(user string) bool { return !joined || room.Members[user] != "join" },
			errorPush(clientMessage{RoomID: roomID}, &protocolError{code: errForbidden, msg: "you are no longer joined to this room"}))
	}
}

// refresh reads a room's floor state and pushes it to the sockets that
// have not seen it.
func (s *Server) refresh(ctx context.Context, roomID string) {
	room, _, err := s.opts.Store.Room(ctx, roomID)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn().Err(err).Str("room_id", roomID).Msg("Could not read a room's floor state for the floor channel")
		}
		return
	}
	s.hub.publish(roomID, room.FloorVersion, s.opts.Decider.PublishedFloor(room, time.Now()))
}

// Sockets is how many sockets are open (authenticated or not).
func (s *Server) Sockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sockets
}
