package engine

import (
	"regexp"
	"strings"
	"testing"
)

// The replay must be what a batch of k grants writes, and pgbench must
// read no variable but :g: a colon in a room or user ID would be taken
// for one (the text travels in base64).
func TestCeilingScript(t *testing.T) {
	for _, v := range CeilingVariants {
		t.Run(v.Name, func(t *testing.T) {
			s := ceilingSpec{rooms: 10, roomsPerCommit: 3, floorState: `{"holder":{"user_id":"@a:b.c"},"term":7}`, without: v.Without}.script()
			count := func(stmt string) int { return strings.Count(s, stmt) }
			want := map[string]int{
				"\\startpipeline":                   3,
				"\\endpipeline":                     3,
				"FOR UPDATE":                        1,
				"UPDATE room SET":                   3,
				"INSERT INTO floor_log":             1,
				"INSERT INTO outbox ":               1,
				"INSERT INTO outbox_room":           1,
				"pg_notify":                         1,
				"UPDATE outbox SET sent_at":         1,
				"next_deadline = clock_timestamp()": 3,
			}
			if v.Without.FloorLog {
				want["INSERT INTO floor_log"] = 0
			}
			if v.Without.Outbox {
				want["\\startpipeline"], want["\\endpipeline"] = 2, 2
				want["INSERT INTO outbox "], want["INSERT INTO outbox_room"], want["UPDATE outbox SET sent_at"] = 0, 0, 0
			}
			if v.Without.Notify {
				want["pg_notify"] = 0
			}
			if v.Without.SentMark {
				want["UPDATE outbox SET sent_at"] = 0
			}
			if v.Without.Lease {
				want["INSERT INTO outbox_room"] = 0
			}
			if v.Without.FinishTogether {
				want["\\startpipeline"], want["\\endpipeline"] = 2, 2
			}
			if v.Without.RoomIndexes {
				want["next_deadline = clock_timestamp()"] = 0
			}
			for stmt, n := range want {
				if got := count(stmt); got != n {
					t.Errorf("%q appears %d times, want %d:\n%s", stmt, got, n, s)
				}
			}
			if got := strings.Count(s, "BEGIN;"); got != strings.Count(s, "COMMIT;") {
				t.Errorf("%d BEGINs, %d COMMITs:\n%s", got, strings.Count(s, "COMMIT;"), s)
			}
			variables := regexp.MustCompile(`(^|[^:]):([A-Za-z_][A-Za-z0-9_]*)`)
			for _, m := range variables.FindAllStringSubmatch(s, -1) {
				if m[2] != "g" {
					t.Errorf("pgbench would read variable :%s:\n%s", m[2], s)
				}
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
