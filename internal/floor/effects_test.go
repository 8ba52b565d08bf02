package floor

// effectOrderRules pin the order of Decision.Effects: the responses,
// redactions and notices in the order the rules made them, and the floor
// state first when the decision grants (the new holder waits for it), last
// otherwise (so the room holds the whole decision by the time clients see
// the floor change, and the next press does not queue behind it in the
// homeserver). Every row of the rule table compares effects in order, so
// all of them pin it too; these rows are the ones where the rules make
// the floor change last and several other effects first.
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
			name:    "order/release to nobody: the release first, the idle floor state last",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      talk(alice, ActionRelease),
			effects: []string{"resp ALICE released re $r", "floor"},
			log:     []string{"release"},
			term:    7,
		},
		{
			name: "order/floor_config: the notice on the rejected key, the trimmed queue's answers, then the floor state",
			room: newTestRoom(holding(alice, PhaseTalking), queued(bob, boss)),
			in: ConfigChange{EventID: "$cfg", Sender: carol.UserID,
				Values: map[string]any{"max_queue": 1.0, "bogus": true}},
			effects: []string{"notice", "resp BOB cancelled queue_full re $q-BOB", "floor"},
			log:     []string{"config", "drop"},
			holder:  &alice,
			queue:   []Device{boss},
		},
	}
}
