package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// demoFloor: short timers so the timeout part of the story is quick.
var demoFloor = timers.Floor{StartTimeout: 4 * time.Second, InactivityTimeout: 4 * time.Second, MaxTalk: 30 * time.Second}

type person struct {
	name   string
	c      *mautrix.Client
	device string
}

// options say what `make demo` does once the stack is up.
type options struct {
	// script plays the scripted conversation (printed as carol's client
	// sees it); without it the demo goes straight to the web client.
	script bool
	// wait keeps everything running, with the web client offered, until
	// ctx ends (Ctrl-C); without it the demo tears down at once.
	wait bool
	// live starts LiveKit beside Walkie and switches the room to live mode
	// after the script (which shows broadcast mode).
	live bool
}

// demoPeople are the demo's accounts, all with password "demo-password-<name>".
var demoPeople = []struct{ name, device string }{{"admin", "LAPTOP"}, {"alice", "PHONE"}, {"bob", "RADIO"}, {"carol", "TABLET"}}

func demo(ctx context.Context, out io.Writer, opts options) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	logFile, err := os.CreateTemp("", "walkie-demo-*.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	say("Starting PostgreSQL, Dendrite %s and Walkie (first run builds Dendrite: about 2 minutes)…", dendrite.Version)
	stackOpts := stack.Options{Log: logFile, Floor: demoFloor, LogLevel: "info", Web: true}
	if opts.live {
		// On loopback: no root needed, and a browser on this machine
		// reaches it.
		sfu := &stack.SFU{Log: logFile, Loopback: true}
		defer func() { _ = sfu.Stop() }()
		stackOpts.LiveKit = sfu.Start
		say("…and LiveKit, for live mode")
	}
	s, err := stack.Start(ctx, stackOpts)
	if err != nil {
		return fmt.Errorf("%w (logs: %s)", err, logFile.Name())
	}
	defer s.Stop()
	say("Homeserver %s, Walkie logs in %s\n", s.HS.URL(), logFile.Name())

	people := map[string]*person{}
	for _, p := range demoPeople {
		c, err := s.HS.NewUser(ctx, p.name, "demo-password-"+p.name, p.device)
		if err != nil {
			return err
		}
		people[p.name] = &person{name: p.name, c: c, device: p.device}
	}
	admin, alice, bob, carol := people["admin"], people["alice"], people["bob"], people["carol"]

	say("== admin creates a room and invites Walkie, alice, bob and carol")
	resp, err := admin.c.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Name: "Walkie demo", Preset: "private_chat",
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{admin.c.UserID: 100, id.UserID(s.Walkie.BotUserID()): 100}},
		Invite:             []id.UserID{id.UserID(s.Walkie.BotUserID()), alice.c.UserID, bob.c.UserID, carol.c.UserID},
	})
	if err != nil {
		return err
	}
	room := resp.RoomID
	for _, p := range []*person{alice, bob, carol} {
		if _, err := p.c.JoinRoomByID(ctx, room); err != nil {
			return err
		}
	}
	if opts.script {
		if err := story(ctx, out, s, room, people); err != nil {
			return err
		}
	}
	if opts.live {
		say("\n== admin switches the room to live mode: the audio goes over LiveKit from now on")
		if err := goLive(ctx, admin.c, room); err != nil {
			return err
		}
	}
	if opts.wait {
		offerClient(say, s, opts.live)
		<-ctx.Done()
	}
	say("Tearing down.")
	return nil
}

// offerClient prints how a person joins in through the web client.
func offerClient(say func(string, ...any), s *stack.Stack, live bool) {
	say("\n== Your turn: the web client")
	say("Web client: %s", s.Walkie.WebURL())
	say("Open it in a browser window and in a private window (or another browser: each")
	say("keeps its own login), and log in as two of")
	say("  alice / demo-password-alice")
	say("  bob   / demo-password-bob")
	say("  carol / demo-password-carol")
	say("open the room \"Walkie demo\", press \"Allow talking\", and hold the big button")
	say("(or Space) in one window to hear yourself in the other.")
	if live {
		say("The room is in live mode: the audio goes over LiveKit in real time (the line")
		say("under the meters says \"Live audio: connected\" once the page has joined).")
	}
	say("Metrics: %s", s.Walkie.MetricsURL())
	say("Everything keeps running until Ctrl-C, which tears it all down.")
}

