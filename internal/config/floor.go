package config

import "github.com/walkie-ptt/walkie/internal/floor"

// FloorDefaults is the floor configuration of a room without a floor_config
// event. ManagePowerLevels is not part of it: it is room setup, done by the
// Matrix adapter, not a rule of the floor engine.
func (c *Config) FloorDefaults() floor.Config {
	f := c.Floor
	return floor.Config{
		StartTimeout:      f.StartTimeout,
		InactivityTimeout: f.InactivityTimeout,
		MaxTalk:           f.MaxTalk,
		PauseGrace:        f.PauseGrace,
		RevokeGrace:       f.RevokeGrace,
		QueueTimeout:      f.QueueTimeout,
		Queue:             f.Queue,
		MaxQueue:          f.MaxQueue,
		PreemptPowerLevel: f.PreemptPowerLevel,
		OneRoomPerDevice:  f.OneRoomPerDevice,
		RateLimit:         f.RateLimit,
		RateWindow:        f.RateWindow,
		Summary:           f.Summary,
	}
}
