package outbox

// FinishesWaiting is how many rooms wait for a round of the finisher.
func (s *Sender) FinishesWaiting() int {
	s.finisher.mu.Lock()
	defer s.finisher.mu.Unlock()
	return len(s.finisher.waiting)
}
