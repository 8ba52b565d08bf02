package store_test

import (
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/store"
)

// The senders' claim and release find their rooms through indexes on an
// outbox_room of 100,000 rooms, in a generic plan (what a prepared
// statement may settle on) as in a custom one: neither reads the table
// through, nor reads every idle room's entry on due.
func TestOutboxLeasesStayIndexScansOnManyRooms(t *testing.T) {
	f := newFixture(t)
	db := f.st.Pool()
	if _, err := db.Exec(f.ctx, `INSERT INTO outbox_room (room_id, due, gen)
		SELECT '!r' || i || ':test', CASE WHEN i % 100 = 0 THEN clock_timestamp() ELSE 'infinity' END, 1
		FROM generate_series(1, 100000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(f.ctx, `ANALYZE outbox_room`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Acquire(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	statements := map[string]struct{ sql, args string }{
		"claim":   {store.ClaimSQL, `'me', '30 seconds', 16`},
		"release": {store.ReleaseSQL, `'me', '{!r5:test,!r100:test}', '{2026-01-01,2026-01-01}', '{-1,-1}', '{t,t}', '{1,1}'`},
	}
	for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
		if _, err := conn.Exec(f.ctx, `SET plan_cache_mode = `+mode); err != nil {
			t.Fatal(err)
		}
		for name, st := range statements {
			probe := name + "_" + mode
			if _, err := conn.Exec(f.ctx, `PREPARE `+probe+` AS `+st.sql); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			rows, err := conn.Query(f.ctx, `EXPLAIN EXECUTE `+probe+`(`+st.args+`)`)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s, %s: %v", name, mode, err)
			}
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "Seq Scan") {
				t.Errorf("%s, %s: reads the table through:\n%s", name, mode, text)
			}
			if name == "claim" && !strings.Contains(text, "Index Cond: (due <=") {
				t.Errorf("%s, %s: the scan on due is not bounded by the index:\n%s", name, mode, text)
			}
		}
	}
}
