package config

import "testing"

func TestPermissionLevel(t *testing.T) {
	cfg := &Config{Permissions: map[string]Level{
		"*":                    LevelBlock,
		"example.org":          LevelUser,
		"@admin:example.org":   LevelAdmin,
		"@mallory:example.org": LevelBlock,
		"ports.example:8448":   LevelAdmin,
		"@alice:friends.net":   LevelUser,
		"friends.net":          LevelBlock,
	}}
	for _, tt := range []struct {
		user string
		want Level
	}{
		{"@admin:example.org", LevelAdmin},     // user ID entry
		{"@bob:example.org", LevelUser},        // server entry
		{"@mallory:example.org", LevelBlock},   // user ID beats its server
		{"@alice:friends.net", LevelUser},      // user ID beats a blocked server
		{"@carol:friends.net", LevelBlock},     // server entry
		{"@eve:elsewhere.com", LevelBlock},     // "*"
		{"@op:ports.example:8448", LevelAdmin}, // the server name keeps its port
		{"@op:ports.example", LevelBlock},      // ...and without it is another server
	} {
		if got := cfg.PermissionLevel(tt.user); got != tt.want {
			t.Errorf("PermissionLevel(%q) = %q, want %q", tt.user, got, tt.want)
		}
	}

	everyone := &Config{Permissions: map[string]Level{"*": LevelUser}}
	if got := everyone.PermissionLevel("@anyone:anywhere.net"); got != LevelUser {
		t.Errorf(`with only "*": user: got %q`, got)
	}
	none := &Config{}
	if got := none.PermissionLevel("@anyone:example.org"); got != LevelBlock {
		t.Errorf("without permissions: got %q, want block", got)
	}
}

func TestLevelAllows(t *testing.T) {
	for _, tt := range []struct {
		level, need Level
		want        bool
	}{
		{LevelAdmin, LevelAdmin, true},
		{LevelAdmin, LevelUser, true},
		{LevelUser, LevelUser, true},
		{LevelUser, LevelAdmin, false},
		{LevelBlock, LevelUser, false},
		{Level("owner"), LevelBlock, false}, // an unknown level allows nothing
	} {
		if got := tt.level.Allows(tt.need); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v", tt.level, tt.need, got)
		}
	}
}
