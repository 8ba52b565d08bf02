package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// notify commits a transaction that notifies fs (or rolls it back).
func (f *fixture) notify(room string, version int64, fs floor.FloorState, rollback bool) {
	f.t.Helper()
	_, err := f.st.InTx(f.ctx, func(tx *store.Tx) error {
		tx.NotifyDecision(room, "", version, &fs, nil)
		if rollback {
			return errRollback
		}
		return nil
	})
	if err != nil && !errors.Is(err, errRollback) {
		f.t.Fatal(err)
	}
}

var errRollback = errors.New("roll back")

func TestFloorNoticesReachOtherProcessesOnCommitOnly(t *testing.T) {
	f := newFixture(t)
	other := f.open() // another replica on the same database
	notices := pgtest.ListenFloor(t, other)

	alice := floor.Device{UserID: alice, DeviceID: "ALICE"}
	f.notify("!rolled:test", 1, floor.FloorState{Term: 1}, true)
	f.notify("!room:test", 4, floor.FloorState{Holder: &alice, Term: 9, Queue: []floor.Device{}}, false)
	n := pgtest.NextNotice(t, notices)
	if n.RoomID != "!room:test" || n.Version != 4 || n.Floor == nil || n.Floor.Holder == nil || *n.Floor.Holder != alice || n.Floor.Term != 9 {
		t.Fatalf("notice %+v (floor %+v), want room !room:test version 4 held by ALICE at term 9", n, n.Floor)
	}

	// A floor state too big for a notification comes without its content.
	long := make([]floor.Device, 100)
	for i := range long {
		long[i] = floor.Device{UserID: fmt.Sprintf("@%s%d:test", strings.Repeat("u", 60), i), DeviceID: "D"}
	}
	f.notify("!big:test", 5, floor.FloorState{Queue: long}, false)
	if n := pgtest.NextNotice(t, notices); n.RoomID != "!big:test" || n.Version != 5 || n.Floor != nil {
		t.Fatalf("notice %+v, want room !big:test version 5 without its floor", n)
	}
}

func TestFloorListenerReconnectsAndAsksForAResync(t *testing.T) {
	f := newFixture(t)
	notices := pgtest.ListenFloor(t, f.st)

	// Kill the listening backend, as a database restart or a network
	// failure would.
	var killed bool
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating the listener: %v (killed %v)", err, killed)
	}
	n := pgtest.NextNotice(t, notices)
	if !n.Resync || n.Lost == nil {
		t.Fatalf("notice %+v after the connection was lost, want a Resync naming the loss", n)
	}
	// And it listens again.
	f.notify("!room:test", 1, floor.FloorState{Queue: []floor.Device{}}, false)
	if n := pgtest.NextNotice(t, notices); n.RoomID != "!room:test" || n.Version != 1 {
		t.Fatalf("notice %+v after reconnecting, want !room:test version 1", n)
	}
}

// A decision's later answers to floor-channel requests reach other
// processes on commit only, with the floor state they came with; answers
// of a decision that published no floor state come alone.
func TestChannelAnswersReachOtherProcessesWithTheirFloor(t *testing.T) {
	f := newFixture(t)
	notices := pgtest.ListenFloor(t, f.open())

	dev := floor.Device{UserID: alice, DeviceID: "PHONE"}
	granted := floor.Response{Status: floor.StatusGranted, Term: 3, Channel: "channel:7", Later: true,
		Device: &floor.Addressee{UserID: dev.UserID, DeviceID: dev.DeviceID}}
	for _, rollback := range []bool{true, false} {
		_, err := f.st.InTx(f.ctx, func(tx *store.Tx) error {
			tx.NotifyDecision("!room:test", "replica-a", 2, &floor.FloorState{Holder: &dev, Term: 3, Queue: []floor.Device{}}, []floor.Response{granted})
			tx.NotifyDecision("!passive:test", "replica-a", 5, nil, []floor.Response{granted})
			tx.NotifyDecision("!nothing:test", "replica-a", 5, nil, nil)
			if rollback {
				return errRollback
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
	}
	wantAnswer := func(n store.FloorNotice) {
		t.Helper()
		got := n.LaterAnswers()
		if n.Origin != "replica-a" || len(got) != 1 || got[0].Channel != "channel:7" || !got[0].Later ||
			got[0].Status != floor.StatusGranted || got[0].Term != 3 || *got[0].Device != *granted.Device {
			t.Fatalf("notice %+v, answers %+v: want the answer to channel:7 from replica-a", n, got)
		}
	}
	n := pgtest.NextNotice(t, notices)
	if n.RoomID != "!room:test" || n.Version != 2 || n.Floor == nil || n.Floor.Term != 3 {
		t.Fatalf("first notice %+v, want !room:test's floor state at version 2", n)
	}
	wantAnswer(n)
	n = pgtest.NextNotice(t, notices)
	if n.RoomID != "!passive:test" || n.Floor != nil {
		t.Fatalf("second notice %+v, want !passive:test's answer alone", n)
	}
	wantAnswer(n)

	// Answers too big for a notification give way to the floor state.
	big := granted
	big.Error = strings.Repeat("x", 8000)
	f.notifyDecision("!big:test", 3, &floor.FloorState{Term: 4, Queue: []floor.Device{}}, big)
	if n := pgtest.NextNotice(t, notices); n.RoomID != "!big:test" || n.Floor == nil || n.Floor.Term != 4 || len(n.Answers) != 0 {
		t.Fatalf("notice %+v, want !big:test's floor state without the answer", n)
	}
}

func (f *fixture) notifyDecision(room string, version int64, fs *floor.FloorState, answers ...floor.Response) {
	f.t.Helper()
	if _, err := f.st.InTx(f.ctx, func(tx *store.Tx) error {
		tx.NotifyDecision(room, "replica-a", version, fs, answers)
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
}
