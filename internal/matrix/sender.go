package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/store"
)

// OutboxStore is the part of the store the Sender uses.
type OutboxStore interface {
	Claim(ctx context.Context, limit int, lease time.Duration) ([]store.OutboxItem, error)
	MarkSent(ctx context.Context, id int64, eventID string) error
	MarkRetry(ctx context.Context, id int64, backoff time.Duration, cause string) error
	MarkFailed(ctx context.Context, id int64, cause string) error
}

// SendResult describes one attempt, for metrics.
type SendResult struct {
	Kind     string
	Outcome  string // "sent", "retry", "failed"
	Duration time.Duration
	Latency  time.Duration // from the row's creation (decision) to this attempt's end
}

// Sender drains the outbox: it sends each room's rows in order, rooms in
// parallel, retries transient homeserver errors with backoff and gives up on
// permanent ones, so one broken room never blocks the others.
type Sender struct {
	Client *mautrix.Client
	Store  OutboxStore
	// LoadState performs a load_state action (GET /state and a Snapshot
	// decision, then room setup).
	LoadState   func(ctx context.Context, roomID string) error
	Concurrency int
	// Lease bounds how long a claimed row stays invisible to other
	// senders; a process that dies mid-send frees its rows after it.
	Lease time.Duration
	// Poll is the longest the sender sleeps without a wake-up (it picks up
	// retries and other replicas' rows).
	Poll    time.Duration
	Observe func(SendResult)
	Log     zerolog.Logger

	wakeOnce sync.Once
	wake     chan struct{}
}

func (s *Sender) init() {
	s.wakeOnce.Do(func() {
		s.wake = make(chan struct{}, 1)
		if s.Concurrency <= 0 {
			s.Concurrency = 16
		}
		if s.Lease <= 0 {
			s.Lease = 60 * time.Second
		}
		if s.Poll <= 0 {
			s.Poll = 500 * time.Millisecond
		}
	})
}

// Wake tells the sender new rows are waiting.
func (s *Sender) Wake() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx ends; in-flight sends finish first.
func (s *Sender) Run(ctx context.Context) {
	s.init()
	slots := make(chan struct{}, s.Concurrency)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for ctx.Err() == nil {
		free := s.Concurrency - len(slots)
		var items []store.OutboxItem
		if free > 0 {
			var err error
			items, err = s.Store.Claim(ctx, free, s.Lease)
			if err != nil && ctx.Err() == nil {
				s.Log.Warn().Err(err).Msg("Could not claim outbox rows")
			}
		}
		for _, it := range items {
			slots <- struct{}{}
			inflight.Add(1)
			go func(it store.OutboxItem) {
				defer func() { <-slots; inflight.Done(); s.Wake() }()
				s.deliver(context.WithoutCancel(ctx), it)
			}(it)
		}
		if len(items) > 0 && len(items) == free {
			continue // there may be more
		}
		timer := time.NewTimer(s.Poll)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (s *Sender) deliver(ctx context.Context, it store.OutboxItem) {
	start := time.Now()
	// A send must not hang past its lease, or another sender may start it too.
	sendCtx, cancel := context.WithTimeout(ctx, s.Lease/2)
	eventID, err := s.send(sendCtx, it)
	cancel()
	res := SendResult{Kind: it.Kind, Duration: time.Since(start), Latency: time.Since(it.CreatedAt)}
	log := s.Log.With().Int64("outbox_id", it.ID).Str("room_id", it.RoomID).Str("kind", it.Kind).Logger()
	var markErr error
	switch {
	case err == nil:
		res.Outcome = "sent"
		markErr = s.Store.MarkSent(ctx, it.ID, eventID)
	case isPermanent(err):
		res.Outcome = "failed"
		log.Error().Err(err).Int("attempts", it.Attempts).Msg("Homeserver refused an outgoing event; giving up on it")
		markErr = s.Store.MarkFailed(ctx, it.ID, err.Error())
	default:
		res.Outcome = "retry"
		backoff := Backoff(it.Attempts)
		log.Warn().Err(err).Int("attempts", it.Attempts).Dur("backoff", backoff).Msg("Sending failed; will retry")
		markErr = s.Store.MarkRetry(ctx, it.ID, backoff, err.Error())
	}
	if markErr != nil {
		// The lease runs out and the row is sent again with the same txn ID.
		log.Warn().Err(markErr).Msg("Could not record send result")
	}
	if s.Observe != nil {
		s.Observe(res)
	}
}

// Backoff grows exponentially from 500 ms to 30 s.
func Backoff(attempts int) time.Duration {
	d := 500 * time.Millisecond
	for i := 1; i < attempts && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

func (s *Sender) send(ctx context.Context, it store.OutboxItem) (string, error) {
	var req Request
	if err := json.Unmarshal(it.Payload, &req); err != nil {
		return "", permanentError{fmt.Errorf("corrupt outbox payload: %w", err)}
	}
	room := idRoom(it.RoomID)
	switch it.Kind {
	case KindState:
		key := ""
		if req.StateKey != nil {
			key = *req.StateKey
		}
		resp, err := s.Client.SendStateEvent(ctx, room, stateType(req.EventType), key, req.Content)
		return eventIDOf(resp), err
	case KindMessage:
		resp, err := s.Client.SendMessageEvent(ctx, room, messageType(req.EventType), req.Content,
			mautrix.ReqSendEvent{TransactionID: it.TxnID})
		return eventIDOf(resp), err
	case KindRedact:
		resp, err := s.Client.RedactEvent(ctx, room, idEvent(req.EventID), mautrix.ReqRedact{Reason: req.Reason, TxnID: it.TxnID})
		return eventIDOf(resp), err
	case KindJoin:
		_, err := s.Client.JoinRoomByID(ctx, room)
		return "", err
	case KindLeave:
		_, err := s.Client.LeaveRoom(ctx, room, &mautrix.ReqLeave{Reason: req.Reason})
		return "", err
	case KindLoadState:
		if s.LoadState == nil {
			return "", permanentError{errors.New("no state loader configured")}
		}
		return "", s.LoadState(ctx, it.RoomID)
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

// isPermanent: 4xx answers other than 429 (and 408) will not change by
// retrying; network errors, 429 and 5xx will.
func isPermanent(err error) bool {
	var pe permanentError
	if errors.As(err, &pe) {
		return true
	}
	var httpErr mautrix.HTTPError
	if errors.As(err, &httpErr) && httpErr.Response != nil {
		code := httpErr.Response.StatusCode
		return code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout
	}
	return false
}
