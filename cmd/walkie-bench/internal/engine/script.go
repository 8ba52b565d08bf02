package engine

import (
	"encoding/json"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
)

// chunksPerTurn is how many voice broadcast chunks a speaker sends per turn.
const chunksPerTurn = 3

// roomScript is the protocol-correct conversation the load generator plays
// in one room, one transaction per step. Each cycle two devices take a turn
// each, so every kind of floor decision happens: A asks for the idle floor
// and is granted; A starts broadcasting with its term; B asks and is
// queued; A sends chunks, then stops, which releases the floor and grants
// it to B from the queue; B broadcasts and stops, leaving the floor idle.
// The next cycle moves on to the next pair of devices.
type roomScript struct {
	roomID  string
	devices []floor.Device

	cycle     int
	step      int
	startedID string // the current speaker's broadcast
}

// Steps of a cycle, in order.
const (
	stepARequest = iota
	stepAStarted
	stepBRequest
	stepAChunks   // chunksPerTurn steps
	stepAStopped  = stepAChunks + chunksPerTurn
	stepBStarted  = stepAStopped + 1
	stepBChunks   = stepBStarted + 1 // chunksPerTurn steps
	stepBStopped  = stepBChunks + chunksPerTurn
	stepsPerCycle = stepBStopped + 1
)

// next returns the next step's event. term is the room's current term as
// last published (what a client would put into `started`); grant reports
// that the step should make Walkie grant the floor, so the generator waits
// for the new floor state before the room's next step.
func (s *roomScript) next(f *roomevents.Builder, term int64) (ev json.RawMessage, grant bool) {
	a := s.devices[s.cycle%len(s.devices)]
	b := s.devices[(s.cycle+1)%len(s.devices)]
	step := s.step
	s.step++
	switch {
	case step == stepARequest:
		ev, _ = f.Request(s.roomID, a, floor.ActionRequest)
		return ev, true
	case step == stepAStarted:
		ev, s.startedID = f.StartedInTerm(s.roomID, a, term)
		return ev, false
	case step == stepBRequest:
		ev, _ = f.Request(s.roomID, b, floor.ActionRequest)
		return ev, false
	case step < stepAStopped:
		return f.Chunk(s.roomID, a, s.startedID, step-stepAChunks+1), false
	case step == stepAStopped:
		return f.Stopped(s.roomID, a, s.startedID, chunksPerTurn), true
	case step == stepBStarted:
		ev, s.startedID = f.StartedInTerm(s.roomID, b, term)
		return ev, false
	case step < stepBStopped:
		return f.Chunk(s.roomID, b, s.startedID, step-stepBChunks+1), false
	default:
		s.step, s.cycle = 0, s.cycle+1
		return f.Stopped(s.roomID, b, s.startedID, chunksPerTurn), false
	}
}
