package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/store"
)

// The plans a decision transaction gets (generic ones, store.GenericPlans)
// for the statements that take lists of rooms read the rooms named by
// index, on 100,000 rooms (BENCHMARKS.md part C's largest run), for a
// batch of one room and of 64: a join with a list was once planned as a
// scan of a whole table.
func TestBatchStatementsUseIndexes(t *testing.T) {
	f := newFixture(t)
	if _, err := f.st.Pool().Exec(f.ctx, `INSERT INTO room (room_id, state, joined, holder_user, holder_device)
		SELECT '!r' || i || ':test', '{}', true, '@u' || i || ':test', 'D' FROM generate_series(1, 100000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Pool().Exec(f.ctx, `INSERT INTO inbox (event_id, room_id, event, processed_at)
		SELECT '$e' || i, '!r' || (i % 100000) || ':test', '{}', CASE WHEN i % 10 = 0 THEN NULL ELSE now() END
		FROM generate_series(1, 200000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Pool().Exec(f.ctx, `ANALYZE room; ANALYZE inbox`); err != nil {
		t.Fatal(err)
	}
	statements := map[string]struct{ sql, args string }{
		"lock":    {store.LockRoomsSQL, "(text[], bigint[])"},
		"events":  {store.PendingEventsSQL, "(text[], int[], interval)"},
		"holders": {`SELECT room_id, holder_user, holder_device FROM room WHERE joined AND holder_user = ANY($1)`, "(text[])"},
	}
	for _, n := range []int{1, 64} {
		var rooms, users, versions, limits []string
		for i := range n {
			rooms = append(rooms, fmt.Sprintf(`"!r%d:test"`, 1000*i+7))
			users = append(users, fmt.Sprintf(`"@u%d:test"`, 1000*i+7))
			versions, limits = append(versions, "5"), append(limits, "256")
		}
		list := func(s []string) string { return "'{" + strings.Join(s, ",") + "}'" }
		execute := map[string]string{
			"lock":    fmt.Sprintf("(%s, %s)", list(rooms), list(versions)),
			"events":  fmt.Sprintf("(%s, %s, '0')", list(rooms), list(limits)),
			"holders": fmt.Sprintf("(%s)", list(users)),
		}
		for name, st := range statements {
			q := fmt.Sprintf("plan_%s_%d", name, n) // a session's: not rolled back
			text := explain(t, f, store.GenericPlans, "PREPARE "+q+st.args+" AS "+st.sql, "EXPLAIN EXECUTE "+q+execute[name])
			if strings.Contains(text, "Seq Scan on room") || strings.Contains(text, "Seq Scan on inbox") {
				t.Errorf("%s of %d rooms scans a whole table:\n%s", name, n, text)
			}
		}
	}
}

// explain runs the statements in a transaction that it rolls back, and
// returns the lines they answered.
func explain(t *testing.T, f *fixture, statements ...string) string {
	t.Helper()
	tx, err := f.st.Pool().Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(f.ctx) //nolint:errcheck
	var plan []string
	for _, sql := range statements {
		rows, err := tx.Query(f.ctx, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return strings.Join(plan, "\n")
}
