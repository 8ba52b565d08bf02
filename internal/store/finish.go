package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Finished is a leased room's results, for FinishRooms.
type Finished struct {
	Room   RoomBatch
	Result RoomResult
}

// FinishRooms does what FinishRoom does for several rooms in one round
// trip and one commit. Every room's sent rows are marked in one
// statement; the leases go last, rooms in sorted order (as decisions
// write them), so decisions waiting for those rows wait for the commit
// only. Should that fail, each room is recorded alone, so one room's
// results cannot lose the others'.
func (s *Store) FinishRooms(ctx context.Context, owner string, rooms []Finished) error {
	rooms = slices.SortedFunc(slices.Values(rooms), func(a, b Finished) int { return strings.Compare(a.Room.RoomID, b.Room.RoomID) })
	err := retryConflicts(ctx, func() error {
		b := &pgx.Batch{}
		var sent []SentRow
		for _, f := range rooms {
			sent = append(sent, f.Result.Sent...)
		}
		queueSent(b, sent)
		for _, f := range rooms {
			queueGivenUp(b, owner, f.Room, f.Result)
		}
		for _, f := range rooms {
			queueRelease(b, owner, f.Room, f.Result)
		}
		return s.pool.SendBatch(ctx, b).Close()
	})
	if err == nil {
		return nil
	}
	if len(rooms) == 1 || ctx.Err() != nil {
		return fmt.Errorf("finish outbox room %s: %w", rooms[0].Room.RoomID, err)
	}
	var errs error
	for _, f := range rooms {
		errs = errors.Join(errs, s.FinishRooms(ctx, owner, []Finished{f}))
	}
	return errs
}
