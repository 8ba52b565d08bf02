package decide

import "github.com/walkie-ptt/walkie/internal/matrix"

// InjectFault makes every event's translation call fault, which may add
// calls or panic (see Decider.fault).
func (d *Decider) InjectFault(fault func(env matrix.Envelope) []matrix.Call) { d.fault = fault }
