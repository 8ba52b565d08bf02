package decide_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The cross-room device check must not depend on the server's default
// isolation level. Under repeatable read a decision's snapshot is taken at
// its first statement, before it waits for the device's lock; it would not
// see the grant the other room committed meanwhile, and would grant the
// same device twice. Decisions pin read committed.
func TestOneDeviceOneRoomUnderRepeatableReadDefaults(t *testing.T) {
	f := newFixture(t)
	f.setupRoom("!one:test", alice)
	f.setupRoom("!two:test", alice)
	f.deliver(f.permit("!one:test", alice, "A", nil), f.permit("!two:test", alice, "A", nil))
	if _, err := f.st.Pool().Exec(f.ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = %L',
		current_database(), 'repeatable read'); END $$`); err != nil {
		t.Fatal(err)
	}
	replicas := []*fixture{f.reopen(), f.reopen()} // new connections get the new default

	// Hold alice's device lock, so both decisions take their snapshots and
	// then wait for it; let go once both wait.
	holder, err := pgx.Connect(f.ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(f.ctx, `SELECT pg_advisory_lock(hashtext($1))`, alice+"|A"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, room := range []string{"!one:test", "!two:test"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicas[i].deliverAndDecide(replicas[i].request(room, alice, "A", "request", nil))
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var waiting int
		_ = holder.QueryRow(f.ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting)
		if waiting == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d decisions wait for the device lock, want 2", waiting)
		}
	}
	if _, err := holder.Exec(f.ctx, `SELECT pg_advisory_unlock(hashtext($1))`, alice+"|A"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	one, two := holderOf(f.room("!one:test")), holderOf(f.room("!two:test"))
	if one != "" && two != "" {
		t.Fatalf("alice's device holds the floor in both rooms: %q and %q", one, two)
	}
	if one == "" && two == "" {
		t.Fatal("neither room granted the floor")
	}
}
