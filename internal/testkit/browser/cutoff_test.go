package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
)

// A user cut off from a WebSocket endpoint cannot open it, while the
// same server's pages and fetches still work; another user is unaffected.
func TestCutOffFailsWebSocketsToThePatternOnly(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/socket", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_ = c.Write(r.Context(), websocket.MessageText, []byte("hello"))
		_, _, _ = c.Read(r.Context()) // until the page closes it
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>cut off</title>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	socket := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket"

	b := New(t, Options{})
	cut, other := b.NewTestUser(t, "cut"), b.NewTestUser(t, "other")
	if err := cut.CutOff(socket + "*"); err != nil {
		t.Fatal(err)
	}
	try := func(u *User) (socketResult, fetchResult string) {
		ctx, cancel := context.WithTimeout(u.Context(), time.Minute)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
			t.Fatal(err)
		}
		out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`Promise.all([
			new Promise(done => { const w = new WebSocket(%q);
				w.onmessage = e => { done("message " + e.data); w.close(); }; w.onerror = () => done("error"); }),
			fetch("/page").then(r => "status " + r.status, e => "failed: " + e),
		])`, socket), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return out[0], out[1]
	}
	if s, f := try(cut); s != "error" || f != "status 200" {
		t.Errorf("cut off: socket %q, fetch %q; want the socket to fail and the fetch to pass", s, f)
	}
	if s, f := try(other); s != "message hello" || f != "status 200" {
		t.Errorf("not cut off: socket %q, fetch %q; want both to work", s, f)
	}
}
