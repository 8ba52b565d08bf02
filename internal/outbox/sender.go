// Package outbox makes the Matrix calls decisions wrote to the outbox: the
// sender leases rooms and sends their rows in order; the loader performs
// a load_state row (GET /state, a Snapshot decision) and room setup.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/store"
)

// OutboxStore is the part of the store the Sender uses.
type OutboxStore interface {
	ClaimRooms(ctx context.Context, owner string, limit int, lease time.Duration) ([]store.RoomBatch, error)
	FinishRooms(ctx context.Context, owner string, rooms []store.Finished) (dueAgain int, err error)
}

// MediaPermissions sets who may publish on a room's SFU (live mode). A
// participant that is not connected is not an error: its token cannot
// publish, and the engine allows it again when it joins.
type MediaPermissions interface {
	SetPublish(ctx context.Context, roomID string, dev floor.Device, allow bool) error
}

// Sender drains the outbox: it leases rooms, sends each room's rows in
// order, rooms in parallel, retries transient homeserver errors with
// backoff and gives up on permanent ones, so one broken room never blocks
// the others.
type Sender struct {
	Client *mautrix.Client
	Store  OutboxStore
	// Loader performs load_state and setup_power_levels rows.
	Loader *Loader
	// Media performs media_permission rows (live mode); nil when no SFU is
	// set up.
	Media MediaPermissions
	// Ready wakes the sender to claim rooms when a decision wrote rows it
	// did not hand off (the decision package's OutboxReady); nil: only
	// the poll and Wake do.
	Ready <-chan struct{}
	// Decider, when set, hands this sender the rooms its decisions find
	// idle, leased at commit with their rows (decide.HandOffTo): they are
	// sent without a claim.
	Decider *decide.Decider
	// Concurrency is how many rooms are sent to at once.
	Concurrency int
	// Lease bounds how long a claimed room stays invisible to other
	// senders; a process that dies mid-send frees its rooms after it.
	Lease time.Duration
	// Poll is the longest the sender sleeps without a wake-up (it picks up
	// retries and other replicas' rows).
	Poll    time.Duration
	Metrics *metrics.Metrics // may be nil
	Log     zerolog.Logger

	initOnce sync.Once
	owner    string
	wake     chan struct{}
	// claimDue: rooms may be due that this sender has not claimed (a
	// decision said so, the poll came, a release left a room due, or the
	// last claim filled every free slot).
	claimDue atomic.Bool
	// handOffs are the rooms Decider hands this sender while Run runs.
	handOffs atomic.Pointer[decide.HandOffs]
	finisher finisher
}

func (s *Sender) init() {
	s.initOnce.Do(func() {
		s.wake = make(chan struct{}, 1)
		s.owner = store.NewOwner()
		if s.Concurrency <= 0 {
			s.Concurrency = 16
		}
		if s.Lease <= 0 {
			s.Lease = 30 * time.Second
		}
		if s.Poll <= 0 {
			s.Poll = 500 * time.Millisecond
		}
	})
}

// Wake tells the sender new rows are waiting.
func (s *Sender) Wake() {
	s.init()
	s.claimDue.Store(true)
	s.nudge()
}

