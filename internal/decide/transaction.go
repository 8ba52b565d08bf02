package decide

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

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
// Rooms are locked in sorted order. Should deciding fail, the events are
// still stored alone and left to the room workers: the homeserver must
// get its 200 for events that are safely stored. An error means nothing
// was stored (the endpoint answers 5xx and the homeserver retries).
func (d *Decider) Transaction(ctx context.Context, txnID string, raws []json.RawMessage) (Received, error) {
	var res Received
	events, parsed := d.parseTransaction(txnID, raws, &res)
	res.Events = len(events)
	var outs []Outcome
	committed, err := d.store.InTx(ctx, func(tx *store.Tx) error {
		outs, res.More = nil, nil
		replay, rooms, err := tx.SaveTransaction(txnID, events)
		if err != nil {
			return err
		}
		res.Replay = replay
		sort.Strings(rooms)
		for _, roomID := range rooms {
			// The rooms decided so far are written before this one is
			// read (LockRoom sends the queued writes first): a device
			// granted (or released) there is busy (or free) here.
			out, err := d.decideRoom(tx, roomID, store.BatchSize, nil, parsed)
			if err != nil {
				return err
			}
			outs = append(outs, out)
			if len(out.Events) == store.BatchSize {
				res.More = append(res.More, roomID)
			}
		}
		return nil
	})
	if err != nil {
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
	for _, out := range outs {
		out.CommittedAt = committed
		d.committed(out)
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
