package config

import "github.com/walkie-ptt/walkie/internal/floor"

// FloorDefaults is the floor configuration of a room without a floor_config
// event. ManagePowerLevels is not part of it: no room may change it, so it
// reaches the engine through the decision (floor.Env), not a room's Config.
func (c *Config) FloorDefaults() floor.Config { return c.Floor.Config }
