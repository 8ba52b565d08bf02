package decide

import (
	"slices"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// A batch locks ahead the devices its decisions will most likely check
// for the one-floor-per-device rule, so the checks cost one round trip
// for the batch instead of one each (store.LockDevices). A guess that
// misses costs nothing but the check's own round trip, as before; one
// that is never asked about only holds that device's lock until the
// commit.

// requesters are the devices that ask for the floor in inputs (explicitly,
// or implicitly with a `started`): the engine checks each of them.
func requesters(inputs []floor.Input) []floor.Device {
	var devs []floor.Device
	for _, in := range inputs {
		switch in := in.(type) {
		case floor.TalkRequest:
			if in.Action == floor.ActionRequest {
				devs = append(devs, floor.Device{UserID: in.Sender, DeviceID: in.DeviceID})
			}
		case floor.BroadcastInfo:
			if in.State == floor.BroadcastStarted {
				devs = append(devs, floor.Device{UserID: in.Sender, DeviceID: in.DeviceID})
			}
		}
	}
	return devs
}

// eventInputs are the engine inputs of envelopes, as far as the codec
// reads them alone (commands and the bot's own membership aside).
func eventInputs(envs []matrix.Envelope) []floor.Input {
	var inputs []floor.Input
	for _, env := range envs {
		if in, ok := matrix.ParseInput(env); ok {
			inputs = append(inputs, in)
		}
	}
	return inputs
}

// nextInQueue is the device the engine checks when the decision frees the
// floor and grants it from the queue: when the floor is free already, or
// inputs or a due deadline may end the turn.
func nextInQueue(locked store.LockedRoom, inputs []floor.Input) []floor.Device {
	r := locked.Room
	if r == nil || !r.Config.OneRoomPerDevice || len(r.Queue) == 0 {
		return nil
	}
	frees := r.Holder == nil
	if due := r.NextDeadline(); !due.IsZero() && !due.After(locked.Now) {
		frees = true
	}
	frees = frees || slices.ContainsFunc(inputs, func(in floor.Input) bool {
		switch in := in.(type) {
		case floor.TalkRequest:
			return in.Action == floor.ActionRelease || in.Action == floor.ActionRevoke
		case floor.BroadcastInfo:
			return in.State == floor.BroadcastStopped
		case floor.AdminRelease:
			return true
		}
		return false
	})
	if !frees {
		return nil
	}
	return []floor.Device{r.Queue[0].Device}
}
