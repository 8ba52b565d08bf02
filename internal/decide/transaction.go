package decide

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Received is what Transaction did with an appservice transaction.
type Received struct {
	// Replay: the transaction ID was seen before (its new events, if any,
	// were still stored: Dendrite retries under the same ID with more).
	Replay bool
	// Events were stored; Rejected were skipped as malformed.
	Events, Rejected int
	// More lists rooms with pending events left undecided (over
	// store.BatchSize, or all of them when deciding failed): the caller
	// hands them to the room workers.
	More []string
}

// Transaction makes an appservice transaction's events durable and
// decides their rooms in the same database transaction, so one commit
// does both and the homeserver's acknowledgement also means "decided".
// Other decisions waiting at the same moment may share that commit
// (batch.go); rooms are locked in sorted order. Should deciding fail, the
// events are still stored alone and left to the room workers: the
// homeserver must get its 200 for events that are safely stored. An error
// means nothing was stored (the endpoint answers 5xx and the homeserver
// retries).
func (d *Decider) Transaction(ctx context.Context, txnID string, raws []json.RawMessage) (Received, error) {
	var res Received
	events, parsed := d.parseTransaction(txnID, raws, &res)
	res.Events = len(events)
	rooms := make([]string, 0, 1)
	for _, ev := range events {
		rooms = append(rooms, ev.RoomID)
	}
	slices.Sort(rooms)
	j := &job{ctx: ctx, rooms: slices.Compact(rooms), limit: store.BatchSize,
		txn: &txnJob{id: txnID, events: events, parsed: parsed}}
	d.commits.do(j)
	if err := j.err; err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("save and decide transaction %s: %w", txnID, err)
		}
		d.log.Warn().Err(err).Str("txn_id", txnID).Msg("Could not decide on receipt; storing the events for the room workers")
		if d.metrics != nil {
			d.metrics.DecisionErrors.Inc()
		}
		replay, rooms, err := d.store.SaveTransaction(ctx, txnID, events)
		res.Replay, res.More = replay, rooms
		return res, err
	}
	res.Replay = j.txn.replay
	for _, out := range j.outs {
		if len(out.Events) == store.BatchSize {
			res.More = append(res.More, out.RoomID)
		}
	}
	return res, nil
}

// parseTransaction parses each event once: the envelopes are kept for the
// decision, and an event that cannot be parsed is skipped, loudly, so one
// broken event does not make the homeserver retry the whole transaction
// forever.
func (d *Decider) parseTransaction(txnID string, raws []json.RawMessage, res *Received) ([]store.InboxEvent, map[string]matrix.Envelope) {
	events := make([]store.InboxEvent, 0, len(raws))
	parsed := make(map[string]matrix.Envelope, len(raws))
	for _, raw := range raws {
		raw = matrix.ValidUTF8(raw)
		env, err := matrix.ParseEnvelope(raw)
		if err != nil {
			res.Rejected++
			d.log.Warn().Err(err).Str("txn_id", txnID).Msg("Skipping malformed event in transaction")
			continue
		}
		events = append(events, store.InboxEvent{EventID: env.EventID, RoomID: env.RoomID, Raw: raw})
		parsed[env.EventID] = env
	}
	return events, parsed
}
