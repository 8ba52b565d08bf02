package webclient

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/browser"
	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
)

// Live mode: the room's admin switches it to live, and the audio goes over
// LiveKit. Alice holds the button and Bob hears her tone live, also after
// reloading the page; she lets go and he hears nothing more; then Bob
// talks and Alice hears him, until the admin revokes his turn. No voice
// broadcast is recorded or sent.
func TestLiveModeTalk(t *testing.T) {
	b := browser.New(t, browser.Options{})
	alice, bob := newPerson(t, b, "alice"), newPerson(t, b, "bob")
	admin := newAdmin(t)
	room := admin.room("Live radio", nil, alice, bob)
	admin.goLive(room)

	for _, p := range []*person{alice, bob} {
		p.logIn()
		p.submitLogin()
		p.openRoom(room.String())
		p.waitFloorState("free")
		p.click("permit-forever")
		p.waitText("permit-status", "may talk here, with no end date")
	}
	for _, p := range []*person{alice, bob} {
		p.waitText("listeners", "2 devices have a permit to listen")
		p.waitLive("connected")
	}

	// Alice holds the button: she is on the air, and Bob hears her tone.
	alice.pressMouse()
	alice.waitFloorState("talking")
	alice.waitLive("publishing")
	bob.waitText("floor-status", fmt.Sprintf("%s (%s) is talking", alice.local, alice.device))
	bob.waitUntil("Alice's tone, live", `window.walkieDebug.live.toneOnsets.length > 0`)
	bob.waitUntil("Alice's audio at the incoming meter", `document.getElementById('level').value > 0.05`)

	// Bob reloads the page while she talks: he joins again, once, and
	// hears her again.
	bob.do(chromedp.Reload())
	bob.waitLive("connected")
	bob.waitUntil("Alice's tone after reloading", `window.walkieDebug.live.toneOnsets.length > 0`)
	if n := eval[int](bob, `window.walkieDebug.live.joins`); n != 1 {
		t.Errorf("Bob's page joined the LiveKit room %d times after the reload, want once", n)
	}

	// She lets go: the floor is free, her track is gone from Bob's page,
	// and no more of her tone reaches him.
	alice.releaseMouse()
	for _, p := range []*person{alice, bob} {
		p.waitFloorState("free")
	}
	alice.waitLive("connected")
	bob.waitUntil("Alice's track gone", `window.walkieDebug.live.remoteTracks === 0`)
	tone := b.Tone()
	bob.hearsNoMoreLiveTone(2 * (tone.On + tone.Off))

	// Bob talks: Alice hears him, through a publish of his own.
	heard := eval[int](alice, `window.walkieDebug.live.toneOnsets.length`)
	bob.pressMouse()
	bob.waitFloorState("talking")
	bob.waitLive("publishing")
	alice.waitUntil("Bob's tone, live", fmt.Sprintf(`window.walkieDebug.live.toneOnsets.length > %d`, heard))

	// The admin takes the floor from Bob while he still holds the button:
	// he is told, is off the air, and Alice's page loses his track.
	admin.revokeFloor(room)
	bob.waitText("talk-message", "A moderator took the floor from you")
	bob.waitUntil("Bob off the air", `!window.walkieDebug.live.publishing`)
	alice.waitUntil("Bob's track gone", `window.walkieDebug.live.remoteTracks === 0`)
	bob.releaseMouse()
	for _, p := range []*person{alice, bob} {
		p.waitFloorState("free")
	}

	// Nothing went through the room's timeline: no chunk was recorded, and
	// the player played none.
	for _, p := range []*person{alice, bob} {
		if n := eval[int](p, `window.walkieDebug.recorder?.stats().chunksSent ?? 0`); n != 0 {
			t.Errorf("%s's client recorded %d chunks in a live room", p.local, n)
		}
		if n := eval[int](p, `window.walkieDebug.player.stats().chunksPlayed`); n != 0 {
			t.Errorf("%s's player played %d chunks in a live room", p.local, n)
		}
		p.noExceptions()
	}
}

// goLive sends floor_config {"mode": "live"} as the room's admin and waits
// for Walkie's floor state to say the room is live.
func (a *admin) goLive(room id.RoomID) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := a.c.SendStateEvent(ctx, room, matrix.TypeFloorConfig, "", map[string]any{"mode": "live"}); err != nil {
		a.t.Fatal(err)
	}
	seen, err := dendrite.WaitForFloor(ctx, a.c, room, func(f floor.FloorState) bool {
		return f.Mode == floor.ModeLive && f.LiveKitServiceURL != ""
	})
	if err != nil {
		a.t.Fatalf("the floor of %s never went live (last seen %+v): %v", room, seen, err)
	}
}

// revokeFloor takes the floor from its holder, as a room moderator does
// (a talk_request revoke).
func (a *admin) revokeFloor(room id.RoomID) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := a.c.SendMessageEvent(ctx, room, matrix.TypeRequest, map[string]any{"action": "revoke", "device_id": a.c.DeviceID.String()}); err != nil {
		a.t.Fatal(err)
	}
}

// waitLive waits for the live-mode line's state: connected, publishing….
func (p *person) waitLive(state string) {
	p.t.Helper()
	p.waitUntil("live audio "+state, fmt.Sprintf(`document.getElementById('live-status').dataset.liveState === %q`, state))
}

// hearsNoMoreLiveTone checks that no live tone onset arrives for a while
// (a few of the fake microphone's bursts): the audio stopped.
func (p *person) hearsNoMoreLiveTone(d time.Duration) {
	p.t.Helper()
	before := eval[int](p, `window.walkieDebug.live.toneOnsets.length`)
	time.Sleep(d)
	if after := eval[int](p, `window.walkieDebug.live.toneOnsets.length`); after != before {
		p.t.Errorf("%s heard %d more tone onsets after the speaker let go", p.local, after-before)
	}
}
