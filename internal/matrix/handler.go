package matrix

import (
	"encoding/json"
	"fmt"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Outbox action kinds: each is one Matrix request made by the Sender.
const (
	KindState     = "state"      // PUT /rooms/{room}/state/{type}/{key}
	KindMessage   = "message"    // PUT /rooms/{room}/send/{type}/{txn}
	KindRedact    = "redact"     // PUT /rooms/{room}/redact/{event}/{txn}
	KindJoin      = "join"       // POST /rooms/{room}/join
	KindLeave     = "leave"      // POST /rooms/{room}/leave (declining an invite)
	KindLoadState = "load_state" // GET /rooms/{room}/state, then a Snapshot decision
)

// Request is the payload of an outbox row.
type Request struct {
	EventType string          `json:"event_type,omitempty"`
	StateKey  *string         `json:"state_key,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	EventID   string          `json:"event_id,omitempty"`
	Reason    string          `json:"reason,omitempty"`
}

// Handler is the Matrix side of a floor decision (it implements
// store.Handler): raw events in, Matrix requests out.
type Handler struct {
	Controller string
	// MayInvite says whether an inviter may bring the bot into a room
	// (config permissions).
	MayInvite func(userID string) bool
	// Commands answers `!walkie` commands; nil disables them.
	Commands CommandFunc
	Log      zerolog.Logger
}

// CommandFunc answers an in-room command with notice text ("" for none).
type CommandFunc func(room *floor.Room, sender, args string) (reply string, inputs []floor.Input)

var _ store.Handler = (*Handler)(nil)

// Translate implements store.Handler.
func (h *Handler) Translate(room *floor.Room, ev store.InboxEvent) store.Translation {
	env, err := ParseEnvelope(ev.Raw)
	if err != nil {
		h.Log.Warn().Err(err).Str("event_id", ev.EventID).Msg("Ignoring malformed event")
		return store.Translation{}
	}
	if env.Type == event.StateMember.Type && env.stateKey() == h.Controller {
		return h.ownMembership(env)
	}
	if h.Commands != nil && env.Type == event.EventMessage.Type && env.Sender != h.Controller {
		if tr, ok := h.command(room, env); ok {
			return tr
		}
	}
	in, ok := ParseInput(env)
	if !ok {
		return store.Translation{}
	}
	if env.Type == event.EventEncrypted.Type && !knowsBroadcast(room, in.(floor.Chunk).BroadcastEventID) {
		// An encrypted m.reference to something that is not a broadcast
		// (a poll answer, say) is none of Walkie's business.
		return store.Translation{}
	}
	return store.Translation{Inputs: []floor.Input{in}}
}

func (h *Handler) ownMembership(env Envelope) store.Translation {
	var c struct {
		Membership string `json:"membership"`
	}
	_ = decodeContent(env.Content, &c)
	joined, left := true, false
	switch c.Membership {
	case "invite":
		if h.MayInvite != nil && h.MayInvite(env.Sender) {
			h.Log.Info().Str("room_id", env.RoomID).Str("inviter", env.Sender).Msg("Accepting invite")
			return store.Translation{Actions: []store.Action{{Kind: KindJoin, Payload: Request{}}}}
		}
		h.Log.Info().Str("room_id", env.RoomID).Str("inviter", env.Sender).Msg("Declining invite from a user without permission")
		return store.Translation{Actions: []store.Action{{Kind: KindLeave, Payload: Request{
			Reason: fmt.Sprintf("%s may not invite Walkie (see permissions in its config)", env.Sender)}}}}
	case "join":
		return store.Translation{Joined: &joined, Actions: []store.Action{{Kind: KindLoadState, Payload: Request{}}}}
	case "leave", "ban":
		return store.Translation{Joined: &left}
	}
	return store.Translation{}
}

// knowsBroadcast reports whether eventID is a broadcast the engine tracks.
func knowsBroadcast(room *floor.Room, eventID string) bool {
	if room.Holder != nil && room.Holder.BroadcastEventID == eventID {
		return true
	}
	for _, rb := range room.Revoked {
		if rb.EventID == eventID {
			return true
		}
	}
	return false
}

// Render implements store.Handler.
func (h *Handler) Render(room *floor.Room, eff floor.Effect) []store.Action {
	switch eff.Kind {
	case floor.EffectFloorState:
		empty := ""
		return []store.Action{{Kind: KindState, Payload: Request{EventType: floor.TypeFloor, StateKey: &empty, Content: mustJSON(eff.Floor)}}}
	case floor.EffectResponse:
		content := ResponseContent{Response: *eff.Response}
		if eff.Response.InReplyTo != "" {
			content.RelatesTo = &event.RelatesTo{Type: event.RelReference, EventID: idEvent(eff.Response.InReplyTo)}
		}
		return []store.Action{{Kind: KindMessage, Payload: Request{EventType: floor.TypeResponse, Content: mustJSON(content)}}}
	case floor.EffectRedact:
		return []store.Action{{Kind: KindRedact, Payload: Request{EventID: eff.EventID, Reason: eff.Reason}}}
	case floor.EffectNotice:
		return []store.Action{{Kind: KindMessage, Payload: Request{EventType: event.EventMessage.Type, Content: mustJSON(notice(eff.Text, eff.RelatesTo))}}}
	}
	h.Log.Error().Str("kind", string(eff.Kind)).Msg("Unknown effect kind; dropped")
	return nil
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
