package webclient

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
)

// waitLimit bounds every wait for something a person should see: a
// deadline for failure, not a speed assertion.
const waitLimit = 60 * time.Second

var userSeq atomic.Int64

// person is someone at a browser: a Matrix account and a tab of their own.
type person struct {
	t        *testing.T
	u        *browser.User
	local    string // the account's localpart, which Dendrite also makes the display name
	password string
	userID   string
	device   string     // known once logged in through the form
	crowd    *[]*person // everyone in the test, whose pages a failure shows
	path     string     // how the client reaches the floor: pathChannel, or pathRoom (channel blocked)
}

// crowds lists the people of each test.
var crowds sync.Map // *testing.T → *[]*person

func newPerson(t *testing.T, b *browser.Browser, name string) *person {
	t.Helper()
	local := fmt.Sprintf("%s%d", name, userSeq.Add(1))
	p := &person{t: t, local: local, password: "password-" + local}
	uid, err := shared.HS.RegisterUser(context.Background(), local, p.password, false)
	if err != nil {
		t.Fatal(err)
	}
	p.userID = uid.String()
	crowd, _ := crowds.LoadOrStore(t, &[]*person{})
	p.crowd = crowd.(*[]*person)
	*p.crowd = append(*p.crowd, p)
	p.u = b.NewTestUser(t, local)
	// A phone-sized window: the layout people will mostly see.
	p.do(chromedp.EmulateViewport(400, 860))
	return p
}

func (p *person) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.u.Context(), waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\n%s", p.local, err, p.state())
	}
}

// eval runs a JavaScript expression in the person's page.
func eval[T any](p *person, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.u.Context(), waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.local, js, err)
	}
	return v
}

