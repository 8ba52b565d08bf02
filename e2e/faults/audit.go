package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// Querier is what the audits read the database through (*pgxpool.Pool).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// LogRow is one floor-log line.
type LogRow struct {
	ID       int64
	RoomID   string
	Action   string
	UserID   string
	DeviceID string
	Term     int64
	Reason   string
	EventID  string
}

// ReadFloorLog returns the whole floor log in id order. Within a room, id
// order is decision order: each decision holds the room's row lock while
// it appends.
func ReadFloorLog(ctx context.Context, db Querier) ([]LogRow, error) {
	rows, err := db.Query(ctx, `SELECT id, room_id, action, user_id, device_id, term, reason, event_id
		FROM floor_log ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (LogRow, error) {
		var r LogRow
		err := row.Scan(&r.ID, &r.RoomID, &r.Action, &r.UserID, &r.DeviceID, &r.Term, &r.Reason, &r.EventID)
		return r, err
	})
}

// FloorAudit is what the floor log says about one speaker at a time and
// exactly-once decisions.
type FloorAudit struct {
	Grants int
	// Overlaps: a grant while another device still held the room's floor,
	// or a release/revoke of a device that did not hold it.
	Overlaps []string
	// TermRegressions: a grant whose term is not above the room's previous one.
	TermRegressions []string
	// DuplicateDecisions: one event decided twice (the same action logged
	// twice for one event ID): an event processed more than once.
	DuplicateDecisions []string
	// Undecided: floor requests with no verdict (grant, queue, deny or
	// regrant) in the log: an acknowledged request that was lost.
	Undecided []string
}

// Problems lists every violation; none means the log is sound.
func (a FloorAudit) Problems() []string {
	var out []string
	out = append(out, a.Overlaps...)
	out = append(out, a.TermRegressions...)
	out = append(out, a.DuplicateDecisions...)
	for _, id := range a.Undecided {
		out = append(out, "request "+id+" has no decision in the floor log")
	}
	return out
}

// verdicts are the log actions that answer a floor request.
var verdicts = map[string]bool{"grant": true, "queue": true, "deny": true, "regrant": true}

// AuditFloorLog replays the log room by room. floorRequests are the event
// IDs of talk_requests with action "request": each must have a verdict.
func AuditFloorLog(log []LogRow, floorRequests []string) FloorAudit {
	var a FloorAudit
	type roomState struct {
		holder    *floor.Device
		lastGrant int64
	}
	rooms := map[string]*roomState{}
	seen := map[[2]string]bool{}
	decided := map[string]bool{}
	for _, r := range log {
		st := rooms[r.RoomID]
		if st == nil {
			st = &roomState{}
			rooms[r.RoomID] = st
		}
		dev := floor.Device{UserID: r.UserID, DeviceID: r.DeviceID}
		switch r.Action {
		case "grant":
			a.Grants++
			if st.holder != nil {
				a.Overlaps = append(a.Overlaps, fmt.Sprintf("log %d: %s granted %s at term %d while %s/%s held the floor",
					r.ID, r.RoomID, dev.UserID, r.Term, st.holder.UserID, st.holder.DeviceID))
			}
			if r.Term <= st.lastGrant {
				a.TermRegressions = append(a.TermRegressions, fmt.Sprintf("log %d: %s granted term %d after term %d",
					r.ID, r.RoomID, r.Term, st.lastGrant))
			}
			st.holder, st.lastGrant = &dev, max(st.lastGrant, r.Term)
		case "release", "revoke":
			if st.holder == nil || *st.holder != dev {
				a.Overlaps = append(a.Overlaps, fmt.Sprintf("log %d: %s %s of %s/%s, who did not hold the floor",
					r.ID, r.RoomID, r.Action, dev.UserID, dev.DeviceID))
			}
			st.holder = nil
		case "passive":
			st.holder = nil // another controller's floor is the truth from now on
		}
		if r.EventID == "" {
			continue
		}
		key := [2]string{r.EventID, r.Action}
		if seen[key] {
			a.DuplicateDecisions = append(a.DuplicateDecisions, fmt.Sprintf("log %d: event %s decided %q a second time",
				r.ID, r.EventID, r.Action))
		}
		seen[key] = true
		if verdicts[r.Action] {
			decided[r.EventID] = true
		}
	}
	for _, id := range floorRequests {
		if !decided[id] {
			a.Undecided = append(a.Undecided, id)
		}
	}
	return a
}

// Response is a talk_response outbox row, decoded.
type Response struct {
	OutboxID  int64
	RoomID    string
	InReplyTo string
	Status    floor.Status
	Reason    floor.Reason
}

// Responses picks the talk_responses out of the outbox rows.
func Responses(rows []OutboxRow) ([]Response, error) {
	var out []Response
	for _, r := range rows {
		if r.Kind != matrix.KindMessage || r.Request.EventType != floor.TypeResponse {
			continue
		}
		var c matrix.ResponseContent
		if err := json.Unmarshal(r.Request.Content, &c); err != nil {
			return nil, fmt.Errorf("outbox row %d: %w", r.ID, err)
		}
		resp := Response{OutboxID: r.ID, RoomID: r.RoomID, Status: c.Status, Reason: c.Reason}
		if c.RelatesTo != nil {
			resp.InReplyTo = c.RelatesTo.EventID.String()
		}
		out = append(out, resp)
	}
	return out, nil
}

// ResponseAudit says whether every talk_request was answered exactly once.
type ResponseAudit struct {
	Answered int
	// Unanswered: explicit requests no talk_response refers to.
	Unanswered []string
	// Duplicated: one request given the same status twice (an event
	// processed twice). A request may legitimately get several responses
	// with different statuses over its life: queued, then granted, then
	// revoked.
	Duplicated []string
}

// Problems lists every violation.
func (a ResponseAudit) Problems() []string {
	var out []string
	for _, id := range a.Unanswered {
		out = append(out, "request "+id+" got no talk_response")
	}
	return append(out, a.Duplicated...)
}

// AuditResponses checks the responses to the given talk_request event IDs.
func AuditResponses(responses []Response, requests []string) ResponseAudit {
	var a ResponseAudit
	statuses := map[string]map[floor.Status]int{}
	for _, r := range responses {
		if statuses[r.InReplyTo] == nil {
			statuses[r.InReplyTo] = map[floor.Status]int{}
		}
		statuses[r.InReplyTo][r.Status]++
		if statuses[r.InReplyTo][r.Status] == 2 {
			a.Duplicated = append(a.Duplicated, fmt.Sprintf("outbox %d: %s answered %q a second time", r.OutboxID, r.InReplyTo, r.Status))
		}
	}
	for _, id := range requests {
		if len(statuses[id]) == 0 {
			a.Unanswered = append(a.Unanswered, id)
			continue
		}
		a.Answered++
	}
	return a
}

// InboxAudit says whether every acknowledged event was stored and decided.
type InboxAudit struct {
	Acknowledged int
	Stored       int
	Unprocessed  int
	// Missing: acknowledged events the inbox does not hold (lost).
	Missing []string
}

// Problems lists every violation.
func (a InboxAudit) Problems() []string {
	var out []string
	for _, id := range a.Missing {
		out = append(out, "acknowledged event "+id+" is not in the inbox")
	}
	if a.Unprocessed > 0 {
		out = append(out, fmt.Sprintf("%d inbox events were never processed", a.Unprocessed))
	}
	return out
}

// AuditInbox checks the acknowledged event IDs against the inbox.
func AuditInbox(ctx context.Context, db Querier, acknowledged []string) (InboxAudit, error) {
	rows, err := db.Query(ctx, `SELECT event_id, processed_at IS NOT NULL FROM inbox`)
	if err != nil {
		return InboxAudit{}, err
	}
	processed := map[string]bool{}
	var id string
	var done bool
	_, err = pgx.ForEachRow(rows, []any{&id, &done}, func() error {
		processed[id] = done
		return nil
	})
	if err != nil {
		return InboxAudit{}, err
	}
	a := InboxAudit{Acknowledged: len(acknowledged), Stored: len(processed)}
	for _, done := range processed {
		if !done {
			a.Unprocessed++
		}
	}
	for _, id := range acknowledged {
		if _, ok := processed[id]; !ok {
			a.Missing = append(a.Missing, id)
		}
	}
	return a, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