// goLive sends floor_config {"mode": "live"} and waits until Walkie's
// floor state says the room is live.
func goLive(ctx context.Context, admin *mautrix.Client, room id.RoomID) error {
	if _, err := admin.SendStateEvent(ctx, room, matrix.TypeFloorConfig, "", map[string]any{"mode": floor.ModeLive}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err := dendrite.WaitForFloor(ctx, admin, room, func(f floor.FloorState) bool { return f.Mode == floor.ModeLive })
	return err
}

// story is the scripted conversation, printed as carol's client sees it.
func story(ctx context.Context, out io.Writer, s *stack.Stack, room id.RoomID, people map[string]*person) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	alice, bob, carol := people["alice"], people["bob"], people["carol"]
	w := &watcher{out: out, room: room, viewer: carol, names: map[string]string{},
		redacted: map[id.EventID]bool{}, answers: map[string]bool{}}
	for _, p := range people {
		w.names[p.c.UserID.String()] = p.name
	}
	go w.run(ctx)
	if err := w.waitFloor(ctx, func(f floor.FloorState) bool { return f.Holder == nil }); err != nil {
		return err
	}

	say("\n== alice and bob publish talk permits; carol's permit is listen-only")
	for _, p := range []*person{alice, bob} {
		if err := p.permit(ctx, room, true); err != nil {
			return err
		}
	}
	if err := carol.permit(ctx, room, false); err != nil {
		return err
	}
	if err := w.waitFloor(ctx, func(f floor.FloorState) bool { return f.Listeners == 3 }); err != nil {
		return err
	}

	say("\n== alice presses push-to-talk; bob presses a moment later")
	if _, err := alice.request(ctx, room); err != nil {
		return err
	}
	if err := w.waitAnswer(ctx, alice, "granted"); err != nil {
		return err
	}
	if _, err := bob.request(ctx, room); err != nil {
		return err
	}
	if err := w.waitAnswer(ctx, bob, "queued (floor_taken), position 1"); err != nil {
		return err
	}

	say("\n== alice talks: a voice broadcast with real Ogg/Opus chunks, Element's dialect")
	started, err := alice.c.SendStateEvent(ctx, room, matrix.TypeBroadcastInfoElement, alice.c.UserID.String(),
		map[string]any{"state": "started", "device_id": alice.device, "chunk_length": 1, floor.TermKey: 1})
	if err != nil {
		return err
	}
	if err := sendChunks(ctx, alice, room, started.EventID); err != nil {
		return err
	}
	if _, err := alice.c.SendStateEvent(ctx, room, matrix.TypeBroadcastInfoElement, alice.c.UserID.String(),
		map[string]any{"state": "stopped", "m.relates_to": map[string]any{"rel_type": "m.reference", "event_id": started.EventID}}); err != nil {
		return err
	}
	if err := w.waitFloor(ctx, holder(bob)); err != nil {
		return err
	}

	say("\n== carol (listen-only) tries to talk, and starts a broadcast anyway")
	if _, err := carol.request(ctx, room); err != nil {
		return err
	}
	rogue, err := carol.c.SendStateEvent(ctx, room, matrix.TypeBroadcastInfo, carol.c.UserID.String(),
		map[string]any{"state": "started", "device_id": carol.device, "chunk_length": 1})
	if err != nil {
		return err
	}
	if err := w.waitRedaction(ctx, rogue.EventID); err != nil {
		return err
	}
	if err := w.waitAnswer(ctx, carol, "denied (listen_only)"); err != nil {
		return err
	}

	say("\n== bob got the floor but his radio never starts a broadcast: start_timeout")
	if err := w.waitAnswer(ctx, bob, "revoked (no_media)"); err != nil {
		return err
	}

	say("\nThe script is done. Metrics: %s", s.Walkie.MetricsURL())
	say("Admin API token and settings: %s", s.Walkie.ConfigPath())
	return nil
}

func holder(p *person) func(floor.FloorState) bool {
	return func(f floor.FloorState) bool { return f.Holder != nil && f.Holder.UserID == p.c.UserID.String() }
}

func (p *person) permit(ctx context.Context, room id.RoomID, send bool) error {
	key := "_" + p.c.UserID.String() + "_" + p.device
	_, err := p.c.SendStateEvent(ctx, room, matrix.TypePermit, key, map[string]any{"device_id": p.device, "send": send, "receive": true})
	return err
}

func (p *person) request(ctx context.Context, room id.RoomID) (id.EventID, error) {
	resp, err := p.c.SendMessageEvent(ctx, room, matrix.TypeRequest, map[string]any{"action": "request", "device_id": p.device})
	if err != nil {
		return "", err
	}
	return resp.EventID, nil
}

// sendChunks uploads the committed demo clip and sends it as chunks.
func sendChunks(ctx context.Context, p *person, room id.RoomID, started id.EventID) error {
	root, err := checkout.Root()
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(root, "assets", "demo", "chunk-*.ogg"))
	sort.Strings(files)
	if len(files) == 0 {
		return fmt.Errorf("no demo audio in assets/demo")
	}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		up, err := p.c.UploadBytes(ctx, data, "audio/ogg")
		if err != nil {
			return err
		}
		_, err = p.c.SendMessageEvent(ctx, room, event.EventMessage, map[string]any{
			"msgtype": "m.audio", "body": "Voice broadcast chunk", "url": up.ContentURI.String(),
			"info":                             map[string]any{"mimetype": "audio/ogg", "size": len(data)},
			"io.element.voice_broadcast_chunk": map[string]any{"sequence": i + 1},
			"m.relates_to":                     map[string]any{"rel_type": "m.reference", "event_id": started},
		})
		if err != nil {
			return err
		}
		time.Sleep(time.Second) // real time: one chunk a second
	}
	return nil
}

