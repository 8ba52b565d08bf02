package audiotest

import (
	"context"
	"encoding/base64"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/webclient"
)

const rate = 48000

// serve runs the client's real handler on loopback (a secure context, so
// WebCodecs and AudioWorklet work) with the test page under /test/.
func serve(t *testing.T) string {
	t.Helper()
	h, err := webclient.New(webclient.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// The test page gets the client's own Content-Security-Policy, so the
	// modules are tested under the rules they will run under.
	probe := httptest.NewRecorder()
	h.ServeHTTP(probe, httptest.NewRequest(http.MethodGet, "/", nil))
	csp := probe.Header().Get("Content-Security-Policy")
	if csp == "" {
		t.Fatal("the client's index has no Content-Security-Policy")
	}
	pages := http.StripPrefix("/test/", http.FileServer(http.Dir("testdata")))
	mux := http.NewServeMux()
	mux.Handle("/test/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		pages.ServeHTTP(w, r)
	}))
	mux.Handle("/", h)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// openPage opens the test page for a new user and waits for its module.
func openPage(t *testing.T, b *browser.Browser, url, name string) (context.Context, *browser.User) {
	t.Helper()
	u := b.NewTestUser(t, name)
	ctx, cancel := context.WithTimeout(u.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/test/audiotest.html"),
		chromedp.Poll[chromedp.Void](`typeof window.play === "function"`, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatal(err)
	}
	return ctx, u
}

type recorded struct {
	Chunks []struct {
		Sequence   int
		DurationMs float64
		SizeBytes  int
		Type       string
		Data       []byte // base64 in JSON
	}
	Last      int
	Recording bool
	Stats     struct {
		ChunksSent int
		ToneOnsets []float64
	}
	Levels   int
	MaxLevel float64
}

// TestRecorderChunksAreStandaloneGaplessAndPlayBack records about three
// seconds of the fake microphone's tone through Recorder, checks each
// chunk as an Ogg Opus file on its own, checks that the chunks decoded one
// by one join into exactly the recording decoded as one stream, and plays
// them through Player until the tone is detected on the playback path.
func TestRecorderChunksAreStandaloneGaplessAndPlayBack(t *testing.T) {
	// Mostly tone: one-second chunks then always have a boundary inside a
	// burst, where a gap or a repeat would show.
	// 1025 Hz: a 20 ms packet holds 20.5 of its periods, so a lost or
	// repeated packet would turn its phase upside down at the boundary.
	tone := browser.Tone{Hz: 1025, On: 1700 * time.Millisecond, Off: 300 * time.Millisecond}
	b := browser.New(t, browser.Options{Tone: tone})
	url := serve(t)
	ctx, speaker := openPage(t, b, url, "speaker")

	rec, err := chromedp.Run(ctx, chromedp.Evaluate[recorded](`record(3.2)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	n := len(rec.Chunks)
	t.Logf("%d chunks; capture onsets %v; %d level reports, loudest %.2f", n, rec.Stats.ToneOnsets, rec.Levels, rec.MaxLevel)
	if n < 3 || rec.Last != n || rec.Stats.ChunksSent != n || !rec.Recording {
		t.Fatalf("%d chunks, stop() said %d, stats say %d sent, recording %v", n, rec.Last, rec.Stats.ChunksSent, rec.Recording)
	}
	if len(rec.Stats.ToneOnsets) == 0 || rec.Levels == 0 || rec.MaxLevel < 0.1 {
		t.Errorf("the recorder did not hear the fake microphone's tone: onsets %v, %d levels up to %.3f",
			rec.Stats.ToneOnsets, rec.Levels, rec.MaxLevel)
	}

	files := make([]*opusFile, n)
	for i, c := range rec.Chunks {
		f, err := parseOpus(c.Data)
		if err != nil {
			t.Fatalf("chunk %d is not a valid Ogg Opus file: %v", i+1, err)
		}
		files[i] = f
		t.Logf("chunk %d: %d bytes, %d pages, %d packets, pre-skip %d, granule %d, %.1f ms",
			c.Sequence, c.SizeBytes, len(f.pages), len(f.audio), f.preSkip, f.granule, c.DurationMs)
		if c.Sequence != i+1 || c.SizeBytes != len(c.Data) || c.Type != "audio/ogg; codecs=opus" {
			t.Errorf("chunk %d: sequence %d, size %d for %d bytes, type %q", i+1, c.Sequence, c.SizeBytes, len(c.Data), c.Type)
		}
		if f.version != 1 || f.channels != 1 || f.rate != rate || f.mapping != 0 || f.preSkip == 0 || f.vendor == "" {
			t.Errorf("chunk %d headers: version %d, %d channels, %d Hz, mapping %d, pre-skip %d, vendor %q",
				i+1, f.version, f.channels, f.rate, f.mapping, f.preSkip, f.vendor)
		}
		if got := int(c.DurationMs*rate/1000 + 0.5); got != f.samples() {
			t.Errorf("chunk %d: onChunk says %.3f ms (%d samples), the file holds %d", i+1, c.DurationMs, got, f.samples())
		}
		if i < n-1 && f.samples() != rate {
			t.Errorf("chunk %d holds %d samples; every chunk but the last holds one second (%d)", i+1, f.samples(), rate)
		}
	}
	t.Run("gapless", func(t *testing.T) { checkGapless(t, ctx, rec, files, b.Tone().Hz) })
	t.Run("played in order", func(t *testing.T) {
		// The second chunk arrives first: it waits for the first.
		plan := [][3]any{{"s1", 2, 1}, {"s1", 1, 0}}
		for i := 2; i < n; i++ {
			plan = append(plan, [3]any{"s1", i + 1, i})
		}
		checkPlayed(t, b, url, rec, plan, []string{"s1"})
	})
	t.Run("a lost chunk is skipped", func(t *testing.T) {
		plan := [][3]any{{"s1", 1, 0}}
		for i := 2; i < n; i++ {
			plan = append(plan, [3]any{"s1", i + 1, i})
		}
		checkPlayed(t, b, url, rec, plan, []string{"s1"})
	})
	t.Run("two broadcasts play one after the other", func(t *testing.T) {
		// b's chunks arrive while a still plays: b waits its turn.
		plan := [][3]any{{"a", 1, 0}, {"b", 1, 2}, {"a", 2, 1}, {"b", 2, 3}}
		checkPlayed(t, b, url, rec, plan, []string{"a", "b"})
	})
	if ex := speaker.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %q", ex)
	}
}

// checkGapless decodes each chunk alone, as a listener does, and joins
// them: every chunk decodes to its declared length, and where a chunk
// boundary falls inside a tone burst, the sine keeps its phase and its
// amplitude across it.
func checkGapless(t *testing.T, ctx context.Context, rec recorded, files []*opusFile, toneHz float64) {
	chunks := make([]string, len(rec.Chunks))
	for i, c := range rec.Chunks {
		chunks[i] = base64.StdEncoding.EncodeToString(c.Data)
	}
	type window struct {
		At                                  int
		Amp, Resid, AmpLeft, AmpRight, Slip float64
	}
	type decoded struct {
		Lengths             []int
		Boundaries, Middles []window
	}
	const half = 480 // 10 ms each side
	d, err := chromedp.Run(ctx, chromedp.Evaluate[decoded](
		`decode(`+jsArg(chunks)+`, `+jsArg(toneHz)+`, `+jsArg(half)+`)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("decoded lengths %v\nat boundaries %+v\nmid-chunk %+v", d.Lengths, d.Boundaries, d.Middles)
	for i, l := range d.Lengths {
		if l != files[i].samples() {
			t.Errorf("chunk %d decodes to %d samples; its granule position and pre-skip say %d", i+1, l, files[i].samples())
		}
	}
	// steady: inside a burst on both sides, away from its ramps.
	steady := func(w window) bool { return w.AmpLeft > 0.4 && w.AmpRight > 0.4 }
	checked := 0
	for _, w := range d.Boundaries {
		if !steady(w) {
			continue
		}
		checked++
		// A fresh Opus encoder in hybrid mode (speech at 24 kb/s) lags by
		// about 2.5 samples for its first few hundred ms: tolerated. A lost
		// or repeated packet would be 23 samples, 10 ms 12.
		if math.Abs(w.Slip) > 4 || math.Abs(w.AmpRight-w.AmpLeft) > 0.1*w.AmpLeft {
			t.Errorf("the chunk boundary at sample %d joins badly: the sine slips %.2f samples, amplitude %.3f then %.3f",
				w.At, w.Slip, w.AmpLeft, w.AmpRight)
		}
	}
	for _, w := range d.Middles {
		if steady(w) && math.Abs(w.Slip) > 1 {
			t.Errorf("inside a chunk, around sample %d, the sine slips %.2f samples", w.At, w.Slip)
		}
	}
	if checked == 0 {
		t.Errorf("no chunk boundary fell inside a tone burst: nothing was checked (%+v)", d.Boundaries)
	}
}

// checkPlayed plays the recording's chunks through a Player in a
// listener's tab, as the plan says ([streamId, sequence, chunk index] in
// arrival order), and waits until every chunk sent has played. It checks
// that the tone was detected on the playback path and that Player.playing
// named the streams in the order want.
func checkPlayed(t *testing.T, b *browser.Browser, url string, rec recorded, plan [][3]any, want []string) {
	ctx, listener := openPage(t, b, url, "listener")
	chunks := make([]string, len(rec.Chunks))
	for i, c := range rec.Chunks {
		chunks[i] = base64.StdEncoding.EncodeToString(c.Data)
	}
	type played struct {
		ChunksPlayed int
		ToneOnsets   []float64
		Heard        []string
		PlayingAfter *string
		TookMs       float64
	}
	p, err := chromedp.Run(ctx, chromedp.Evaluate[played](
		`play(`+jsArg(chunks)+`, `+jsArg(plan)+`, 60000)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("played %d of %d chunks in %.0f ms; heard %v; playback onsets %v", p.ChunksPlayed, len(plan), p.TookMs, p.Heard, p.ToneOnsets)
	if p.ChunksPlayed != len(plan) {
		t.Errorf("%d chunks played, want %d", p.ChunksPlayed, len(plan))
	}
	if len(p.ToneOnsets) == 0 {
		t.Error("the tone was not detected on the playback path")
	}
	if !slices.Equal(p.Heard, want) || p.PlayingAfter != nil {
		t.Errorf("Player.playing named %v, then %v at the end; want %v, then null", p.Heard, deref(p.PlayingAfter), want)
	}
	if ex := listener.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page: %q", ex)
	}
}

// A refused microphone is a MicError of kind 'denied', which the client
// turns into an explanation.
func TestRecorderOpenWithTheMicrophoneDeniedIsAMicErrorDenied(t *testing.T) {
	b := browser.New(t, browser.Options{})
	url := serve(t)
	ctx, u := openPage(t, b, url, "refuser")
	if err := u.SetPermission("microphone", cdpbrowser.PermissionSettingDenied); err != nil {
		t.Fatal(err)
	}
	type opened struct {
		OK                  bool
		Name, Kind, Message string
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[opened](`openMic()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if got.OK || got.Name != "MicError" || got.Kind != "denied" {
		t.Fatalf("Recorder.open with the microphone denied: %+v, want a MicError of kind denied", got)
	}
	t.Logf("the recorder says: %s", got.Message)
}
