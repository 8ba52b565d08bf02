package floor

// effectOrderRules pin the order of Decision.Effects: the floor state
// first, since every client acts on it, then the responses, redactions and
// notices that explain it, in the order the rules made them. Every row of
// the rule table compares effects in order, so all of them pin it too
// (e.g. "started/busy floor redacts and queues", "grant/next eligible
// queue entry gets the freed floor"); these rows are the ones where the
// rules make the floor change last and several other effects first.
func effectOrderRules() []rule {
	return []rule{
		{
			name:    "order/release: floor state, then the release, then the next grant",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      talk(alice, ActionRelease),
			effects: []string{"floor", "resp ALICE released re $r", "resp BOB granted re $q-BOB"},
			log:     []string{"release", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			name: "order/floor_config: floor state, then the notice on the rejected key, then the trimmed queue's answers",
			room: newTestRoom(holding(alice, PhaseTalking), queued(bob, boss)),
			in: ConfigChange{EventID: "$cfg", Sender: carol.UserID,
				Values: map[string]any{"max_queue": 1.0, "bogus": true}},
			effects: []string{"floor", "notice", "resp BOB cancelled queue_full re $q-BOB"},
			log:     []string{"config", "drop"},
			holder:  &alice,
			queue:   []Device{boss},
		},
	}
}