// state is what the page shows, for failure messages.
func (p *person) state() string {
	ctx, cancel := context.WithTimeout(p.u.Context(), 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		floorState: document.getElementById('talk')?.dataset.floorState,
		floorPath: document.getElementById('talk')?.dataset.floorPath,
		requestPath: document.getElementById('talk')?.dataset.requestPath,
		floorSource: document.getElementById('talk')?.dataset.floorSource,
		floorStatus: document.getElementById('floor-status')?.textContent,
		talkMessage: document.getElementById('talk-message')?.textContent,
		trouble: document.getElementById('talk-trouble')?.textContent,
		queue: document.getElementById('queue-position')?.textContent,
		permit: document.getElementById('permit-status')?.textContent,
		notice: document.getElementById('room-notice')?.textContent,
		connection: document.getElementById('connection')?.textContent,
		loginError: document.getElementById('login-error')?.textContent,
		hash: location.hash,
		recorder: window.walkieDebug?.recorder?.stats(),
		player: window.walkieDebug?.player?.stats(),
		live: window.walkieDebug?.live,
		liveStatus: document.getElementById('live-status')?.textContent,
	})`))
	if err != nil {
		return fmt.Sprintf("(page state unreadable: %v)", err)
	}
	return fmt.Sprintf("%s's page: %s; exceptions: %q", p.local, s, p.u.Exceptions())
}

// everyone is every page's state, this person's first.
func (p *person) everyone() string {
	out := []string{p.state()}
	for _, o := range *p.crowd {
		if o != p {
			out = append(out, o.state())
		}
	}
	return strings.Join(out, "\n")
}

// waitUntil polls a JavaScript condition until it holds.
func (p *person) waitUntil(what, js string) {
	p.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !eval[bool](p, js) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s never saw %s\n%s", p.local, what, p.everyone())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitText waits until the element's text contains want.
func (p *person) waitText(id, want string) {
	p.t.Helper()
	p.waitUntil(fmt.Sprintf("%q in #%s", want, id),
		fmt.Sprintf(`(document.getElementById(%q)?.textContent || '').includes(%q)`, id, want))
}

// waitFloorState waits for the talk button's data-floor-state.
func (p *person) waitFloorState(want string) {
	p.t.Helper()
	p.waitUntil("the talk button in state "+want,
		fmt.Sprintf(`document.getElementById('talk').dataset.floorState === %q`, want))
}

// waitFloorPath waits until the client asks the way the person's browser
// lets it: over the floor channel, or, with the channel blocked, with room
// events once the client has tried the channel and given up for now.
func (p *person) waitFloorPath() {
	p.t.Helper()
	cond := `document.getElementById('talk').dataset.floorPath === 'channel'`
	if p.path == pathRoom {
		cond = `window.walkieDebug.floorPath?.channel?.status === 'unavailable' && document.getElementById('talk').dataset.floorPath === 'room'`
	}
	p.waitUntil("the floor path "+p.path, cond)
}

// wantRequestPath waits until the person's last floor request went their way.
func (p *person) wantRequestPath() {
	p.t.Helper()
	p.waitUntil("the last request sent by "+p.path, fmt.Sprintf(`document.getElementById('talk').dataset.requestPath === %q`, p.path))
}

// waitFloorSource waits until the floor the page shows came the person's
// way: pushed over the channel, or from /sync.
func (p *person) waitFloorSource() {
	p.t.Helper()
	want := "sync"
	if p.path == pathChannel {
		want = "channel"
	}
	p.waitUntil("the floor from "+want, fmt.Sprintf(`document.getElementById('talk').dataset.floorSource === %q`, want))
}

// logIn opens the client and logs in through the form, typing the bare
// name (the client adds the server name from Walkie's config).
func (p *person) logIn() {
	p.t.Helper()
	p.do(chromedp.Navigate(shared.Walkie.WebURL()),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), p.local),
		chromedp.SendKeys(chromedp.ID("login-password"), p.password))
}

func (p *person) submitLogin() {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.ID("login-submit")))
	p.waitText("whoami", p.userID)
	var session struct {
		DeviceID string `json:"deviceId"`
	}
	if err := json.Unmarshal([]byte(eval[string](p, `localStorage.getItem('walkie.session')`)), &session); err != nil || session.DeviceID == "" {
		p.t.Fatalf("%s: no session stored after logging in (%v)", p.local, err)
	}
	p.device = session.DeviceID
}

// openRoom follows a room link, as someone who was sent one would.
func (p *person) openRoom(room string) {
	p.t.Helper()
	p.do(chromedp.Navigate(shared.Walkie.WebURL() + "/#/room/" + room))
}

func (p *person) click(id string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.ID(id)))
}

// talkCenter is where the talk button is on the screen.
func (p *person) talkCenter() (x, y float64) {
	p.t.Helper()
	var c struct{ X, Y float64 }
	raw := eval[string](p, `(() => { const b = document.getElementById('talk'); b.scrollIntoView({block: 'center'});
		const r = b.getBoundingClientRect(); return JSON.stringify({X: r.x + r.width / 2, Y: r.y + r.height / 2}); })()`)
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		p.t.Fatal(err)
	}
	return c.X, c.Y
}

// pressMouse holds the talk button down with the mouse; releaseMouse lets go.
func (p *person) pressMouse() {
	p.t.Helper()
	x, y := p.talkCenter()
	p.do(chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
}

func (p *person) releaseMouse() {
	p.t.Helper()
	x, y := p.talkCenter()
	p.do(chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
}

// touchTalk puts a finger on the talk button (down) or lifts it, on a
// touch screen: the person's page must emulate one (useTouch).
func (p *person) touchTalk(down bool) {
	p.t.Helper()
	x, y := p.talkCenter()
	one, id := 1.0, 0.0
	params := input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{}}
	if down {
		params = input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchStart,
			TouchPoints: []*input.TouchPoint{{X: x, Y: y, RadiusX: &one, RadiusY: &one, Force: &one, ID: &id}}}
	}
	p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.DispatchTouchEvent, params)
		return err
	}))
}

// useTouch makes the person's page a touch screen, as on a phone.
func (p *person) useTouch() {
	p.t.Helper()
	p.do(chromedp.EmulateViewport(400, 860, chromedp.EmulateTouch))
}

// pressSpace and releaseSpace hold the Space key, with the focus on the page.
func (p *person) pressSpace() {
	p.t.Helper()
	eval[bool](p, `document.activeElement?.blur(); true`)
	p.key(input.DispatchKeyEventTypeKeyDown)
}

func (p *person) releaseSpace() {
	p.t.Helper()
	p.key(input.DispatchKeyEventTypeKeyUp)
}

func (p *person) key(typ input.DispatchKeyEventType) {
	p.t.Helper()
	params := input.DispatchKeyEventParams{Type: typ, Key: " ", Code: "Space", WindowsVirtualKeyCode: 32, NativeVirtualKeyCode: 32}
	if typ == input.DispatchKeyEventTypeKeyDown {
		params.Text = " "
	}
	p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, params)
		return err
	}))
}

// blockHomeserver makes the browser fail (or stop failing) every request
// to the homeserver whose path starts with prefix.
func (p *person) blockHomeserver(prefix string, blocked bool) {
	p.t.Helper()
	p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: shared.HS.URL() + prefix + "*", Block: blocked}}})
		return err
	}))
}

// blockFloorChannel makes the browser fail to open Walkie's floor channel
// (the WebSocket), so the client must use room events. Cut off before the
// page loads, the client never reaches the channel.
func (p *person) blockFloorChannel() {
	p.t.Helper()
	ws := "ws" + strings.TrimPrefix(shared.Walkie.WebURL(), "http")
	if err := p.u.CutOff(ws + floorchannel.Path + "*"); err != nil {
		p.t.Fatal(err)
	}
}

// toneOnsets is how many times the person's player has heard the
// speaker's test tone begin.
func (p *person) toneOnsets() int {
	p.t.Helper()
	return eval[int](p, `window.walkieDebug.player.stats().toneOnsets.length`)
}

// docsScreenshots are the screenshots docs/client.md shows.
var docsScreenshots = map[string]bool{"talking": true, "listening": true, "queued": true, "denied-listen-only": true}

// screenshot saves the page in the test's artifact directory (kept with
// go test -artifacts) and, with -update-screenshots, the ones the docs
// show as docs/client/<name>.png.
func (p *person) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.u.Context(), waitLimit)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{p.t.ArtifactDir()}
	if *updateScreenshots && docsScreenshots[name] {
		root, err := checkout.Root()
		if err != nil {
			p.t.Fatal(err)
		}
		dirs = append(dirs, filepath.Join(root, "docs", "client"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
}

// noExceptions fails the test if the page threw anything uncaught.
func (p *person) noExceptions() {
	p.t.Helper()
	if ex := p.u.Exceptions(); len(ex) > 0 {
		p.t.Errorf("%s's page threw: %s", p.local, strings.Join(ex, "\n"))
	}
}
