package openid

// waiting counts the askers waiting for verifications in flight.
func (v *Verifier) waiting() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.inflight {
		n += c.waiters
	}
	return n
}
