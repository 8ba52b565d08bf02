package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

// The ways the web client reaches the floor (#talk[data-floor-path]).
const (
	pathChannel = "channel"
	pathRoom    = "room"
)

// The fake microphone's tone (browser.DefaultTone): a burst of burstOn
// every tonePeriod. A turn presses in the silence after a burst and holds
// until the next burst is recorded, so its recording holds exactly one
// onset, and the listener's first onset after it is that burst heard.
const (
	burstOn    = 500 * time.Millisecond
	tonePeriod = 2 * time.Second
	// afterBurst: how long after an onset the burst is surely over (and
	// recorded whole).
	afterBurst = burstOn + 150*time.Millisecond
	// playerRest: how long after the listener heard a turn the next turn's
	// audio may arrive. Its player finishes the last chunk and waits for
	// stragglers before it retires a broadcast; audio arriving before
	// would wait behind it, and count as latency.
	playerRest = 3 * time.Second
)

// clientRoom is one measured room: a talker and a listener, each in a
// browser tab of their own, logged in to the web client.
type clientRoom struct {
	path             string
	talker, listener *clientPage
	lastOnset        float64 // the talker's last microphone onset used (Date.now ms)
	lastEar          float64 // when the listener last heard it
}

// clientPage is a person's tab on the web client.
type clientPage struct {
	name string
	u    *browser.User
}

func newClientRoom(ctx context.Context, s *stack.Stack, b *browser.Browser, name, path string) (*clientRoom, error) {
	p, err := newRoomPeople(ctx, s, name, s.Walkie.BotUserID())
	if err != nil {
		return nil, err
	}
	if err := p.permitRequester(ctx); err != nil {
		return nil, err
	}
	// The client sends Element's broadcast dialect, whose level Walkie's
	// room setup lowers once it has joined.
	if err := waitPowerLevel(ctx, p.requester, p, floor.TypeBroadcastInfoElement); err != nil {
		return nil, err
	}
	r := &clientRoom{path: path}
	for _, c := range []struct {
		page   **clientPage
		client *mautrix.Client
	}{{&r.talker, p.requester}, {&r.listener, p.listener}} {
		page, err := openClientPage(ctx, s, b, c.client, p.room.String(), path)
		if err != nil {
			return nil, err
		}
		*c.page = page
	}
	// Walkie counts the talker's permit (the floor's listeners) before it
	// grants anything.
	if err := r.talker.waitUntil(ctx, "the permit counted", `document.getElementById('listeners').textContent.startsWith('1 ')`); err != nil {
		return nil, err
	}
	if err := r.warmUp(ctx); err != nil {
		return nil, fmt.Errorf("warm-up turn: %w", err)
	}
	return r, nil
}

// warmUp: the first press opens the microphone, a turn of its own,
// unmeasured; its audio (maybe a burst cut in two) is over before the
// first measured turn.
func (r *clientRoom) warmUp(ctx context.Context) error {
	if err := r.talker.hold(ctx, true); err != nil {
		return err
	}
	if err := r.talker.waitUntil(ctx, "the grant", `document.getElementById('talk').dataset.floorState === 'talking'`); err != nil {
		return err
	}
	if err := r.talker.hold(ctx, false); err != nil {
		return err
	}
	if err := r.bothFree(ctx); err != nil {
		return err
	}
	r.lastEar = float64(time.Now().Add(2 * time.Second).UnixMilli()) // the chunk sent may still be playing
	return nil
}

func (r *clientRoom) bothFree(ctx context.Context) error {
	for _, p := range []*clientPage{r.talker, r.listener} {
		if err := p.waitUntil(ctx, "the floor free", `document.getElementById('talk').dataset.floorState === 'free'`); err != nil {
			return err
		}
	}
	return nil
}

