package faults

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/fakehs"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// The audits are what make the fault tests fail when a mechanism is
// missing, so each is fed the history that mechanism's absence would leave
// behind, and must object to it.

func TestFloorAuditCatchesTwoHolders(t *testing.T) {
	log := []LogRow{
		{ID: 1, RoomID: "!r", Action: "grant", UserID: "@a", DeviceID: "A", Term: 1, EventID: "$1"},
		{ID: 2, RoomID: "!r", Action: "grant", UserID: "@b", DeviceID: "B", Term: 2, EventID: "$2"},
	}
	if a := AuditFloorLog(log, []string{"$1", "$2"}); len(a.Overlaps) != 1 || len(a.Problems()) != 1 {
		t.Fatalf("two holders at once: %+v", a)
	}
	// A release between the grants makes the same history sound.
	sound := []LogRow{log[0], {ID: 3, RoomID: "!r", Action: "release", UserID: "@a", DeviceID: "A", Term: 1, EventID: "$1"}, log[1]}
	sound[2].ID = 4
	if a := AuditFloorLog(sound, []string{"$1", "$2"}); len(a.Problems()) != 0 || a.Grants != 2 {
		t.Fatalf("a clean hand-over: %+v", a)
	}
	// Rooms are independent: one holder each is fine.
	other := []LogRow{log[0], {ID: 2, RoomID: "!s", Action: "grant", UserID: "@b", DeviceID: "B", Term: 1, EventID: "$2"}}
	if a := AuditFloorLog(other, nil); len(a.Problems()) != 0 {
		t.Fatalf("two rooms, one holder each: %+v", a)
	}
}

func TestFloorAuditCatchesTermRegressions(t *testing.T) {
	log := []LogRow{
		{ID: 1, RoomID: "!r", Action: "grant", UserID: "@a", DeviceID: "A", Term: 5, EventID: "$1"},
		{ID: 2, RoomID: "!r", Action: "revoke", UserID: "@a", DeviceID: "A", Term: 5, EventID: "$1"},
		{ID: 3, RoomID: "!r", Action: "grant", UserID: "@b", DeviceID: "B", Term: 5, EventID: "$2"},
	}
	if a := AuditFloorLog(log, nil); len(a.TermRegressions) != 1 {
		t.Fatalf("a term granted twice: %+v", a)
	}
}

func TestFloorAuditCatchesLostAndRepeatedDecisions(t *testing.T) {
	log := []LogRow{
		{ID: 1, RoomID: "!r", Action: "queue", UserID: "@a", DeviceID: "A", EventID: "$1"},
		{ID: 2, RoomID: "!r", Action: "queue", UserID: "@a", DeviceID: "A", EventID: "$1"}, // processed twice
	}
	a := AuditFloorLog(log, []string{"$1", "$lost"})
	if len(a.DuplicateDecisions) != 1 || len(a.Undecided) != 1 || a.Undecided[0] != "$lost" {
		t.Fatalf("a repeated and a lost decision: %+v", a)
	}
}

func TestResponseAuditCatchesRepeatsAndSilence(t *testing.T) {
	responses := []Response{
		{OutboxID: 1, InReplyTo: "$1", Status: floor.StatusQueued},
		{OutboxID: 2, InReplyTo: "$1", Status: floor.StatusGranted}, // a queued request's later grant: fine
		{OutboxID: 3, InReplyTo: "$2", Status: floor.StatusDenied},
		{OutboxID: 4, InReplyTo: "$2", Status: floor.StatusDenied}, // answered twice
	}
	a := AuditResponses(responses, []string{"$1", "$2", "$3"})
	if a.Answered != 2 || len(a.Duplicated) != 1 || len(a.Unanswered) != 1 || a.Unanswered[0] != "$3" {
		t.Fatalf("audit: %+v", a)
	}
}

// deliveryHistory is a room's outbox and what the homeserver applied.
type deliveryHistory struct {
	rows       []OutboxRow
	deliveries []fakehs.Delivery
}

func txnOf(id int64) string { return fmt.Sprintf("walkie.test.%d", id) }

func (h *deliveryHistory) message(id int64, body string) {
	content := json.RawMessage(`{"body":"` + body + `"}`)
	h.rows = append(h.rows, OutboxRow{ID: id, RoomID: "!r", Kind: matrix.KindMessage, Sent: true, SentEventID: "$m" + body,
		Request: matrix.Request{EventType: floor.TypeResponse, Content: content}})
}

func (h *deliveryHistory) state(id int64, term string, sentEventID string) {
	key := ""
	h.rows = append(h.rows, OutboxRow{ID: id, RoomID: "!r", Kind: matrix.KindState, Sent: true, SentEventID: sentEventID,
		Request: matrix.Request{EventType: floor.TypeFloor, StateKey: &key, Content: json.RawMessage(`{"term":` + term + `}`)}})
}

