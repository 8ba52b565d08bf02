package voice

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

// waitLimit bounds each wait; a bench that hangs is a failed bench.
const waitLimit = 60 * time.Second

// pollEvery is how often a page is asked for its state while waiting: it
// bounds how late the bench sees a burst begin before pressing.
const pollEvery = 10 * time.Millisecond

// page is one person's tab with the web client, logged in as a user of
// its own (the session put where the client keeps it: no login form).
type page struct {
	name   string
	u      *browser.User
	client *mautrix.Client
	webURL string
}

func openPage(ctx context.Context, s *stack.Stack, b *browser.Browser, local string) (*page, error) {
	password := "bench-password-" + local
	c, err := s.HS.NewUser(ctx, local, password, strings.ToUpper(local))
	if err != nil {
		return nil, err
	}
	u, err := b.NewUser(ctx, local)
	if err != nil {
		return nil, err
	}
	session, err := json.Marshal(map[string]string{"homeserver": s.HS.URL(), "accessToken": c.AccessToken,
		"userId": c.UserID.String(), "deviceId": c.DeviceID.String()})
	if err != nil {
		return nil, err
	}
	p := &page{name: local, u: u, client: c, webURL: s.Walkie.WebURL()}
	if err := p.do(chromedp.Navigate(p.webURL)); err != nil {
		return nil, err
	}
	var ok bool
	if err := p.eval(fmt.Sprintf(`localStorage.setItem('walkie.session', %q), true`, session), &ok); err != nil {
		return nil, err
	}
	return p, nil
}

// openRoom loads the client on the room's link.
func (p *page) openRoom(room string) error {
	return p.do(chromedp.Navigate(p.webURL+"/#/room/"+room), chromedp.Reload())
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.u.Context(), waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// eval runs a JavaScript expression and decodes its value into out.
func (p *page) eval(js string, out any) error {
	ctx, cancel := context.WithTimeout(p.u.Context(), waitLimit)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](js))
	if err != nil {
		return fmt.Errorf("%s: evaluate %s: %w", p.name, js, err)
	}
	return json.Unmarshal(raw, out)
}

// evalAwait is eval for an expression whose value is a promise.
func (p *page) evalAwait(js string, out any) error {
	ctx, cancel := context.WithTimeout(p.u.Context(), waitLimit)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("%s: evaluate %s: %w", p.name, js, err)
	}
	return json.Unmarshal(raw, out)
}

// waitUntil polls a JavaScript condition until it holds.
func (p *page) waitUntil(ctx context.Context, what, js string) error {
	_, err := waitFor(ctx, p, what, js, func(ok bool) bool { return ok })
	return err
}

// waitFor polls a JavaScript expression until pred accepts its value.
func waitFor[T any](ctx context.Context, p *page, what, js string, pred func(T) bool) (T, error) {
	deadline := time.Now().Add(waitLimit)
	for {
		var v T
		if err := p.eval(js, &v); err != nil {
			return v, err
		}
		if pred(v) {
			return v, nil
		}
		if time.Now().After(deadline) {
			return v, fmt.Errorf("%s never saw %s; its page: %s", p.name, what, p.state())
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// floorState waits for the talk button's data-floor-state.
func (p *page) floorState(ctx context.Context, want string) error {
	return p.waitUntil(ctx, "the floor "+want, fmt.Sprintf(`document.getElementById('talk').dataset.floorState === %q`, want))
}

// mouse presses the talk button (down) or lets it go.
func (p *page) mouse(down bool) error {
	var c struct{ X, Y float64 }
	err := p.eval(`(() => { const r = document.getElementById('talk').getBoundingClientRect();
		return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, &c)
	if err != nil {
		return err
	}
	typ := chromedp.MouseReleased
	if down {
		typ = chromedp.MousePressed
	}
	return p.do(chromedp.MouseEvent(typ, c.X, c.Y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
}

// state is what the page shows and its audio objects say, for errors.
func (p *page) state() string {
	var s json.RawMessage
	err := p.eval(`({floor: document.getElementById('talk')?.dataset.floorState,
		status: document.getElementById('floor-status')?.textContent,
		message: document.getElementById('talk-message')?.textContent,
		live: document.getElementById('live-status')?.textContent,
		liveStats: window.walkieDebug?.live, recorder: window.walkieDebug?.recorder?.stats(),
		player: window.walkieDebug?.player?.stats()})`, &s)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return string(s)
}
