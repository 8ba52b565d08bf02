package matrix

import (
	"fmt"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// parseRedaction reads which event an m.room.redaction strips: the
// top-level `redacts` up to room version 10, content.redacts from 11 on.
// Synapse serves both, each copied from the one the room version uses, so
// they agree; other servers may serve only one. Where both are set and
// differ, one of them is the sender's own invention (before version 11
// content is free-form) and without the room version the codec cannot
// tell which: the redaction is invalid, and the engine ignores it.
func parseRedaction(ev Envelope) floor.Redaction {
	rd := floor.Redaction{EventID: ev.EventID, Sender: ev.Sender, Redacts: ev.Redacts}
	var inContent, problem string
	if c, err := contentFields(ev.Content); err == nil {
		inContent, problem = c.id("redacts")
	}
	switch {
	case ev.Redacts == "" && problem != "":
		rd.Invalid = "content: " + problem
	case ev.Redacts == "":
		rd.Redacts = inContent
	case inContent != "" && inContent != ev.Redacts:
		rd.Invalid = fmt.Sprintf("redacts %s and content.redacts %s name different events", ev.Redacts, inContent)
	}
	if rd.Invalid == "" && rd.Redacts == "" {
		rd.Invalid = "names no event to redact"
	}
	if rd.Invalid != "" {
		rd.Redacts = ""
	}
	return rd
}
