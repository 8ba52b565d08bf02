package config

import "github.com/walkie-ptt/walkie/internal/floor"

// FloorDefaults is the floor configuration of a room without a floor_config
// event. ManagePowerLevels is not part of it: it is room setup, done by the
// Matrix adapter, not a rule of the floor engine.
func (c *Config) FloorDefaults() floor.Config { return c.Floor.Config }
