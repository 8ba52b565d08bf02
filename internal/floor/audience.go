package floor

import (
	"slices"
	"time"
)

// Audience keeps two counts up to date as permits and memberships change,
// so that no decision scans every permit (a room may hold a thousand):
// the valid permits (operators' metrics) and, among them, the listeners
// (the floor state). A permit counts while its user is joined; an expired
// one stays counted until it is replaced or removed, and each count keeps
// the expiry times of its permits to take off those that have passed.
type Audience struct {
	Permits   ExpiringCount `json:"permits"`
	Listeners ExpiringCount `json:"listeners"`
}

// ExpiringCount is a number of permits of which some expire.
type ExpiringCount struct {
	N int `json:"n"`
	// Expiries are the counted permits' expiry times, sorted.
	Expiries []time.Time `json:"expiries,omitempty"`
}

// at is the count of permits not expired at now.
func (c *ExpiringCount) at(now time.Time) int {
	expired, _ := slices.BinarySearchFunc(c.Expiries, now, func(e, now time.Time) int {
		if e.After(now) {
			return 1
		}
		return -1 // expired: !ExpiresAt.After(now)
	})
	return c.N - expired
}

func (c *ExpiringCount) add(expires time.Time) {
	c.N++
	if !expires.IsZero() {
		i, _ := slices.BinarySearchFunc(c.Expiries, expires, time.Time.Compare)
		c.Expiries = slices.Insert(c.Expiries, i, expires)
	}
}

func (c *ExpiringCount) remove(expires time.Time) {
	c.N--
	if !expires.IsZero() {
		if i, found := slices.BinarySearchFunc(c.Expiries, expires, time.Time.Compare); found {
			c.Expiries = slices.Delete(c.Expiries, i, i+1)
		}
	}
}

// audience returns the counts, counting them afresh when the room has
// none (a room stored before they existed, or after a Snapshot).
func (r *Room) audience() *Audience {
	if r.Audience == nil {
		r.Audience = &Audience{}
		for _, p := range r.Permits {
			r.count(p, +1)
		}
	}
	return r.Audience
}

// count adds (sign +1) or takes off (-1) p's share of the counts.
func (r *Room) count(p Permit, sign int) {
	a := r.Audience
	if a == nil || r.Members[p.UserID] != "join" {
		return
	}
	counts := []*ExpiringCount{&a.Permits}
	if p.Receive {
		counts = append(counts, &a.Listeners)
	}
	for _, c := range counts {
		if sign > 0 {
			c.add(p.ExpiresAt)
		} else {
			c.remove(p.ExpiresAt)
		}
	}
}

// putPermit stores p under key, replacing what was there.
func (r *Room) putPermit(key string, p Permit) {
	r.deletePermit(key)
	r.Permits[key] = p
	r.count(p, +1)
}

// deletePermit removes the permit under key, if any.
func (r *Room) deletePermit(key string) {
	if old, ok := r.Permits[key]; ok {
		r.count(old, -1)
		delete(r.Permits, key)
	}
}

// setMembership records user's membership. Joining or leaving moves the
// user's permits into or out of the counts, which needs a scan; other
// changes do not.
func (r *Room) setMembership(user, membership string) {
	wasJoined := r.Members[user] == "join"
	if wasJoined == (membership == "join") || r.Audience == nil {
		r.Members[user] = membership
		return
	}
	for _, p := range r.Permits {
		if p.UserID == user {
			r.count(p, -1)
		}
	}
	r.Members[user] = membership
	for _, p := range r.Permits {
		if p.UserID == user {
			r.count(p, +1)
		}
	}
}
