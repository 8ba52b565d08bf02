package matrix

import "maunium.net/go/mautrix/id"

func idEvent(s string) id.EventID { return id.EventID(s) }
