package webclient

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/walkie-ptt/walkie/internal/testkit/browser"
)

// Three people in one room, each in a browser of their own: Alice and Bob
// may talk, Carol only listens. What each sees and hears as they take
// turns: a denial in words, the speaker's name, the queue, the handover,
// and the speaker's tone at the listener. Once with Walkie's floor channel,
// once with the browsers refusing to open it (the client falls back to
// room events), and once mixed: Bob without the channel queues behind
// Alice, who asked over it (one queue, one term).
func TestTalkQueueAndHandover(t *testing.T) {
	for _, run := range []struct {
		name  string
		paths [3]string // how Alice, Bob and Carol reach the floor
	}{
		{"floor channel", [3]string{pathChannel, pathChannel, pathChannel}},
		{"room events", [3]string{pathRoom, pathRoom, pathRoom}},
		{"mixed", [3]string{pathChannel, pathRoom, pathChannel}},
	} {
		t.Run(run.name, func(t *testing.T) { talkQueueAndHandover(t, run.paths) })
	}
}

// The ways a client reaches the floor (#talk[data-floor-path]).
const (
	pathChannel = "channel"
	pathRoom    = "room"
)

func talkQueueAndHandover(t *testing.T, paths [3]string) {
	b := browser.New(t, browser.Options{})
	alice, bob, carol := newPerson(t, b, "alice"), newPerson(t, b, "bob"), newPerson(t, b, "carol")
	people := []*person{alice, bob, carol}
	for i, p := range people {
		p.path = paths[i]
		if p.path == pathRoom {
			p.blockFloorChannel()
		}
	}
	// The screenshots in docs/client.md come from the run with the channel.
	docs := paths == [3]string{pathChannel, pathChannel, pathChannel}
	screenshot := func(p *person, name string) {
		if !docs {
			name += "-" + strings.Join(paths[:], "-")
		}
		p.screenshot(name)
	}
	admin := newAdmin(t)
	room := admin.room("Team radio", nil, alice, bob, carol)
	carol.useTouch() // Carol is on a phone

	alice.logIn()
	screenshot(alice, "login")
	alice.submitLogin()
	for _, p := range []*person{bob, carol} {
		p.logIn()
		p.submitLogin()
	}
	// Alice and Carol follow a link to the room; Bob accepts the
	// invitation in the room list.
	alice.openRoom(room.String())
	carol.openRoom(room.String())
	bob.waitText("invites", "Team radio")
	bob.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#invites li[data-room-id=%q] button`, room))))
	for _, p := range people {
		p.waitFloorState("free")
		p.waitText("room-name", "Team radio")
		p.waitText("permit-status", "no talk permit")
		p.waitFloorPath()
	}

	// Permits through the page: Alice for good, Bob for an hour, Carol
	// listen-only.
	alice.click("permit-forever")
	bob.click("permit-1h")
	carol.click("permit-listen")
	alice.waitText("permit-status", "may talk here, with no end date")
	bob.waitText("permit-status", "may talk here until")
	carol.waitText("permit-status", "listens only")
	for _, p := range []*person{alice, bob, carol} {
		p.waitText("listeners", "3 devices have a permit to listen")
	}

	// Carol holds the button: Walkie refuses, and she is told why.
	carol.touchTalk(true)
	carol.waitFloorState("denied")
	carol.waitText("talk-message", "This device is set to listen only")
	carol.touchTalk(false)
	carol.wantRequestPath()
	screenshot(carol, "denied-listen-only")

	// Alice holds the button: she talks, the others see her name and
	// device, and Carol hears her tone.
	alice.pressMouse()
	alice.waitFloorState("talking")
	alice.waitText("floor-status", "You are talking")
	alice.wantRequestPath()
	alice.waitText("floor-time", "s left")
	speaker := fmt.Sprintf("%s (%s) is talking", alice.local, alice.device)
	bob.waitText("floor-status", speaker)
	bob.waitFloorState("busy")
	carol.waitText("floor-status", speaker)
	carol.waitUntil("Alice's tone through the player", `window.walkieDebug.player.stats().toneOnsets.length > 0`)
	for _, p := range people {
		p.waitFloorSource()
	}
	screenshot(alice, "talking")
	screenshot(bob, "listening")

	// Bob holds Space meanwhile: he is queued, first in line.
	bob.pressSpace()
	bob.waitFloorState("queued")
	bob.waitText("queue-position", "1")
	bob.waitText("floor-status", "You are number 1 in the queue")
	bob.wantRequestPath()
	screenshot(bob, "queued")
	heardAlice := carol.toneOnsets()

	// Alice lets go: the floor passes to Bob, who is still holding, and
	// Carol hears him.
	alice.releaseMouse()
	bob.waitFloorState("talking")
	bobSpeaks := fmt.Sprintf("%s (%s) is talking", bob.local, bob.device)
	carol.waitText("floor-status", bobSpeaks)
	alice.waitText("floor-status", bobSpeaks)
	carol.waitUntil("Bob's tone after Alice's", fmt.Sprintf(`window.walkieDebug.player.stats().toneOnsets.length > %d`, heardAlice))

	// Bob's uploads fail for a moment: he is told, his client retries,
	// and Carol goes on hearing him once they pass.
	bob.blockHomeserver("/_matrix/media/v3/upload", true)
	bob.waitText("talk-trouble", "Sending audio failed; retrying")
	bob.blockHomeserver("/_matrix/media/v3/upload", false)
	bob.waitUntil("the uploads going through again", `document.getElementById('talk-trouble').textContent === ''`)
	heard := carol.toneOnsets()
	carol.waitUntil("Bob's tone after the failed uploads", fmt.Sprintf(`window.walkieDebug.player.stats().toneOnsets.length > %d`, heard))

	// Carol reloads the page while Bob talks: she sees him and, from the
	// chunks she missed on, hears him again.
	carol.do(chromedp.Reload())
	carol.waitText("floor-status", bobSpeaks)
	carol.waitUntil("Bob's tone after reloading", `window.walkieDebug.player.stats().toneOnsets.length > 0`)

	// Bob lets go: the floor is free, and both turns are voice messages.
	bob.releaseSpace()
	for _, p := range people {
		p.waitFloorState("free")
	}
	bob.wantRequestPath() // with the channel, the release follows the stopped on it
	alice.waitUntil("two voice messages", `document.querySelectorAll('#messages li[data-broadcast-id]').length === 2`)

	// Alice replays the latest (Bob's) and hears it.
	played := eval[int](alice, `window.walkieDebug.player.stats().chunksPlayed`)
	heard = alice.toneOnsets()
	alice.do(chromedp.Click(chromedp.CSS(`#messages li[data-broadcast-id] button`)))
	alice.waitUntil("the replayed message", fmt.Sprintf(`window.walkieDebug.player.stats().chunksPlayed > %d && window.walkieDebug.player.stats().toneOnsets.length > %d`, played, heard))

	// The room list shows the room and its floor.
	carol.do(chromedp.Click(chromedp.CSS(`.back a`)))
	carol.waitText("rooms", "Team radio")
	carol.waitText("rooms", "free")

	// What went into the room is Element's voice broadcast, as Walkie
	// and other clients read it.
	admin.checkBroadcast(room, alice)
	for _, p := range people {
		p.waitFloorPath() // nobody fell back, nobody reached a blocked channel
		p.noExceptions()
	}
}
