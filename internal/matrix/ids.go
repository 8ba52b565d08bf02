package matrix

import "maunium.net/go/mautrix/id"

func idEvent(s string) id.EventID { return id.EventID(s) }
func idRoom(s string) id.RoomID   { return id.RoomID(s) }
func idUser(s string) id.UserID   { return id.UserID(s) }
