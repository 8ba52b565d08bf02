package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/fakehs"
)

// OutboxRow is one outbox row.
type OutboxRow struct {
	ID      int64
	RoomID  string
	Kind    string
	Request matrix.Request
	Sent    bool
	// SentEventID is the homeserver's answer; empty for a row marked sent
	// without a send (a floor state superseded by a later one).
	SentEventID string
	Failed      bool
	Attempts    int
}

// ReadOutbox returns every outbox row in id order.
func ReadOutbox(ctx context.Context, db Querier) ([]OutboxRow, error) {
	rows, err := db.Query(ctx, `SELECT id, room_id, kind, payload::text, sent_at IS NOT NULL,
		coalesce(sent_event_id, ''), failed, attempts FROM outbox ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (OutboxRow, error) {
		var r OutboxRow
		var payload string
		if err := row.Scan(&r.ID, &r.RoomID, &r.Kind, &payload, &r.Sent, &r.SentEventID, &r.Failed, &r.Attempts); err != nil {
			return r, err
		}
		return r, json.Unmarshal([]byte(payload), &r.Request)
	})
}

// DeliveryAudit compares what the homeserver applied with the outbox.
type DeliveryAudit struct {
	// Delivered rows were applied exactly once.
	Delivered int
	// Resent counts state events applied again while the room's state
	// already was their content: the re-send of rows whose sending a crash
	// cut off. State events carry no transaction ID; the repeat changes
	// nothing. (An older state applied after a newer one is Unexpected.)
	Resent int
	// Unsent rows are neither sent nor given up: the outbox did not drain.
	Unsent []string
	// Undelivered rows are marked sent, yet the homeserver never applied them.
	Undelivered []string
	// Unexpected deliveries match no row, or arrived out of the room's order.
	Unexpected []string
}

// Problems lists every violation.
func (a DeliveryAudit) Problems() []string {
	var out []string
	out = append(out, a.Unsent...)
	out = append(out, a.Undelivered...)
	return append(out, a.Unexpected...)
}

// AuditDeliveries walks each room's deliveries against its outbox rows:
// rows are sent in id order per room, so the homeserver must have applied
// exactly the room's rows, in order, each once (after deduplication by
// transaction ID). Rows given up as failed are skipped, and so may be a
// state row the sender marked sent without sending because a later row sets
// the same state. txnID is the store's derivation of a row's Matrix
// transaction ID.
func AuditDeliveries(rows []OutboxRow, deliveries []fakehs.Delivery, txnID func(int64) string) DeliveryAudit {
	var a DeliveryAudit
	superseded := supersededRows(rows)
	byRoom := map[string][]OutboxRow{}
	for _, r := range rows {
		if !r.Sent && !r.Failed {
			a.Unsent = append(a.Unsent, fmt.Sprintf("outbox %d (%s in %s) was never sent", r.ID, r.Kind, r.RoomID))
		}
		switch r.Kind {
		case matrix.KindMessage, matrix.KindRedact, matrix.KindState:
			if !r.Failed {
				byRoom[r.RoomID] = append(byRoom[r.RoomID], r)
			}
		}
	}
	delivered := map[string][]fakehs.Delivery{}
	for _, d := range deliveries {
		delivered[d.RoomID] = append(delivered[d.RoomID], d)
	}
	roomIDs := map[string]bool{}
	for id := range byRoom {
		roomIDs[id] = true
	}
	for id := range delivered {
		roomIDs[id] = true
	}
	for _, roomID := range sortedKeys(roomIDs) {
		want, got := byRoom[roomID], delivered[roomID]
		optional := make([]bool, len(want))
		for i, r := range want {
			optional[i] = superseded[r.ID]
		}
		next := 0
		current := map[string]OutboxRow{} // the state each type/key was last set to
		for _, d := range got {
			j := nextMatch(want, optional, next, d, txnID)
			switch {
			case j >= 0:
				if want[j].Kind == matrix.KindState {
					current[d.EventType+"|"+d.StateKey] = want[j]
				}
				next = j + 1
				a.Delivered++
			case d.Kind == matrix.KindState && isCurrent(current, d, txnID):
				a.Resent++
			default:
				expect := "nothing more"
				if next < len(want) {
					expect = fmt.Sprintf("outbox %d (%s)", want[next].ID, want[next].Kind)
				}
				a.Unexpected = append(a.Unexpected, fmt.Sprintf("%s: homeserver applied %s %s (txn %q, event %s) where %s was due",
					roomID, d.Kind, d.EventType, d.TxnID, d.EventID, expect))
			}
		}
		for i, r := range want[next:] {
			if r.Sent && !optional[next+i] {
				a.Undelivered = append(a.Undelivered, fmt.Sprintf("outbox %d (%s in %s) is marked sent but never reached the homeserver",
					r.ID, r.Kind, roomID))
			}
		}
	}
	return a
}

// nextMatch finds the row delivery d is: the first row from next that
// matches it, passing over only rows the sender may have skipped. Equal
// state rows in a row are common (a restart republishes the floor); the
// homeserver's event ID recorded on a row tells which of them d was.
// It returns -1 when d is none of them.
func nextMatch(want []OutboxRow, optional []bool, next int, d fakehs.Delivery, txnID func(int64) string) int {
	found := -1
	for j := next; j < len(want); j++ {
		if matches(want[j], d, txnID) {
			if want[j].SentEventID == d.EventID {
				return j
			}
			if found < 0 {
				found = j
			}
		}
		if !optional[j] {
			break
		}
	}
	return found
}

// isCurrent reports whether state delivery d sets what the room's state
// already is: a re-send that changes nothing.
func isCurrent(current map[string]OutboxRow, d fakehs.Delivery, txnID func(int64) string) bool {
	r, ok := current[d.EventType+"|"+d.StateKey]
	return ok && matches(r, d, txnID)
}

// supersededRows finds the state rows that were marked sent without an
// event ID while a later row of the same room (sent or not) sets the same
// state: the sender may skip those, and a crash may have let one through
// before. rows are in id order.
func supersededRows(rows []OutboxRow) map[int64]bool {
	out := map[int64]bool{}
	later := map[string]bool{} // room|type|key set by a row seen so far, walking backwards
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		if r.Kind != matrix.KindState {
			continue
		}
		key := r.RoomID + "|" + r.Request.EventType + "|" + stateKey(r.Request)
		if r.Sent && r.SentEventID == "" && later[key] {
			out[r.ID] = true
		}
		later[key] = true
	}
	return out
}

func stateKey(r matrix.Request) string {
	if r.StateKey == nil {
		return ""
	}
	return *r.StateKey
}

// matches reports whether delivery d is outbox row r.
func matches(r OutboxRow, d fakehs.Delivery, txnID func(int64) string) bool {
	if r.Kind != d.Kind || r.RoomID != d.RoomID {
		return false
	}
	switch r.Kind {
	case matrix.KindMessage:
		return d.TxnID == txnID(r.ID) && d.EventType == r.Request.EventType && sameJSON(d.Content, r.Request.Content)
	case matrix.KindRedact:
		return d.TxnID == txnID(r.ID) && d.Redacts == r.Request.EventID
	case matrix.KindState:
		return d.EventType == r.Request.EventType && d.StateKey == stateKey(r.Request) && sameJSON(d.Content, r.Request.Content)
	}
	return false
}

// sameJSON compares two JSON documents by value (the outbox stores jsonb,
// which reorders keys).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
