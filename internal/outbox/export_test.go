package outbox

// FinishesWaiting is how many rooms wait for a round of the finisher.
func (s *Sender) FinishesWaiting() int {
	s.finisher.mu.Lock()
	defer s.finisher.mu.Unlock()
	return len(s.finisher.waiting)
}

// TakesHandOffs reports whether Run takes rooms handed off at commit.
func (s *Sender) TakesHandOffs() bool { return s.handOffs.Load() != nil }

// HandOffsWaiting is how many handed-off rooms wait for a free slot.
func (s *Sender) HandOffsWaiting() int {
	if h := s.handOffs.Load(); h != nil {
		return h.Waiting()
	}
	return 0
}
