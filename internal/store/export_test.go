package store

// RoomCacheHits counts the locks the store answered from its cache of
// decoded rooms.
func (s *Store) RoomCacheHits() int64 { return s.rooms.hits.Load() }

// CachedRooms is how many decoded rooms the store keeps.
func (s *Store) CachedRooms() int { return s.rooms.len() }

// The statements whose plans the plan tests check: a batch lock's and the
// outbox's.
const (
	LockRoomsSQL     = lockRoomsSQL
	PendingEventsSQL = pendingEventsSQL
	GenericPlans     = genericPlans
	ClaimSQL         = claimSQL
	ReleaseSQL       = releaseSQL
)
