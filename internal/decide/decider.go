// Package decide is where every floor decision is made, and the only
// place: it locks a room in the store, translates the room's events with
// the Matrix codec, runs the floor engine, renders the effects into
// outbound calls, fires due deadlines, and commits it all in one database
// transaction. The appservice endpoint, the room workers, the timer loop
// and the state loader are its callers; the store and the codec never call
// back into it.
package decide

import (
	"context"
	"crypto/rand"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Permissions says what a user may do with Walkie (config.Config has it).
type Permissions interface {
	PermissionLevel(userID string) config.Level
}

// Options configure a Decider.
type Options struct {
	Store *store.Store
	// Controller is the bot's user ID.
	Controller  string
	Permissions Permissions
	// ManagePowerLevels is config floor.manage_power_levels: the engine
	// sets rooms up only with it (floor.Env.ManagePowerLevels).
	ManagePowerLevels bool
	// LiveKitServiceURL is the MatrixRTC token service live rooms' floor
	// state names (floor.FloorState.LiveKitServiceURL); empty when no SFU
	// is set up, and then no room may switch to live mode.
	LiveKitServiceURL string
	Metrics           *metrics.Metrics
	Log               zerolog.Logger
}

// Decider makes floor decisions. It is safe for concurrent use: the room
// row lock in PostgreSQL serialises each room, across processes too.
type Decider struct {
	store       *store.Store
	controller  string
	permissions Permissions
	manage      bool   // Options.ManagePowerLevels
	liveService string // Options.LiveKitServiceURL
	metrics     *metrics.Metrics
	log         zerolog.Logger
	outboxReady chan struct{}
	commits     *committer // decisions share commits through it (batch.go)
	// floorChanges and floorLost: see FloorChanges.
	floorChanges chan FloorChange
	floorLost    atomic.Bool
	// origin names this Decider in its notifications
	// (store.FloorNotice.Origin); see Origin.
	origin string
	// handOffs is the outbox sender that takes idle rooms at commit, nil
	// when none does (handoff.go).
	handOffs atomic.Pointer[HandOffs]
	// fault, when set, adds calls to an event's translation, or panics:
	// tests inject the faults a bug or a missed input would cause here
	// (export_test.go). It is nil in a running service.
	fault func(env matrix.Envelope) []matrix.Call
}

// New makes a Decider.
func New(opts Options) *Decider {
	d := &Decider{
		store: opts.Store, controller: opts.Controller, permissions: opts.Permissions, manage: opts.ManagePowerLevels,
		liveService: opts.LiveKitServiceURL,
		metrics:     opts.Metrics, log: opts.Log, outboxReady: make(chan struct{}, 1),
		floorChanges: make(chan FloorChange, floorChangesBuffer),
		origin:       rand.Text(),
	}
	d.commits = newCommitter(d)
	return d
}

// OutboxReady receives a value after a commit that wrote outbox rows it
// did not hand off (HandOffTo): the sender claims them then instead of
// at its next poll.
func (d *Decider) OutboxReady() <-chan struct{} { return d.outboxReady }

// Outcome is what one room's committed decision did.
type Outcome struct {
	RoomID string
	// Events are the inbox events decided.
	Events []store.InboxEvent
	Log    []floor.LogEntry
	// Calls is how many outbox rows were written.
	Calls  int
	Ticked bool
	// CommittedAt is the database clock when the decision's writes were
	// done (just before the commit); with InboxEvent.ReceivedAt, from the
	// same clock, it gives the decision latency.
	CommittedAt time.Time
	// HolderBefore is a copy of the holder before the decision (nil when
	// idle).
	HolderBefore *floor.Holder
	// After is the room after commit (nil when nothing happened).
	After *floor.Room
	// Floor is the floor state the decision published to the room (the
	// latest, when it published several), nil when none; FloorVersion is
	// its Room.FloorVersion.
	Floor        *floor.FloorState
	FloorVersion int64
	// Answers are the answers to the floor-channel requests among the
	// inputs (Response.Channel names each): they went nowhere else.
	Answers []floor.Response
	// Later are answers to floor-channel requests decided earlier
	// (Response.Later): FloorChanges and the database's notifications
	// take them to the sockets of their devices.
	Later []floor.Response
	// joined: the controller is in the room after the decision.
	joined bool
	// handOff is the room's rows leased to the outbox sender at commit
	// (nil: none asked for).
	handOff *handOff
}

// Decide decides a room's inputs, then its pending events (up to
// store.BatchSize) and due deadlines, in one transaction. more is true
// when further events wait.
func (d *Decider) Decide(ctx context.Context, roomID string, inputs ...floor.Input) (out Outcome, more bool, err error) {
	out, err = d.decideOne(ctx, roomID, store.BatchSize, inputs)
	return out, len(out.Events) == store.BatchSize, err
}

// DecideInputs decides only the given inputs (and due deadlines), leaving
// pending events to the room workers: a failure is then the inputs' own.
func (d *Decider) DecideInputs(ctx context.Context, roomID string, inputs ...floor.Input) (Outcome, error) {
	return d.decideOne(ctx, roomID, 0, inputs)
}

func (d *Decider) decideOne(ctx context.Context, roomID string, limit int, inputs []floor.Input) (Outcome, error) {
	return d.decideChecked(ctx, roomID, limit, inputs, nil)
}

// decideChecked decides a room in the next commit that has room for it,
// which other rooms' decisions may share (batch.go). When check (if set)
// finds fault with the decision, it is rolled back: the batch is decided
// again without it, and it alone, to return check's error.
func (d *Decider) decideChecked(ctx context.Context, roomID string, limit int, inputs []floor.Input, check func(Outcome) error) (Outcome, error) {
	j := &job{ctx: ctx, rooms: []string{roomID}, limit: limit, inputs: inputs, check: check}
	d.commits.do(j)
	if j.err != nil {
		return Outcome{}, j.err
	}
	return j.outs[0], nil
}

// committed tells metrics, the log and the outbox sender about a
// committed decision.
func (d *Decider) committed(out Outcome) {
	if d.metrics != nil {
		dec := metrics.Decision{Changed: out.After != nil, Ticked: out.Ticked, CommittedAt: out.CommittedAt,
			HolderBefore: out.HolderBefore, Log: out.Log}
		for _, ev := range out.Events {
			dec.Received = append(dec.Received, ev.ReceivedAt)
		}
		d.metrics.ObserveOutcome(dec)
	}
	if out.Calls > 0 && !d.handOver(out) {
		select {
		case d.outboxReady <- struct{}{}:
		default:
		}
	}
	d.publishFloor(out)
	for _, e := range out.Log {
		d.log.Debug().Str("room_id", out.RoomID).Str("action", string(e.Action)).Str("user_id", e.Device.UserID).
			Str("device_id", e.Device.DeviceID).Int64("term", e.Term).Str("reason", string(e.Reason)).Msg("Floor decision")
	}
}
