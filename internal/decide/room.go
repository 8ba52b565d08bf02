package decide

import (
	"fmt"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// decideRoom is one room's decision inside a transaction: lock the room
// (behind the writes of rooms decided before in the same transaction),
// apply the inputs, then up to limit pending events (each at its own
// time), then due deadlines, and queue the writes. parsed holds envelopes
// the caller already parsed, by event ID, so an event is parsed once.
// out.After stays nil when there was nothing to decide.
func (d *Decider) decideRoom(tx *store.Tx, roomID string, limit int, inputs []floor.Input, parsed map[string]matrix.Envelope) (Outcome, error) {
	out := Outcome{RoomID: roomID}
	locked, err := tx.LockRoom(roomID, limit)
	if err != nil {
		return out, err
	}
	room, joined, now := locked.Room, locked.Joined, locked.Now
	if room.Holder != nil {
		h := *room.Holder
		out.HolderBefore = &h
	}

	var envErr error
	env := floor.Env{Now: now, ManagePowerLevels: d.manage, LiveAvailable: d.liveService != "", BusyElsewhere: func(dev floor.Device) bool {
		busy, err := tx.BusyElsewhere(roomID, dev)
		if err != nil && envErr == nil {
			envErr = err
		}
		return busy
	}}
	var calls []matrix.Call
	var published *floor.FloorState // the latest floor state for the room
	decide := func(in floor.Input, env floor.Env) {
		dec := floor.Decide(room, in, env)
		room = dec.Room
		out.Log = append(out.Log, dec.Log...)
		for _, eff := range dec.Effects {
			switch {
			case eff.ToChannel() && eff.Response.Later:
				out.Later = append(out.Later, *eff.Response)
			case eff.ToChannel():
				out.Answers = append(out.Answers, *eff.Response)
			case eff.Kind == floor.EffectFloorState:
				published = eff.Floor
			}
		}
		calls = append(calls, d.render(roomID, dec.Effects)...)
	}
	for _, in := range inputs {
		decide(in, env)
	}
	for _, ev := range locked.Events {
		envelope, ok := parsed[ev.EventID]
		if !ok {
			var err error
			if envelope, err = matrix.ParseEnvelope(ev.Raw); err != nil {
				d.log.Warn().Err(err).Str("event_id", ev.EventID).Msg("Ignoring malformed event")
				continue
			}
		}
		tr := d.translate(room, envelope)
		if tr.joined != nil {
			joined = *tr.joined
		}
		// The engine dates the event by when it was sent and arrived,
		// not by this decision, which may come late (a backlog).
		eventEnv := env
		eventEnv.Sent, eventEnv.Received = matrix.SentAt(envelope), ev.ReceivedAt
		for _, in := range tr.inputs {
			decide(in, eventEnv)
		}
		calls = append(calls, tr.calls...)
	}
	// Deadlines due between the events and now fire now. The Tick also
	// ends the decision at now, so the next one dates no event earlier.
	if due := room.NextDeadline(); !due.IsZero() && !due.After(now) {
		out.Ticked = true
	}
	if out.Ticked || len(locked.Events) > 0 {
		decide(floor.Tick{}, env)
	}
	if envErr != nil {
		return out, envErr
	}
	if len(inputs) == 0 && len(locked.Events) == 0 && !out.Ticked {
		return out, nil // nothing happened (another replica got here first)
	}
	rows, err := encode(calls)
	if err != nil {
		return out, err
	}
	if err := tx.SaveRoom(room, joined, now); err != nil {
		return out, err
	}
	tx.AppendLog(roomID, out.Log)
	tx.AppendOutbox(roomID, rows)
	out.handOff = d.leaseOutbox(tx, roomID, calls)
	tx.MarkDecided(locked.Events)
	// Other processes push the floor state and the later answers to
	// their floor-channel sockets when this commits.
	tx.NotifyDecision(roomID, d.origin, room.FloorVersion, published, out.Later)
	if published != nil {
		out.Floor, out.FloorVersion = published, room.FloorVersion
	}
	out.Events, out.Calls, out.After, out.joined = locked.Events, len(rows), room, joined
	return out, nil
}

// render turns a decision's effects into calls, in the engine's order
// (a grant's floor state first, any other last: the engine decides that).
// Answers for the floor channel are not calls: they go back to the socket.
func (d *Decider) render(roomID string, effects []floor.Effect) []matrix.Call {
	var calls []matrix.Call
	for _, eff := range effects {
		if eff.ToChannel() {
			continue
		}
		if eff.Kind == floor.EffectFloorState {
			d.completeFloor(eff.Floor) // the room's published floor too: it is this one
		}
		c, ok := matrix.Render(eff)
		if !ok {
			d.log.Error().Str("room_id", roomID).Str("kind", string(eff.Kind)).Msg("Unknown effect kind; dropped")
			continue
		}
		calls = append(calls, c)
	}
	return calls
}

// encode makes outbox rows of calls.
func encode(calls []matrix.Call) ([]store.OutboxRow, error) {
	rows := make([]store.OutboxRow, len(calls))
	for i, c := range calls {
		payload, err := c.Payload()
		if err != nil {
			return nil, store.Poison(fmt.Errorf("encode %s call: %w", c.Kind, err))
		}
		rows[i] = store.OutboxRow{Kind: c.Kind, Payload: payload}
	}
	return rows, nil
}