// watcher prints what one listener's client sees through /sync.
type watcher struct {
	out    io.Writer
	room   id.RoomID
	viewer *person
	names  map[string]string

	mu        sync.Mutex
	floor     *floor.FloorState
	redacted  map[id.EventID]bool
	answers   map[string]bool // "user: detail", as printed
	lastFloor string
}

func (w *watcher) name(user string) string {
	if n, ok := w.names[user]; ok {
		return n
	}
	return user
}

func (w *watcher) run(ctx context.Context) {
	since := ""
	for ctx.Err() == nil {
		resp, err := w.viewer.c.SyncRequest(ctx, 5000, since, "", false, event.PresenceOffline)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		since = resp.NextBatch
		joined, ok := resp.Rooms.Join[w.room]
		if !ok {
			continue
		}
		for _, ev := range append(joined.State.Events, joined.Timeline.Events...) {
			w.show(ev)
		}
	}
}

func (w *watcher) show(ev *event.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	stamp := time.Now().Format("15:04:05.000")
	switch ev.Type.Type {
	case floor.TypeFloor:
		var f floor.FloorState
		if json.Unmarshal(ev.Content.VeryRaw, &f) != nil {
			return
		}
		w.floor = &f
		line := "floor is free"
		if f.Holder != nil {
			line = fmt.Sprintf("%s (%s) holds the floor", w.name(f.Holder.UserID), f.Holder.DeviceID)
		}
		var q []string
		for _, d := range f.Queue {
			q = append(q, w.name(d.UserID))
		}
		line = fmt.Sprintf("%s, term %d, queue [%s], %d listeners", line, f.Term, strings.Join(q, ", "), f.Listeners)
		if line != w.lastFloor {
			fmt.Fprintf(w.out, "  %s [carol's client] %s\n", stamp, line)
			w.lastFloor = line
		}
	case floor.TypeResponse:
		var rc matrix.ResponseContent
		if json.Unmarshal(ev.Content.VeryRaw, &rc) != nil || rc.Device == nil {
			return
		}
		detail := string(rc.Status)
		if rc.Reason != "" {
			detail += " (" + string(rc.Reason) + ")"
		}
		if rc.Position > 0 {
			detail += fmt.Sprintf(", position %d", rc.Position)
		}
		w.answers[rc.Device.UserID+": "+detail] = true
		fmt.Fprintf(w.out, "  %s [carol's client] Walkie answers %s: %s\n", stamp, w.name(rc.Device.UserID), detail)
	case event.EventRedaction.Type:
		reason, _ := ev.Content.Raw["reason"].(string)
		w.redacted[ev.Redacts] = true
		fmt.Fprintf(w.out, "  %s [carol's client] Walkie redacted an event: %s\n", stamp, reason)
	case matrix.TypeBroadcastInfo.Type, matrix.TypeBroadcastInfoElement.Type, matrix.TypeBroadcastInfoMSC3888.Type:
		state, _ := ev.Content.Raw["state"].(string)
		if state != "" {
			fmt.Fprintf(w.out, "  %s [carol's client] %s's broadcast: %s\n", stamp, w.name(ev.Sender.String()), state)
		}
	case event.EventMessage.Type:
		if _, ok := ev.Content.Raw["io.element.voice_broadcast_chunk"]; ok {
			fmt.Fprintf(w.out, "  %s [carol's client] audio chunk from %s\n", stamp, w.name(ev.Sender.String()))
		}
	}
}

func (w *watcher) waitFloor(ctx context.Context, pred func(floor.FloorState) bool) error {
	return w.wait(ctx, "the floor state", func() bool { return w.floor != nil && pred(*w.floor) })
}

func (w *watcher) waitRedaction(ctx context.Context, target id.EventID) error {
	return w.wait(ctx, "a redaction", func() bool { return w.redacted[target] })
}

// waitAnswer waits for Walkie's talk_response to p, as the transcript
// prints it ("queued (floor_taken), position 1"): the floor state goes out
// first, so a step that only waited for it could end before its answer.
func (w *watcher) waitAnswer(ctx context.Context, p *person, detail string) error {
	return w.wait(ctx, "the answer "+detail, func() bool { return w.answers[p.c.UserID.String()+": "+detail] })
}

func (w *watcher) wait(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
