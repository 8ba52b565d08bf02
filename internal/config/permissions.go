package config

import "strings"

// Level is what a user may do with Walkie, from the permissions section.
type Level string

// Permission levels, from least to most.
const (
	// LevelBlock: Walkie ignores the user's invites and commands.
	LevelBlock Level = "block"
	// LevelUser may invite the bot into a room.
	LevelUser Level = "user"
	// LevelAdmin may also use admin commands.
	LevelAdmin Level = "admin"
)

// rank orders the levels; an unknown level ranks below block.
func (l Level) rank() int {
	switch l {
	case LevelBlock:
		return 1
	case LevelUser:
		return 2
	case LevelAdmin:
		return 3
	}
	return 0
}

func (l Level) valid() bool { return l.rank() > 0 }

// Allows reports whether l grants at least what need requires, so
// `level.Allows(LevelUser)` is true for users and admins.
func (l Level) Allows(need Level) bool { return l.rank() >= need.rank() && l.valid() }

// PermissionLevel is the level of userID: the entry for the user ID itself
// wins over the entry for its server name, which wins over "*". Without any
// matching entry the user is blocked.
func (c *Config) PermissionLevel(userID string) Level {
	if level, ok := c.Permissions[userID]; ok {
		return level
	}
	// A localpart never contains a colon, so everything after the first one
	// is the server name, port included.
	if _, server, ok := strings.Cut(userID, ":"); ok {
		if level, ok := c.Permissions[server]; ok {
			return level
		}
	}
	if level, ok := c.Permissions["*"]; ok {
		return level
	}
	return LevelBlock
}
