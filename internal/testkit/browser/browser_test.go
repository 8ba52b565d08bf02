package browser

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// page is a blank page on a loopback origin (a secure context, like the
// client's): what the tests below run their JavaScript on.
func page(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><title>kit</title><script>console.log("page loaded")</script>`))
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func TestUsersRunJavaScriptInSeparateBrowserContexts(t *testing.T) {
	b := New(t, Options{})
	url := page(t)
	alice, bob := b.NewTestUser(t, "alice"), b.NewTestUser(t, "bob")
	ctx, cancel := context.WithTimeout(alice.Context(), time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem("who", "alice"); document.cookie = "c=alice"`)); err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(bob.Context(), time.Minute)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	seen, err := chromedp.Run(bctx, chromedp.Evaluate[string](`String(localStorage.getItem("who")) + "|" + document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if seen != "null|" {
		t.Errorf("bob sees alice's storage and cookies: %q", seen)
	}
	sum, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Promise.resolve(40 + 2)`, chromedp.EvalAwaitPromise))
	if err != nil || sum != 42 {
		t.Fatalf("evaluate: %d, %v", sum, err)
	}
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`setTimeout(() => { throw new Error("on purpose") })`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return slices.ContainsFunc(alice.Exceptions(), func(s string) bool { return strings.Contains(s, "on purpose") }) &&
			slices.Contains(alice.Console(), "log: page loaded")
	}, "alice's console to show the page's log and the uncaught exception")
	if ex := bob.Exceptions(); len(ex) != 0 {
		t.Errorf("bob's exceptions: %q", ex)
	}
}

// The fake microphone must really play the tone: an analyser on the
// captured stream finds the 1 kHz bin loud during a burst.
func TestFakeMicrophonePlaysTheTone(t *testing.T) {
	b := New(t, Options{})
	u := b.NewTestUser(t, "speaker")
	ctx, cancel := context.WithTimeout(u.Context(), time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(page(t)), chromedp.Evaluate[chromedp.Void](`(async () => {
		const stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false,
			noiseSuppression: false, autoGainControl: false}});
		const ac = new AudioContext({sampleRate: 48000});
		const an = new AnalyserNode(ac, {fftSize: 1024, smoothingTimeConstant: 0});
		ac.createMediaStreamSource(stream).connect(an);
		const bins = new Float32Array(an.frequencyBinCount);
		window.peakAt = () => { an.getFloatFrequencyData(bins); let best = 0;
			for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
			return {hz: best * ac.sampleRate / an.fftSize, db: bins[best]}; };
	})()`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	type peak struct {
		Hz, DB float64
	}
	var last peak
	waitFor(t, func() bool {
		p, err := chromedp.Run(ctx, chromedp.Evaluate[peak](`peakAt()`))
		if err != nil {
			t.Fatal(err)
		}
		last = p
		return p.DB > -50 && p.Hz > 950 && p.Hz < 1050
	}, "a loud 1 kHz peak on the fake microphone")
	t.Logf("microphone peak: %.0f Hz at %.1f dBFS", last.Hz, last.DB)
}

func TestMissingChromiumSaysHowToInstallIt(t *testing.T) {
	_, err := Start(context.Background(), Options{ExecPath: "/nonexistent/chromium"})
	if err == nil || !strings.Contains(err.Error(), InstallHint) {
		t.Fatalf("error %v, want one saying %q", err, InstallHint)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline (a condition, not a timing assertion).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
