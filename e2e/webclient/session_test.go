package webclient

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/testkit/browser"
)

// As a room widget: the client opens at ?roomId=…&widgetId=…, is logged
// in with an access token, joins and shows that room, keeps the session
// across a reload, and forgets it on logout.
func TestWidgetWithAccessTokenSurvivesReload(t *testing.T) {
	b := browser.New(t, browser.Options{})
	dave := newPerson(t, b, "dave")
	room := newAdmin(t).room("Widget room", nil, dave)
	c, err := shared.HS.Login(context.Background(), dave.local, dave.password, "TOKENDEVICE")
	if err != nil {
		t.Fatal(err)
	}
	widgetURL := fmt.Sprintf("%s/?roomId=%s&userId=%s&widgetId=walkie", shared.Walkie.WebURL(),
		url.QueryEscape(room.String()), url.QueryEscape(dave.userID))
	dave.do(chromedp.Navigate(widgetURL),
		chromedp.WaitVisible(chromedp.ID("login-user")))
	if got := eval[string](dave, `document.getElementById('login-user').value`); got != dave.userID {
		t.Errorf("the login form suggests %q, want the widget's user %s", got, dave.userID)
	}
	dave.do(chromedp.Click(chromedp.CSS("#login-form summary")),
		chromedp.SendKeys(chromedp.ID("login-token"), c.AccessToken),
		chromedp.Click(chromedp.ID("login-submit")))
	dave.waitText("whoami", dave.userID+" · device TOKENDEVICE")
	dave.waitFloorState("free") // the widget's room, joined
	dave.waitText("room-name", "Widget room")
	if !eval[bool](dave, `document.body.classList.contains('widget')`) {
		t.Error("the page does not use the widget layout")
	}

	// A permit for a chosen number of minutes, then revoked.
	dave.do(chromedp.SetValue(chromedp.ID("permit-minutes"), "90"))
	dave.click("permit-custom")
	dave.waitText("permit-status", "(1 h 30 min left)")
	dave.click("permit-revoke")
	dave.waitText("permit-status", "no talk permit")

	dave.do(chromedp.Reload())
	dave.waitText("whoami", dave.userID)
	dave.waitFloorState("free")

	dave.click("logout")
	dave.waitUntil("the login form after logging out", `!document.getElementById('login-view').hidden`)
	if eval[bool](dave, `localStorage.getItem('walkie.session') !== null`) {
		t.Error("the session is still stored after logging out")
	}
	dave.noExceptions()
}

// What goes wrong is said plainly: an encrypted room it cannot talk in, a
// microphone the browser refuses, a homeserver it cannot reach (and the
// recovery).
func TestTroubleIsExplained(t *testing.T) {
	b := browser.New(t, browser.Options{})
	erin := newPerson(t, b, "erin")
	encryption := &event.Event{Type: event.StateEncryption, StateKey: new(string),
		Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: "m.megolm.v1.aes-sha2"}}}
	a := newAdmin(t)
	room := a.room("Secret room", []*event.Event{encryption}, erin)
	erin.logIn()
	erin.submitLogin()
	erin.openRoom(room.String())
	erin.waitText("floor-status", "end-to-end encrypted")
	erin.waitFloorState("off")
	if !eval[bool](erin, `document.getElementById('talk').disabled`) {
		t.Error("the talk button is enabled in an encrypted room")
	}
	erin.screenshot("encrypted")

	// The microphone refused, as a person who clicked "Block" would.
	frank := newPerson(t, b, "frank")
	if err := frank.u.SetPermission("microphone", cdpbrowser.PermissionSettingDenied); err != nil {
		t.Fatal(err)
	}
	open := a.room("Open room", nil, frank)
	frank.logIn()
	frank.submitLogin()
	frank.openRoom(open.String())
	frank.waitFloorState("free")
	frank.click("permit-forever")
	frank.waitText("permit-status", "may talk here")
	frank.pressMouse()
	frank.waitText("talk-message", "The browser does not let Walkie use the microphone")
	frank.waitFloorState("denied")
	frank.releaseMouse()
	frank.screenshot("microphone-refused")
	frank.noExceptions()

	// Cut the homeserver off; a message makes the pending /sync return,
	// and the next one fails.
	erin.blockHomeserver("/", true)
	if _, err := a.c.SendText(context.Background(), room, "hello"); err != nil {
		t.Fatal(err)
	}
	erin.waitUntil("the connection shown as lost", `document.getElementById('connection').dataset.state !== 'ok'`)
	erin.waitText("connection", "Connection to the homeserver lost")
	erin.screenshot("connection-lost")
	erin.blockHomeserver("/", false)
	erin.waitUntil("the connection back", `document.getElementById('connection').dataset.state === 'ok' && document.getElementById('connection').hidden`)
	erin.noExceptions()
}
