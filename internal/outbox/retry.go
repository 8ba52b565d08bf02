package outbox

import (
	"context"
	"encoding/json"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// RetryFailed requeues a room's failed rows (the admin API's retry), except
// a state event that a later row of the room sets again: sending the older
// one now would undo the newer. It returns how many rows it requeued and
// how many it left failed for that reason.
func RetryFailed(ctx context.Context, st *store.Store, roomID string) (requeued int64, superseded int, err error) {
	failed, later, err := st.FailedRows(ctx, roomID)
	if err != nil || len(failed) == 0 {
		return 0, 0, err
	}
	all := append(append([]store.StoredRow{}, failed...), later...)
	var ids []int64
	for _, f := range failed {
		if replacedLater(f, all) {
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