// nudge makes Run look again for work: a slot came free.
func (s *Sender) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends; rooms in flight finish first, rooms handed
// off and not yet taken are released for a claim.
//
// Rooms handed off at commit are taken first (their lease is running).
// Claims are made only when rooms may be due that nobody hands over: a
// decision said so (Ready), a release left a room due, the last claim
// filled every free slot, or Poll has passed since the last claim
// (retries whose backoff ran out, other replicas' rows, dead processes'
// leases), however busy hand-offs keep the sender.
func (s *Sender) Run(ctx context.Context) {
	s.init()
	var handOffs *decide.HandOffs
	var handedOff <-chan struct{}
	if s.Decider != nil {
		if handOffs = s.Decider.HandOffTo(s.owner, s.Lease); handOffs == nil {
			s.Log.Warn().Msg("Another outbox sender takes this process's hand-offs; this one claims rooms only")
		} else {
			handedOff = handOffs.Ready()
		}
		s.handOffs.Store(handOffs)
	}
	slots := make(chan struct{}, s.Concurrency)
	var inflight sync.WaitGroup
	defer func() {
		if handOffs != nil {
			s.handOffs.Store(nil)
			s.release(ctx, handOffs.Stop())
		}
		inflight.Wait()
	}()
	nextPoll := time.Now()
	for ctx.Err() == nil {
		if !time.Now().Before(nextPoll) {
			s.claimDue.Store(true)
		}
		free := s.Concurrency - len(slots)
		var batches []decide.HandedOff
		if handOffs != nil && free > 0 {
			batches = handOffs.Take(free)
			free -= len(batches)
		}
		if free > 0 && s.claimDue.Swap(false) {
			nextPoll = time.Now().Add(s.Poll)
			// The lease counts from the claim; measured from before it, by
			// this process's clock, the sender never thinks it has more
			// time than the database gave it.
			deadline := time.Now().Add(s.Lease)
			claimed, err := s.Store.ClaimRooms(ctx, s.owner, free, s.Lease)
			if err != nil && ctx.Err() == nil {
				s.Log.Warn().Err(err).Msg("Could not claim outbox rooms")
			}
			if len(claimed) == free {
				s.claimDue.Store(true) // there may be more
			}
			for _, b := range claimed {
				batches = append(batches, decide.HandedOff{Room: b.WithDeadline(deadline)})
			}
		}
		for _, b := range batches {
			slots <- struct{}{}
			inflight.Add(1)
			go func(b decide.HandedOff) {
				defer func() { <-slots; inflight.Done(); s.nudge() }()
				if s.deliverRoom(context.WithoutCancel(ctx), b) {
					s.claimDue.Store(true)
				}
			}(b)
		}
		if free := s.Concurrency - len(slots); free > 0 && (s.claimDue.Load() || handOffs != nil && handOffs.Waiting() > 0) {
			continue
		}
		s.wait(ctx, handedOff, nextPoll)
	}
}

// wait returns when there may be work: a slot came free, rooms were
// handed off, a decision wrote rows (a claim is then due), or the next
// poll is due (unless a claim already waits for a slot).
func (s *Sender) wait(ctx context.Context, handedOff <-chan struct{}, nextPoll time.Time) {
	var poll <-chan time.Time
	if !s.claimDue.Load() {
		timer := time.NewTimer(time.Until(nextPoll))
		defer timer.Stop()
		poll = timer.C
	}
	select {
	case <-ctx.Done():
	case <-s.wake:
	case <-handedOff:
	case <-s.Ready:
		s.claimDue.Store(true)
	case <-poll:
	}
}