// waitPowerLevel waits until the room's power levels name an event type.
func waitPowerLevel(ctx context.Context, c *mautrix.Client, p roomPeople, eventType string) error {
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		var pl event.PowerLevelsEventContent
		if err := c.StateEvent(ctx, p.room, event.StatePowerLevels, "", &pl); err == nil {
			if _, ok := pl.Events[eventType]; ok {
				return nil
			}
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("walkie never set the level of %s in %s", eventType, p.room)
}

// openClientPage opens the web client in a new browser context, logged in
// as c's device (its session stored as the client stores it), on the
// room. On the room path the tab cannot reach the floor channel.
func openClientPage(ctx context.Context, s *stack.Stack, b *browser.Browser, c *mautrix.Client, room, path string) (*clientPage, error) {
	u, err := b.NewUser(ctx, c.UserID.String())
	if err != nil {
		return nil, err
	}
	page := &clientPage{name: c.UserID.String(), u: u}
	web := s.Walkie.WebURL()
	if path == pathRoom {
		if err := u.CutOff("ws" + strings.TrimPrefix(web, "http") + floorchannel.Path + "*"); err != nil {
			return nil, err
		}
	}
	session, err := json.Marshal(map[string]string{"homeserver": s.HS.URL(), "accessToken": c.AccessToken,
		"userId": c.UserID.String(), "deviceId": c.DeviceID.String()})
	if err != nil {
		return nil, err
	}
	if err := page.do(ctx, chromedp.Navigate(web+"/"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem('walkie.session', %q)`, session)),
		chromedp.Navigate(web+"/#/room/"+room), chromedp.Reload()); err != nil {
		return nil, err
	}
	ready := `document.getElementById('talk').dataset.floorState === 'free' && document.getElementById('talk').dataset.floorPath === 'channel'`
	if path == pathRoom {
		// The client tried the channel, failed, and asks with room events.
		ready = `document.getElementById('talk').dataset.floorState === 'free' && window.walkieDebug.floorPath?.channel?.status === 'unavailable'`
	}
	if err := page.waitUntil(ctx, "the room, free, on the "+path+" path", ready); err != nil {
		return nil, err
	}
	return page, page.eval(ctx, probeJS, nil)
}

// probeJS records, in the page, when the talk button is pressed (the
// pointerdown's own time) and when the button first shows this device
// talking, or someone else talking, after the last reset. Date.now()
// milliseconds: the pages and the tone onsets share the machine's clock.
const probeJS = `(() => {
	const talk = document.getElementById('talk');
	window.bench = {press: 0, talking: 0, busy: 0};
	document.addEventListener('pointerdown', (ev) => {
		if (ev.target === talk && !bench.press) bench.press = Date.now() - (performance.now() - ev.timeStamp);
	}, {capture: true});
	new MutationObserver(() => {
		const s = talk.dataset.floorState;
		if (s === 'talking' && !bench.talking) bench.talking = Date.now();
		if (s === 'busy' && !bench.busy) bench.busy = Date.now();
	}).observe(talk, {attributes: true, attributeFilter: ['data-floor-state']});
	return true;
})()`

// pageStateJS is what the page shows, for error messages.
const pageStateJS = `(() => {
	const talk = document.getElementById('talk');
	return {view: location.hash, talk: {...talk?.dataset}, status: document.getElementById('floor-status')?.textContent,
		message: document.getElementById('talk-message')?.textContent, login: document.getElementById('login-error')?.textContent,
		channel: window.walkieDebug?.floorPath?.channel?.status, bench: window.bench,
		recorder: window.walkieDebug?.recorder?.stats().toneOnsets.slice(-3), player: window.walkieDebug?.player?.stats().toneOnsets.slice(-3)};
})()`

// turnTimes is one turn's measurements.
type turnTimes struct {
	pressToGrant, listenerSees, mouthToEar time.Duration
}

// turn: the talker presses in the silence after a tone burst, holds until
// the next burst is recorded, and lets go; the listener hears it. Both
// views show the floor free again before it returns.
func (r *clientRoom) turn(ctx context.Context) (turnTimes, error) {
	var t turnTimes
	for _, p := range []*clientPage{r.talker, r.listener} {
		if err := p.eval(ctx, `(bench.press = bench.talking = bench.busy = 0, true)`, nil); err != nil {
			return t, err
		}
	}
	// The next microphone onset, after the last turn's, with its burst over
	// and the listener's player at rest.
	now := float64(time.Now().UnixMilli())
	onset, err := r.talker.nextOnset(ctx, `window.walkieDebug.recorder?.stats().toneOnsets`,
		max(now, r.lastOnset, r.lastEar+float64((playerRest-afterBurst).Milliseconds())))
	if err != nil {
		return t, err
	}
	if err := sleepUntil(ctx, onset, afterBurst); err != nil {
		return t, err
	}
	if err := r.talker.hold(ctx, true); err != nil {
		return t, err
	}
	var granted [2]float64 // pressed, talking
	var busy float64
	if err := r.talker.waitValue(ctx, "the grant", `bench.press && bench.talking ? [bench.press, bench.talking] : null`, &granted); err != nil {
		return t, err
	}
	press, talking := granted[0], granted[1]
	if err := r.listener.waitValue(ctx, "the talker on the listener's page", `bench.busy || null`, &busy); err != nil {
		return t, err
	}
	// The burst after the press: the recording's only onset.
	mouth, err := r.talker.nextOnset(ctx, `window.walkieDebug.recorder?.stats().toneOnsets`, press)
	if err != nil {
		return t, err
	}
	if mouth > onset+float64((tonePeriod+burstOn).Milliseconds()) {
		return t, fmt.Errorf("the press came late: onset %.0f, press %.0f, next onset %.0f", onset, press, mouth)
	}
	r.lastOnset = mouth
	if err := sleepUntil(ctx, mouth, afterBurst); err != nil {
		return t, err
	}
	if err := r.talker.hold(ctx, false); err != nil {
		return t, err
	}
	ear, err := r.listener.nextOnset(ctx, `window.walkieDebug.player.stats().toneOnsets`, mouth)
	if err != nil {
		return t, err
	}
	r.lastEar = ear
	if err := r.bothFree(ctx); err != nil {
		return t, err
	}
	// The turn went the way measured: a fallback would mix the paths.
	var how string
	if err := r.talker.eval(ctx, `document.getElementById('talk').dataset.requestPath`, &how); err != nil {
		return t, err
	}
	if how != r.path {
		return t, fmt.Errorf("the talker's requests went by %q, not %q", how, r.path)
	}
	ms := func(from, to float64) time.Duration { return time.Duration((to - from) * float64(time.Millisecond)) }
	return turnTimes{pressToGrant: ms(press, talking), listenerSees: ms(press, busy), mouthToEar: ms(mouth, ear)}, nil
}

// sleepUntil waits until after (from Date.now ms) has passed since at.
func sleepUntil(ctx context.Context, at float64, after time.Duration) error {
	until := time.UnixMicro(int64(at * 1000)).Add(after)
	return sleep(ctx, time.Until(until))
}

// hold presses (down) or releases the talk button with the mouse.
func (p *clientPage) hold(ctx context.Context, down bool) error {
	var c struct{ X, Y float64 }
	if err := p.eval(ctx, `(() => { const r = document.getElementById('talk').getBoundingClientRect();
		return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, &c); err != nil {
		return err
	}
	typ := chromedp.MousePressed
	if !down {
		typ = chromedp.MouseReleased
	}
	return p.do(ctx, chromedp.MouseEvent(typ, c.X, c.Y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
}

// nextOnset waits for the first onset after `after` in the list the
// expression gives (Date.now milliseconds).
func (p *clientPage) nextOnset(ctx context.Context, list string, after float64) (float64, error) {
	var onset float64
	err := p.waitValue(ctx, "a tone onset after "+fmt.Sprintf("%.0f", after),
		fmt.Sprintf(`(%s || []).find((t) => t > %f) || null`, list, after), &onset)
	return onset, err
}

// waitValue polls the expression until it is not null, and decodes it.
func (p *clientPage) waitValue(ctx context.Context, what, expr string, out any) error {
	deadline := time.Now().Add(waitLimit)
	for {
		var raw json.RawMessage
		if err := p.eval(ctx, expr, &raw); err != nil {
			return err
		}
		if string(raw) != "null" {
			return json.Unmarshal(raw, out)
		}
		if time.Now().After(deadline) {
			var state json.RawMessage
			_ = p.eval(ctx, pageStateJS, &state)
			return fmt.Errorf("%s never saw %s within %s; the page: %s", p.name, what, waitLimit, state)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

func (p *clientPage) waitUntil(ctx context.Context, what, cond string) error {
	var ok bool
	return p.waitValue(ctx, what, fmt.Sprintf(`(%s) || null`, cond), &ok)
}

func (p *clientPage) eval(ctx context.Context, expr string, out any) error {
	tab, cancel := p.tab(ctx)
	defer cancel()
	v, err := chromedp.Run(tab, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("%s: %s: %w", p.name, expr, err)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(v, out)
}

func (p *clientPage) do(ctx context.Context, actions ...chromedp.Action[chromedp.Void]) error {
	tab, cancel := p.tab(ctx)
	defer cancel()
	if err := chromedp.Do(tab, actions...); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// tab is the tab's context for one action: bounded by waitLimit, and
// ended with ctx (the run's).
func (p *clientPage) tab(ctx context.Context) (context.Context, context.CancelFunc) {
	tab, cancel := context.WithTimeout(p.u.Context(), waitLimit)
	stop := context.AfterFunc(ctx, cancel)
	return tab, func() { stop(); cancel() }
}
