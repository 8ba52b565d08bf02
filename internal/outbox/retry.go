package outbox

import (
	"context"
	"encoding/json"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// RetryFailed requeues a room's failed rows (the admin API's retry). It
// leaves failed, and counts as superseded:
//   - a state event that a later row of the room sets again: sending the
//     older one now would undo the newer;
//   - any floor state: the floor moved on since, and a sent row that
//     replaced it may already be pruned (after 7 days), so an old one could
//     come back as the room's floor; the next floor change publishes the
//     current one;
//   - joins and leaves: whether the bot should be in the room may have
//     changed since (a declined invite re-sent after a permitted one would
//     make the bot leave).
func RetryFailed(ctx context.Context, st *store.Store, roomID string) (requeued int64, superseded int, err error) {
	failed, later, err := st.FailedRows(ctx, roomID)
	if err != nil || len(failed) == 0 {
		return 0, 0, err
	}
	all := append(append([]store.StoredRow{}, failed...), later...)
	var ids []int64
	for _, f := range failed {
		if replacedLater(f, all) || neverResent(f) {
			superseded++
			continue
		}
		ids = append(ids, f.ID)
	}
	if len(ids) == 0 {
		return 0, superseded, nil
	}
	requeued, err = st.Requeue(ctx, roomID, ids)
	return requeued, superseded, err
}

// neverResent: rows whose meaning depends on when they were decided.
func neverResent(row store.StoredRow) bool {
	switch row.Kind {
	case matrix.KindJoin, matrix.KindLeave:
		return true
	case matrix.KindMediaPermission:
		return true // the reconciler sets permissions from the floor as it is now
	case matrix.KindState:
		var req matrix.Request
		return json.Unmarshal(row.Payload, &req) != nil || req.EventType == floor.TypeFloor
	}
	return false
}

// replacedLater: row is a state event and a row with a higher ID sets the
// same state (type and key).
func replacedLater(row store.StoredRow, all []store.StoredRow) bool {
	if row.Kind != matrix.KindState {
		return false
	}
	var req matrix.Request
	if json.Unmarshal(row.Payload, &req) != nil {
		return false
	}
	for _, other := range all {
		if other.ID <= row.ID || other.Kind != matrix.KindState {
			continue
		}
		var o matrix.Request
		if json.Unmarshal(other.Payload, &o) == nil && o.EventType == req.EventType && o.StateKeyOrEmpty() == req.StateKeyOrEmpty() {
			return true
		}
	}
	return false
}