// release lets go of handed-off rooms this sender will not send, so a
// claim can take them before their lease runs out.
func (s *Sender) release(ctx context.Context, rooms []decide.HandedOff) {
	if len(rooms) == 0 {
		return
	}
	finished := make([]store.Finished, len(rooms))
	for i, b := range rooms {
		finished[i] = store.Finished{Room: b.Room}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.Store.FinishRooms(ctx, s.owner, finished); err != nil {
		s.Log.Warn().Err(err).Int("rooms", len(rooms)).Msg("Could not release handed-off rooms; their leases run out")
	}
}

// deliverRoom sends a leased room's rows in order and records the results.
// It stops at the first transient failure (later rows wait for it) and
// before the lease could run out (later rows go in the next lease). It
// reports whether the room is due again at once (rows came meanwhile).
// A claimed room (no calls) has its rows' payloads decoded here.
func (s *Sender) deliverRoom(ctx context.Context, leased decide.HandedOff) (dueAgain bool) {
	b := leased.Room
	deadline := b.Deadline()
	// Each payload is decoded once; a corrupt one fails in send.
	reqs := make([]matrix.Request, len(b.Items))
	corrupt := make([]error, len(b.Items))
	for i, it := range b.Items {
		if i < len(leased.Calls) && leased.Calls[i].Kind == it.Kind {
			reqs[i] = leased.Calls[i].Request
			continue
		}
		corrupt[i] = json.Unmarshal(it.Payload, &reqs[i])
	}
	var res store.RoomResult
	log := s.Log.With().Str("room_id", b.RoomID).Logger()
	for i, it := range b.Items {
		// The send in flight and recording it must end within the lease.
		timeout := s.timeout(it.Kind)
		if time.Until(deadline) < timeout+s.Lease/4 {
			break
		}
		if supersededState(b.Items, reqs, i) {
			// A later floor state in this batch replaces it: sending it
			// would only make clients flicker through stale states.
			res.Sent = append(res.Sent, store.SentRow{ID: it.ID})
			s.observe(it, "superseded", 0)
			continue
		}
		sendStart := time.Now()
		sendCtx, cancel := context.WithTimeout(ctx, timeout)
		eventID, err := s.send(sendCtx, it, reqs[i], corrupt[i])
		cancel()
		took := time.Since(sendStart)
		switch {
		case err == nil:
			res.Sent = append(res.Sent, store.SentRow{ID: it.ID, EventID: eventID})
			s.observe(it, "sent", took)
		case isPermanent(err):
			log.Error().Err(err).Int64("outbox_id", it.ID).Str("kind", it.Kind).Msg("Homeserver refused an outgoing event; giving up on it")
			res.Failed = append(res.Failed, store.FailedRow{ID: it.ID, Cause: err.Error()})
			s.observe(it, "failed", took)
			continue
		case isUnauthorized(err):
			// The homeserver does not know the as_token (a rotation, a
			// registration not loaded, a restart in progress): nothing
			// Walkie sends can work, so the row waits, however long.
			backoff := Backoff(it.Attempts + 1)
			log.Error().Err(err).Int64("outbox_id", it.ID).Int("attempts", it.Attempts+1).Dur("backoff", backoff).
				Msg("The homeserver refuses Walkie's as_token; retrying (check appservice.as_token and the registration)")
			res.Retry = &store.RetryRow{ID: it.ID, Backoff: backoff, Cause: err.Error(), Uncounted: true}
			s.observe(it, "unauthorized", took)
		case it.Attempts+1 >= maxAttempts(it.Kind) && !uncapped(it.Kind):
			log.Error().Err(err).Int64("outbox_id", it.ID).Str("kind", it.Kind).Int("attempts", it.Attempts+1).
				Msg("Sending kept failing; giving up on it so the room's later events go out (the admin API can retry it)")
			res.Failed = append(res.Failed, store.FailedRow{ID: it.ID, Cause: fmt.Sprintf("gave up after %d attempts: %v", it.Attempts+1, err)})
			s.observe(it, "failed", took)
			continue
		default:
			backoff := Backoff(it.Attempts + 1)
			outcome := "retry"
			if isForbidden(err) {
				// Often a homeserver restarting or a power level being
				// fixed; if it stays, MaxAttempts ends it.
				outcome = "unauthorized"
			}
			log.Warn().Err(err).Int64("outbox_id", it.ID).Str("kind", it.Kind).Int("attempts", it.Attempts+1).
				Dur("backoff", backoff).Msg("Sending failed; will retry")
			res.Retry = &store.RetryRow{ID: it.ID, Backoff: backoff, Cause: err.Error()}
			s.observe(it, outcome, took)
		}
		if res.Retry != nil {
			break
		}
	}
	dueAgain, err := s.finish(ctx, b, res)
	if err != nil {
		// The lease runs out and the rows are sent again with the same txn IDs.
		log.Warn().Err(err).Msg("Could not record send results")
	}
	return dueAgain
}

func (s *Sender) observe(it store.OutboxItem, outcome string, took time.Duration) {
	if s.Metrics != nil {
		s.Metrics.ObserveSend(metrics.Send{Kind: it.Kind, Outcome: outcome, Duration: took, Latency: time.Since(it.CreatedAt)})
	}
}

// supersededState: row i is a state event and a later row of the batch
// sets the same state (type and key).
func supersededState(items []store.OutboxItem, reqs []matrix.Request, i int) bool {
	if items[i].Kind != matrix.KindState {
		return false
	}
	for j := i + 1; j < len(items); j++ {
		if items[j].Kind == matrix.KindState && reqs[j].EventType == reqs[i].EventType &&
			reqs[j].StateKeyOrEmpty() == reqs[i].StateKeyOrEmpty() {
			return true
		}
	}
	return false
}

// MaxAttempts bounds the tries of a row that keeps failing (a timeout, a
// 5xx, a 403): after about three minutes of backoff it is marked failed, so
// one row cannot hold back its room's later rows for ever. A 401 (unknown
// as_token) is retried without a bound and does not count toward it:
// nothing else could be sent either. Joins and state loads are not capped.
const MaxAttempts = 12

// mediaMaxAttempts bounds a media_permission row's tries lower: the SFU
// answers in milliseconds when it is up, the room's Matrix events wait
// behind the row, and the reconciler (internal/app) sets permissions
// right again once the SFU is back.
const mediaMaxAttempts = 3

func maxAttempts(kind string) int {
	if kind == matrix.KindMediaPermission {
		return mediaMaxAttempts
	}
	return MaxAttempts
}

// uncapped kinds are retried without bound: a join that accepts an invite
// and a state load after a join are what make a room work at all (a room
// whose load never happened stays silent, see floor's controllerGone).
func uncapped(kind string) bool { return kind == matrix.KindJoin || kind == matrix.KindLoadState }

// Timeouts of one send. A state load (GET /state of a large room, then a
// decision and the power-level setup) gets longer than one event.
const (
	sendTimeout      = 10 * time.Second
	stateLoadTimeout = 20 * time.Second
	mediaTimeout     = 2 * time.Second
)

// timeout is how long one row's send may take, within the lease.
func (s *Sender) timeout(kind string) time.Duration {
	switch kind {
	case matrix.KindLoadState:
		return min(stateLoadTimeout, s.Lease/2)
	case matrix.KindMediaPermission:
		return min(mediaTimeout, s.Lease/4)
	}
	return min(sendTimeout, s.Lease/4)
}

// Backoff grows exponentially from 500 ms to 30 s.
func Backoff(attempts int) time.Duration {
	d := 500 * time.Millisecond
	for i := 1; i < attempts && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

func (s *Sender) send(ctx context.Context, it store.OutboxItem, req matrix.Request, corrupt error) (string, error) {
	if corrupt != nil {
		return "", permanentError{fmt.Errorf("corrupt outbox payload: %w", corrupt)}
	}
	room := id.RoomID(it.RoomID)
	switch it.Kind {
	case matrix.KindState:
		resp, err := s.Client.SendStateEvent(ctx, room, stateType(req.EventType), req.StateKeyOrEmpty(), req.Content)
		return eventIDOf(resp), err
	case matrix.KindMessage:
		resp, err := s.Client.SendMessageEvent(ctx, room, messageType(req.EventType), req.Content,
			mautrix.ReqSendEvent{TransactionID: it.TxnID})
		return eventIDOf(resp), err
	case matrix.KindRedact:
		resp, err := s.Client.RedactEvent(ctx, room, id.EventID(req.EventID), mautrix.ReqRedact{Reason: req.Reason, TxnID: it.TxnID})
		return eventIDOf(resp), err
	case matrix.KindJoin:
		_, err := s.Client.JoinRoomByID(ctx, room)
		return "", err
	case matrix.KindLeave:
		_, err := s.Client.LeaveRoom(ctx, room, &mautrix.ReqLeave{Reason: req.Reason})
		return "", err
	case matrix.KindLoadState:
		if s.Loader == nil {
			return "", permanentError{errors.New("no state loader configured")}
		}
		return "", s.Loader.Load(ctx, it.RoomID)
	case matrix.KindSetupPowerLevels:
		if s.Loader == nil {
			return "", permanentError{errors.New("no state loader configured")}
		}
		return "", s.Loader.SetUpPowerLevels(ctx, it.RoomID)
	case matrix.KindMediaPermission:
		switch {
		case s.Media == nil:
			return "", permanentError{errors.New("a live-mode permission, but no SFU is set up (config livekit)")}
		case req.Device == nil:
			return "", permanentError{errors.New("a media_permission row without a device")}
		}
		return "", s.Media.SetPublish(ctx, it.RoomID, *req.Device, req.Allow)
	}
	return "", permanentError{fmt.Errorf("unknown outbox kind %q", it.Kind)}
}

func eventIDOf(resp *mautrix.RespSendEvent) string {
	if resp == nil {
		return ""
	}
	return resp.EventID.String()
}

func stateType(t string) event.Type   { return event.Type{Type: t, Class: event.StateEventType} }
func messageType(t string) event.Type { return event.Type{Type: t, Class: event.MessageEventType} }

// permanentError marks failures that retrying cannot fix.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// isPermanent: 4xx answers will not change by retrying, except 429 and
// 408, and 401 and 403, which token rotations, registrations being loaded
// and homeserver restarts cause; network errors and 5xx will change too.
func isPermanent(err error) bool {
	var pe permanentError
	if errors.As(err, &pe) {
		return true
	}
	switch code := statusOf(err); code {
	case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusUnauthorized, http.StatusForbidden:
		return false
	default:
		return code >= 400 && code < 500
	}
}

func isUnauthorized(err error) bool { return statusOf(err) == http.StatusUnauthorized }
func isForbidden(err error) bool    { return statusOf(err) == http.StatusForbidden }

// statusOf is the homeserver's HTTP status in err (0 when none).
func statusOf(err error) int {
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		return httpErr.Response.StatusCode
	}
	return 0
}
