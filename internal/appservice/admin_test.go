package appservice_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/appservice"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// The admin API's release names the turn the call saw. alice's
// start_timeout is overdue when the release is decided: it fires first and
// hands the floor to bob, whose turn the operator never meant to end.
func TestAdminReleaseSparesTheNextHolder(t *testing.T) {
	const (
		bot, alice, bob = "@walkie:test", "@alice:test", "@bob:test"
		room, token     = "!room:test", "ADMIN6TEST6TOKEN6LONG"
	)
	defaults := floor.Config{StartTimeout: 5 * time.Second, InactivityTimeout: 10 * time.Second, MaxTalk: 30 * time.Second,
		QueueTimeout: time.Minute, Queue: true, MaxQueue: 8, RateWindow: time.Minute}
	st := pgtest.NewStore(t, store.Options{Controller: bot, Defaults: defaults})
	d := decide.New(decide.Options{Store: st, Controller: bot, Permissions: noPermissions{}, Log: zerolog.Nop()})
	levels := floor.PowerLevels{Users: map[string]int{bot: 100}, StateDefault: 50, Redact: 50,
		Events: map[string]int{floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeFloor: 100}}
	var members []floor.MemberChange
	var permits []floor.PermitChange
	for _, u := range []string{bot, alice, bob} {
		members = append(members, floor.MemberChange{UserID: u, Membership: "join"})
		permits = append(permits, floor.PermitChange{Sender: u, StateKey: "_" + u + "_D", DeviceID: "D", Send: true, Receive: true})
	}
	if _, _, err := d.Decide(t.Context(), room, floor.Snapshot{Power: &levels, Members: members, Permits: permits},
		floor.TalkRequest{EventID: "$a", Sender: alice, Action: floor.ActionRequest, DeviceID: "D"},
		floor.TalkRequest{EventID: "$b", Sender: bob, Action: floor.ActionRequest, DeviceID: "D"}); err != nil {
		t.Fatal(err)
	}
	st.AdvanceClock(6 * time.Second)

	srv := &appservice.Server{HSToken: hsToken, AdminToken: token, MaxBodyBytes: 64 << 10, Decider: d, Store: st, Log: zerolog.Nop()}
	req := httptest.NewRequest("POST", "/_walkie/admin/v1/rooms/"+room+"/release", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	var body struct {
		Released bool             `json:"released"`
		Floor    floor.FloorState `json:"floor"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("release: %d %s", rec.Code, rec.Body)
	}
	if body.Released || body.Floor.Holder == nil || body.Floor.Holder.UserID != bob || body.Floor.Term != 2 {
		t.Fatalf("release answered %s; want bob holding term 2 and nothing released", rec.Body)
	}
	if r, _, _ := st.Room(t.Context(), room); r.Holder == nil || r.Holder.UserID != bob {
		t.Fatalf("holder %+v, want bob", r.Holder)
	}
}