func (h *deliveryHistory) applyMessage(id int64, txn string) {
	h.deliveries = append(h.deliveries, fakehs.Delivery{RoomID: "!r", Kind: matrix.KindMessage, EventType: floor.TypeResponse,
		TxnID: txn, Content: h.row(id).Request.Content, EventID: fmt.Sprintf("$d%d", len(h.deliveries))})
}

func (h *deliveryHistory) applyState(id int64) {
	r := h.row(id)
	eventID := r.SentEventID
	if eventID == "" {
		eventID = fmt.Sprintf("$d%d", len(h.deliveries))
	}
	h.deliveries = append(h.deliveries, fakehs.Delivery{RoomID: "!r", Kind: matrix.KindState, EventType: floor.TypeFloor,
		Content: r.Request.Content, EventID: eventID})
}

func (h *deliveryHistory) row(id int64) OutboxRow {
	for _, r := range h.rows {
		if r.ID == id {
			return r
		}
	}
	panic("no row")
}

func (h *deliveryHistory) audit() DeliveryAudit { return AuditDeliveries(h.rows, h.deliveries, txnOf) }

func TestDeliveryAuditAcceptsCrashResendsAndSkippedStates(t *testing.T) {
	var h deliveryHistory
	h.state(1, "1", "")    // superseded by row 3 and skipped
	h.message(2, "a")      //
	h.state(3, "2", "$s3") //
	h.message(4, "b")
	h.applyMessage(2, txnOf(2))
	h.applyState(3)
	h.applyState(3) // re-sent after a crash: the state is already this
	h.applyMessage(4, txnOf(4))
	a := h.audit()
	if len(a.Problems()) != 0 || a.Delivered != 3 || a.Resent != 1 {
		t.Fatalf("audit: %+v", a)
	}
}

func TestDeliveryAuditCatchesBrokenDeliveries(t *testing.T) {
	for name, tt := range map[string]struct {
		apply func(h *deliveryHistory)
		want  string
	}{
		"a row sent under a second txn ID (not deduplicated)": {func(h *deliveryHistory) {
			h.applyMessage(1, txnOf(1))
			h.applyMessage(1, "another-txn")
			h.applyState(2)
			h.applyMessage(3, txnOf(3))
		}, "homeserver applied message"},
		"rows out of their room's order": {func(h *deliveryHistory) {
			h.applyState(2)
			h.applyMessage(1, txnOf(1))
			h.applyMessage(3, txnOf(3))
		}, "homeserver applied message"},
		"an older floor state after a newer one": {func(h *deliveryHistory) {
			h.applyMessage(1, txnOf(1))
			h.applyState(2)
			h.applyMessage(3, txnOf(3))
			h.applyState(4)
			h.applyState(2)
		}, "homeserver applied state"},
		"a row marked sent that never arrived": {func(h *deliveryHistory) {
			h.applyMessage(1, txnOf(1))
			h.applyState(2)
		}, "never reached the homeserver"},
	} {
		t.Run(name, func(t *testing.T) {
			var h deliveryHistory
			h.message(1, "a")
			h.state(2, "1", "$s2")
			h.message(3, "b")
			h.state(4, "2", "$s4")
			tt.apply(&h)
			problems := h.audit().Problems()
			if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tt.want) {
				t.Fatalf("want a problem mentioning %q, got %q", tt.want, problems)
			}
		})
	}
}

func TestDeliveryAuditCatchesAnUndrainedOutbox(t *testing.T) {
	rows := []OutboxRow{{ID: 1, RoomID: "!r", Kind: matrix.KindMessage}, {ID: 2, RoomID: "!r", Kind: matrix.KindMessage, Failed: true}}
	if a := AuditDeliveries(rows, nil, txnOf); len(a.Unsent) != 1 {
		t.Fatalf("one row unsent, one given up: %+v", a)
	}
}

func TestInboxAuditCatchesLostAndUndecidedEvents(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	st, err := store.Open(ctx, store.Options{URI: url, Controller: BotUserID})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw := json.RawMessage(`{"type":"m.room.message","event_id":"$kept","room_id":"!r","sender":"@a","content":{}}`)
	if _, _, err := st.SaveTransaction(ctx, "t1", []store.InboxEvent{{EventID: "$kept", RoomID: "!r", Raw: raw}}); err != nil {
		t.Fatal(err)
	}
	a, err := AuditInbox(ctx, st.Pool(), []string{"$kept", "$lost"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Stored != 1 || a.Unprocessed != 1 || len(a.Missing) != 1 || a.Missing[0] != "$lost" || len(a.Problems()) != 2 {
		t.Fatalf("one event stored but undecided, one lost: %+v", a)
	}
}
