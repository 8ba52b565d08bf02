package floor

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of the room: Decide mutates a room in place,
// so a copy kept for later (the store's cache of decoded rooms) must share
// nothing with the one decided. It costs a fraction of a JSON round trip.
// clone_test.go fails when a field is added that this does not copy.
func (r *Room) Clone() *Room {
	if r == nil {
		return nil
	}
	c := *r
	if r.Rival != nil {
		rival := *r.Rival
		c.Rival = &rival
	}
	if r.Holder != nil {
		holder := *r.Holder
		c.Holder = &holder
	}
	c.Queue = slices.Clone(r.Queue)
	c.Permits = maps.Clone(r.Permits)
	if r.Audience != nil {
		a := *r.Audience
		a.Permits.Expiries = slices.Clone(a.Permits.Expiries)
		a.Listeners.Expiries = slices.Clone(a.Listeners.Expiries)
		c.Audience = &a
	}
	c.Members = maps.Clone(r.Members)
	c.Power.Users = maps.Clone(r.Power.Users)
	c.Power.Events = maps.Clone(r.Power.Events)
	c.Power.Creators = slices.Clone(r.Power.Creators)
	c.Overrides = cloneJSONObject(r.Overrides)
	c.Revoked = slices.Clone(r.Revoked)
	c.Rate = maps.Clone(r.Rate)
	return &c
}

// cloneJSONObject deep-copies a decoded JSON object (floor_config values).
func cloneJSONObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = cloneJSONValue(v)
	}
	return c
}

func cloneJSONValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneJSONObject(v)
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = cloneJSONValue(e)
		}
		return c
	}
	return v
}
