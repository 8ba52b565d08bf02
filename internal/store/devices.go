package store

import (
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// The one-floor-per-device check (BusyElsewhere) costs a round trip per
// device when asked one at a time. A transaction deciding several rooms
// knows most of the devices it will ask about before it decides (the
// requesters, the next in a queue about to be freed): it locks them all
// and reads where they hold the floor at once, and BusyElsewhere answers
// for them from memory, with this transaction's own room writes on top.

// holding is a room's holder and membership as this transaction wrote it.
type holding struct {
	holder *floor.Device
	joined bool
}

// queueDeviceLocks queues, for the devices not yet known to tx, their
// advisory locks (in sorted order) and one read of the rooms where the
// devices hold the floor; read reads the answers. Nil read: nothing new.
func (tx *Tx) queueDeviceLocks(b *pgx.Batch, devices []floor.Device) (read func(pgx.BatchResults) error) {
	var keys, users, ids []string
	for _, d := range devices {
		if _, known := tx.devices[d]; known || slices.Contains(keys, deviceKey(d)) {
			continue
		}
		keys = append(keys, deviceKey(d))
		users, ids = append(users, d.UserID), append(ids, d.DeviceID)
	}
	if len(keys) == 0 {
		return nil
	}
	// One statement takes every lock, in the order of the sorted list
	// (the function scan yields it in order; ORDER BY says so).
	b.Queue(`SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest($1::text[]) WITH ORDINALITY AS x(k, o) ORDER BY o`,
		slices.Sorted(slices.Values(keys)))
	// By user on the holder index, the devices sorted out here: cheaper
	// than a join with the list of pairs.
	b.Queue(`SELECT room_id, holder_user, holder_device FROM room WHERE joined AND holder_user = ANY($1)`, users)
	return func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		asked := make(map[floor.Device][]string, len(users))
		for i := range users {
			asked[floor.Device{UserID: users[i], DeviceID: ids[i]}] = nil
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var room string
		var d floor.Device
		_, err = pgx.ForEachRow(rows, []any{&room, &d.UserID, &d.DeviceID}, func() error {
			if held, ok := asked[d]; ok {
				asked[d] = append(held, room)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if tx.devices == nil {
			tx.devices = asked
		} else {
			maps.Copy(tx.devices, asked)
		}
		return nil
	}
}

func deviceKey(d floor.Device) string { return d.UserID + "|" + d.DeviceID }

// LockDevices locks devices the decisions to come will ask about, and
// reads where they hold the floor, in one round trip behind the queued
// writes (see BusyElsewhere).
func (tx *Tx) LockDevices(devices []floor.Device) error {
	b := &pgx.Batch{}
	read := tx.queueDeviceLocks(b, devices)
	if read == nil {
		return nil
	}
	br, err := tx.send(b)
	if err != nil {
		return err
	}
	if err := read(br); err != nil {
		_ = br.Close()
		return tx.owned(err, tx.owner)
	}
	return tx.owned(br.Close(), tx.owner)
}

// busyKnown answers BusyElsewhere for a device LockDevices (or LockRooms)
// locked: a room this transaction saved counts as saved, any other as
// read then (nobody else can grant the device while the lock is held).
func (tx *Tx) busyKnown(roomID string, d floor.Device) (busy, known bool) {
	held, known := tx.devices[d]
	if !known {
		return false, false
	}
	for _, r := range held {
		if _, saved := tx.saved[r]; r != roomID && !saved {
			return true, true
		}
	}
	for r, h := range tx.saved {
		if r != roomID && h.joined && h.holder != nil && *h.holder == d {
			return true, true
		}
	}
	return false, true
}

// noteSaved remembers a room's holder as this transaction writes it.
func (tx *Tx) noteSaved(room *floor.Room, joined bool) {
	if tx.saved == nil {
		tx.saved = map[string]holding{}
	}
	h := holding{joined: joined}
	if room.Holder != nil {
		d := room.Holder.Device
		h.holder = &d
	}
	tx.saved[room.RoomID] = h
}
