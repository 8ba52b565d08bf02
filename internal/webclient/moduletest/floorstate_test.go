package moduletest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/webclient"
)

// run imports the client's modules into a blank page and returns what the
// script (an async function body, given the modules' exports as `m`)
// returns.
func run[T any](t *testing.T, module, script string) T {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(webclient.Assets()))
	mux.HandleFunc("/blank.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>module test</title>")
	})
	site := httptest.NewServer(mux)
	t.Cleanup(site.Close)
	u := browser.New(t, browser.Options{}).NewTestUser(t, "tester")
	ctx, cancel := context.WithTimeout(u.Context(), time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(site.URL+"/blank.html")); err != nil {
		t.Fatal(err)
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](fmt.Sprintf(`(async () => { const m = await import(%q); %s })()`, module, script),
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Floor states from /sync (no version) and from the floor channel are
// ordered by term and by how far the turn has come: an older /sync state
// never undoes a newer push, a tie goes to the channel while it is live,
// and to /sync once it is gone.
func TestFloorStatesFromSyncAndChannelAreOrdered(t *testing.T) {
	type step struct {
		What     string
		Accepted bool
		Source   string
	}
	got := run[[]step](t, "/floorstate.js", `
		const alice = {user_id: "@alice:x", device_id: "A"}, bob = {user_id: "@bob:x", device_id: "B"};
		const tr = new m.FloorTracker(), out = [];
		const offer = (what, floor, source, id) => out.push({what, accepted: tr.offer(floor, source, id), source: tr.source});
		offer("idle term 4 from sync", {term: 4, queue: []}, "sync", "$1");
		offer("alice granted term 5, pushed", {holder: alice, term: 5, queue: []}, "channel");
		offer("alice's broadcast named, pushed", {holder: alice, term: 5, broadcast_event_id: "$b", queue: []}, "channel");
		offer("the grant, late from sync", {holder: alice, term: 5, queue: []}, "sync", "$2");
		offer("idle term 4 again from sync", {term: 4, queue: []}, "sync", "$1b");
		offer("the broadcast named, from sync", {holder: alice, term: 5, broadcast_event_id: "$b", queue: []}, "sync", "$3");
		offer("bob queued, pushed", {holder: alice, term: 5, broadcast_event_id: "$b", queue: [bob]}, "channel");
		offer("bob's queue left, pushed", {holder: alice, term: 5, broadcast_event_id: "$b", queue: []}, "channel");
		offer("bob queued, late from sync", {holder: alice, term: 5, broadcast_event_id: "$b", queue: [bob]}, "sync", "$4");
		tr.channelGone();
		offer("bob's queue left, from sync after the channel went", {holder: alice, term: 5, broadcast_event_id: "$b", queue: []}, "sync", "$5");
		offer("the same event again", {holder: alice, term: 5, broadcast_event_id: "$b", queue: []}, "sync", "$5");
		offer("alice released, from sync", {term: 5, queue: []}, "sync", "$6");
		offer("a push from before the release", {holder: alice, term: 5, broadcast_event_id: "$b", queue: []}, "channel");
		offer("bob granted term 6, from sync", {holder: bob, term: 6, queue: []}, "sync", "$7");
		return out;`)
	want := []step{
		{"idle term 4 from sync", true, "sync"},
		{"alice granted term 5, pushed", true, "channel"},
		{"alice's broadcast named, pushed", true, "channel"},
		{"the grant, late from sync", false, "channel"},
		{"idle term 4 again from sync", false, "channel"},
		{"the broadcast named, from sync", false, "channel"},
		{"bob queued, pushed", true, "channel"},
		{"bob's queue left, pushed", true, "channel"},
		{"bob queued, late from sync", false, "channel"},
		{"bob's queue left, from sync after the channel went", true, "sync"},
		{"the same event again", false, "sync"},
		{"alice released, from sync", true, "sync"},
		{"a push from before the release", false, "sync"},
		{"bob granted term 6, from sync", true, "sync"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d steps, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: got %+v, want %+v", i+1, got[i], want[i])
		}
	}
}
