package floorchannel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/testkit/channelclient"
	"github.com/walkie-ptt/walkie/internal/webclient"
)

// chromium is Debian's Chromium, which the browser tests drive.
const chromium = "/usr/bin/chromium"

// page is a browser tab on a page of the test server.
type page struct {
	t   *testing.T
	ctx context.Context
}

func openPage(t *testing.T, url string) *page {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser tests need Chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
			chromedp.Flag("headless", "new"), chromedp.Flag("disable-gpu", true))...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s in Chromium: %v", url, err)
	}
	return &page{t: t, ctx: ctx}
}

// eval runs a script (awaiting its promise) and decodes its result.
func eval[T any](p *page, script string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: %v", script, err)
	}
	return v
}

// waitFor waits until the expression is true in the page.
func (p *page) waitFor(what, cond string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	script := fmt.Sprintf(`new Promise(done => { const check = () => (%s) ? done(true) : setTimeout(check, 20); check(); })`, cond)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script, chromedp.EvalAwaitPromise)); err != nil {
		state := eval[json.RawMessage](p, `JSON.stringify({statuses: window.statuses, floors: window.floors})`)
		p.t.Fatalf("never %s: %v (page state %s)", what, err, state)
	}
}

// The web client's channel module, in a real browser, against a real
// channel: ready after auth, pushes, request and release, the unavailable
// signal when the channel goes away, and reconnection when it is back.
func TestBrowserModule(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	mux := http.NewServeMux()
	mux.Handle(floorchannel.Path, r.ch)
	mux.Handle("/", http.FileServerFS(webclient.Assets()))
	// A page of its own: the client's index.html would start the app.
	mux.HandleFunc("/blank.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>floor channel module test</title>")
	})
	site := httptest.NewServer(mux)
	t.Cleanup(site.Close)

	p := openPage(t, site.URL+"/blank.html")
	token, err := json.Marshal(r.hs.token(alice))
	if err != nil {
		t.Fatal(err)
	}
	eval[bool](p, fmt.Sprintf(`(async () => {
		const { connect } = await import("/floorchannel.js");
		window.statuses = []; window.floors = []; window.laters = [];
		const start = (url) => connect({
			url, getOpenIdToken: async () => (%s), deviceId: "PHONE", userId: %q,
			onFloor: (room, floor, version) => floors.push({ room, holder: floor.holder ? floor.holder.user_id : "", term: floor.term, version }),
			onStatus: (status, detail) => statuses.push(status),
			onLater: (room, response) => laters.push({ room, status: response.status, term: response.term, floorsBefore: floors.length }),
		});
		window.start = start;
		window.channel = start("ws://" + location.host + %q);
		return true;
	})()`, token, alice, floorchannel.Path))
	p.waitFor("ready", `statuses.at(-1) === "ready"`)

	eval[bool](p, fmt.Sprintf(`channel.subscribe(%q), true`, room))
	p.waitFor("the idle floor pushed", `floors.length === 1 && floors[0].holder === ""`)
	granted := eval[map[string]any](p, fmt.Sprintf(`channel.request(%q)`, room))
	if granted["status"] != "granted" || granted["term"] != float64(1) {
		t.Fatalf("request resolved with %v, want granted at term 1", granted)
	}
	p.waitFor("alice's grant pushed", fmt.Sprintf(`floors.at(-1).holder === %q && floors.at(-1).term === 1`, alice))

	// The channel goes away: the app is told at once, and a request fails
	// fast (so it goes out as a room event instead).
	r.stop()
	<-r.done
	p.waitFor("unavailable", `statuses.at(-1) === "unavailable"`)
	if msg := eval[string](p, fmt.Sprintf(`channel.request(%q).then(() => "resolved", e => e.message)`, room)); msg == "resolved" {
		t.Fatal("a request while unavailable resolved")
	}

	// It comes back: the module reconnects (with backoff), follows the
	// room again and works as before.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.ch.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	p.waitFor("ready again", `statuses.at(-1) === "ready"`)
	released := eval[map[string]any](p, fmt.Sprintf(`channel.release(%q, { term: 1 })`, room))
	if released["status"] != "released" {
		t.Fatalf("release resolved with %v, want released", released)
	}
	p.waitFor("the idle floor pushed after the release", `floors.at(-1).holder === "" && floors.at(-1).term === 1`)

	// Queued behind bob, then granted when he releases: the later answer
	// reaches onLater, ahead of the floor push that shows alice holding.
	bobs := r.connect(r.replica, bob, "PHONE")
	bobs.Send(channelclient.Message{"type": "request", "room_id": room, "id": "b1"})
	if resp := bobs.Response("b1"); resp["status"] != "granted" {
		t.Fatalf("bob's request: %v", resp)
	}
	queued := eval[map[string]any](p, fmt.Sprintf(`channel.request(%q)`, room))
	if queued["status"] != "queued" {
		t.Fatalf("request resolved with %v, want queued behind bob", queued)
	}
	bobs.Send(channelclient.Message{"type": "release", "room_id": room, "id": "b2"})
	p.waitFor("alice's grant pushed after bob's release", fmt.Sprintf(`floors.at(-1).holder === %q && floors.at(-1).term === 3`, alice))
	later := eval[map[string]any](p, `laters.length === 1 ? laters[0] : null`)
	if later["room"] != room || later["status"] != "granted" || later["term"] != float64(3) {
		t.Fatalf("later answers %v, want alice's grant at term 3", later)
	}
	if pushed := eval[float64](p, `floors.findIndex(f => f.term === 3 && f.holder === "`+alice+`")`); later["floorsBefore"].(float64) > pushed {
		t.Fatalf("the later answer came after the floor push it caused (%v pushes before it, the push is #%v)", later["floorsBefore"], pushed)
	}

	// A channel that is not there (blocked, or not served) is unavailable.
	eval[bool](p, `channel.close(), statuses.length = 0, window.channel = start("ws://" + location.host + "/nowhere"), true`)
	p.waitFor("a missing channel unavailable", `statuses.includes("unavailable")`)
	eval[bool](p, `channel.close(), true`)
}
