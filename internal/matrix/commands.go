package matrix

import (
	"strings"

	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
)

// commandPrefix starts an in-room command (`!walkie status`).
const commandPrefix = "!walkie"

// command answers `!walkie …` messages; ok is false for any other message.
func (h *Handler) command(room *floor.Room, env Envelope) (store.Translation, bool) {
	var c struct {
		MsgType string `json:"msgtype"`
		Body    string `json:"body"`
	}
	if decodeContent(env.Content, &c) != nil || c.MsgType != string(event.MsgText) {
		return store.Translation{}, false
	}
	body := strings.TrimSpace(c.Body)
	if body != commandPrefix && !strings.HasPrefix(body, commandPrefix+" ") {
		return store.Translation{}, false
	}
	reply, inputs := h.Commands(room, env.Sender, strings.TrimSpace(strings.TrimPrefix(body, commandPrefix)))
	tr := store.Translation{Inputs: inputs}
	if reply != "" {
		tr.Actions = []store.Action{{Kind: KindMessage, Payload: Request{
			EventType: event.EventMessage.Type, Content: mustJSON(notice(reply, env.EventID))}}}
	}
	return tr, true
}
