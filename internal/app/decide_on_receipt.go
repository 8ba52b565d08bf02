package app

import (
	"context"

	"github.com/walkie-ptt/walkie/internal/store"
)

// receiver is the store behind the appservice endpoint: it decides a
// transaction's rooms in the same database transaction that makes the
// events durable, so one commit does both and the homeserver's 200 means
// "decided". Should deciding fail, it still makes the events durable and
// leaves them to the room workers: the homeserver must get its 200 for
// events that are safely stored.
type receiver struct{ s *Service }

func (r receiver) SaveTransaction(ctx context.Context, txnID string, events []store.InboxEvent) (bool, []string, error) {
	replay, outs, more, err := r.s.store.SaveAndDecide(ctx, txnID, events, r.s.handler)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil, err
		}
		r.s.log.Warn().Err(err).Str("txn_id", txnID).Msg("Could not decide on receipt; storing the events for the room workers")
		r.s.metrics.DecisionErrors.Inc()
		return r.s.store.SaveTransaction(ctx, txnID, events)
	}
	for _, out := range outs {
		r.s.committed(out)
	}
	return replay, more, nil
}
