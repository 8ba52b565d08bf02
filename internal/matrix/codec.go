package matrix

import (
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Kinds of outbound call: each is one Matrix request the outbox makes.
const (
	KindState     = "state"      // PUT /rooms/{room}/state/{type}/{key}
	KindMessage   = "message"    // PUT /rooms/{room}/send/{type}/{txn}
	KindRedact    = "redact"     // PUT /rooms/{room}/redact/{event}/{txn}
	KindJoin      = "join"       // POST /rooms/{room}/join
	KindLeave     = "leave"      // POST /rooms/{room}/leave (declining an invite)
	KindLoadState = "load_state" // GET /rooms/{room}/state, then a Snapshot decision
	// KindSetupPowerLevels: GET /rooms/{room}/state/m.room.power_levels,
	// then PUT it back with the levels Room setup finds missing.
	KindSetupPowerLevels = "setup_power_levels"
	// KindMediaPermission: not a Matrix call but the SFU's (live mode):
	// let Request.Device publish its microphone, or not.
	KindMediaPermission = "media_permission"
)

// Call is one outbound Matrix request, as an outbox row stores it.
type Call struct {
	Kind    string
	Request Request
}

// Request is the payload of a call (the JSON of an outbox row).
type Request struct {
	EventType string          `json:"event_type,omitempty"`
	StateKey  *string         `json:"state_key,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	EventID   string          `json:"event_id,omitempty"`
	Reason    string          `json:"reason,omitempty"`
	// Device and Allow are a media_permission call's.
	Device *floor.Device `json:"device,omitempty"`
	Allow  bool          `json:"allow,omitempty"`
}

// StateKeyOrEmpty is the state key of a state call ("" when unset).
func (r Request) StateKeyOrEmpty() string {
	if r.StateKey == nil {
		return ""
	}
	return *r.StateKey
}

// Payload encodes the request for the outbox.
func (c Call) Payload() (json.RawMessage, error) { return json.Marshal(c.Request) }

// Calls that are not engine effects.
var (
	JoinCall      = Call{Kind: KindJoin}
	LoadStateCall = Call{Kind: KindLoadState}
)

// LeaveCall declines an invite, saying why.
func LeaveCall(reason string) Call { return Call{Kind: KindLeave, Request: Request{Reason: reason}} }

// NoticeCall posts an m.notice, replying to relatesTo when it is set.
func NoticeCall(text, relatesTo string) Call {
	return Call{Kind: KindMessage, Request: Request{EventType: event.EventMessage.Type, Content: mustJSON(notice(text, relatesTo))}}
}

// Render turns an engine effect into the Matrix call that carries it out;
// ok is false for an effect kind the codec does not know (a bug).
func Render(eff floor.Effect) (c Call, ok bool) {
	switch eff.Kind {
	case floor.EffectFloorState:
		empty := ""
		return Call{Kind: KindState, Request: Request{EventType: floor.TypeFloor, StateKey: &empty, Content: mustJSON(eff.Floor)}}, true
	case floor.EffectResponse:
		content := ResponseContent{Response: *eff.Response}
		if eff.Response.InReplyTo != "" {
			content.RelatesTo = &event.RelatesTo{Type: event.RelReference, EventID: idEvent(eff.Response.InReplyTo)}
		}
		return Call{Kind: KindMessage, Request: Request{EventType: floor.TypeResponse, Content: mustJSON(content)}}, true
	case floor.EffectRedact:
		return Call{Kind: KindRedact, Request: Request{EventID: eff.EventID, Reason: string(eff.Reason)}}, true
	case floor.EffectNotice:
		return NoticeCall(eff.Text, eff.RelatesTo), true
	case floor.EffectSetupPowerLevels:
		// No levels in the call: the outbox reads the latest power levels
		// when it sends, and adds what is missing then.
		return Call{Kind: KindSetupPowerLevels}, true
	case floor.EffectMediaPermission:
		return Call{Kind: KindMediaPermission, Request: Request{Device: eff.Device, Allow: eff.Allow}}, true
	}
	return Call{}, false
}

func notice(text, relatesTo string) map[string]any {
	c := map[string]any{"msgtype": event.MsgNotice, "body": text}
	if relatesTo != "" {
		c["m.relates_to"] = event.RelatesTo{Type: event.RelReference, EventID: idEvent(relatesTo)}
	}
	return c
}

// mustJSON marshals values built from Walkie's own types, which cannot fail.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("matrix: marshal %T: %v", v, err))
	}
	return b
}

// Membership is the membership an m.room.member event gives its state
// key's user; ok is false for any other event.
func Membership(env Envelope) (userID, membership string, ok bool) {
	if env.Type != event.StateMember.Type || !env.isState() {
		return "", "", false
	}
	var c struct {
		Membership string `json:"membership"`
	}
	_ = decodeContent(env.Content, &c)
	return env.stateKey(), c.Membership, true
}

// IsEncrypted reports an m.room.encrypted event: ParseInput reads its
// plaintext m.relates_to as a chunk reference, which only counts when it
// references a broadcast the engine tracks.
func IsEncrypted(env Envelope) bool { return env.Type == event.EventEncrypted.Type }
