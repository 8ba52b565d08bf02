package matrix

import (
	"strings"

	"maunium.net/go/mautrix/event"
)

// commandPrefix starts an in-room command (`!walkie status`).
const commandPrefix = "!walkie"

// Command reads `!walkie …` from a text message: args is what follows the
// prefix, trimmed; ok is false for any other event.
func Command(env Envelope) (args string, ok bool) {
	if env.Type != event.EventMessage.Type {
		return "", false
	}
	var c struct {
		MsgType string `json:"msgtype"`
		Body    string `json:"body"`
	}
	if decodeContent(env.Content, &c) != nil || c.MsgType != string(event.MsgText) {
		return "", false
	}
	body := strings.TrimSpace(c.Body)
	if body != commandPrefix && !strings.HasPrefix(body, commandPrefix+" ") {
		return "", false
	}
	return strings.TrimSpace(strings.TrimPrefix(body, commandPrefix)), true
}
