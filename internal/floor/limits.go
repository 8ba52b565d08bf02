package floor

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Unit is how a floor_config key's value is written.
type Unit string

const (
	// UnitMillis: integer milliseconds in floor_config, under the key
	// Name+"_ms"; config.yaml writes a Go duration (30s) under Name.
	UnitMillis  Unit = "milliseconds"
	UnitInteger Unit = "integer"
	UnitBoolean Unit = "boolean"
	// UnitChoice: one of the strings in Choices.
	UnitChoice Unit = "choice"
)

// ConfigLimit is one key a room may set in floor_config: how it is
// written, the range it must lie in and the Config field it sets.
// config.yaml's floor defaults obey the same ranges (internal/config
// validates them with this table), so a default is never one that no room
// could set.
type ConfigLimit struct {
	// Name is the key in config.yaml's floor section; Key is floor_config's.
	Name string
	Unit Unit
	// Min and Max bound the value as floor_config writes it, milliseconds
	// for UnitMillis. Boolean and choice keys have no range.
	Min, Max int64
	// Choices are a UnitChoice key's values.
	Choices []string
	// OperatorOnly keys are set in config.yaml alone: they protect the
	// server from a room's members, so a room may not raise them.
	OperatorOnly bool
	// The Config field the key sets: Duration for UnitMillis, Int for
	// UnitInteger, Bool for UnitBoolean, String for UnitChoice. The others
	// are nil.
	Duration func(*Config) *time.Duration
	Int      func(*Config) *int
	Bool     func(*Config) *bool
	String   func(*Config) *string
}

// configLimits are the floor_config keys in the order PROTOCOL.md ("Timers
// and floor_config") and config.yaml list them, then the operator's own
// keys. Timers are integer milliseconds in floor_config because JSON has
// no durations.
var configLimits = []ConfigLimit{
	millis("start_timeout", time.Second, time.Minute, func(c *Config) *time.Duration { return &c.StartTimeout }),
	millis("inactivity_timeout", 2*time.Second, 10*time.Minute, func(c *Config) *time.Duration { return &c.InactivityTimeout }),
	millis("max_talk", time.Second, time.Hour, func(c *Config) *time.Duration { return &c.MaxTalk }),
	millis("pause_grace", 0, 5*time.Minute, func(c *Config) *time.Duration { return &c.PauseGrace }),
	millis("revoke_grace", 0, time.Minute, func(c *Config) *time.Duration { return &c.RevokeGrace }),
	millis("queue_timeout", time.Second, time.Hour, func(c *Config) *time.Duration { return &c.QueueTimeout }),
	boolean("queue", func(c *Config) *bool { return &c.Queue }),
	integer("max_queue", 0, 100, func(c *Config) *int { return &c.MaxQueue }),
	integer("preempt_power_level", 0, 100, func(c *Config) *int { return &c.PreemptPowerLevel }),
	// PROTOCOL.md makes the summary notice "optional, per room".
	boolean("summary", func(c *Config) *bool { return &c.Summary }),
	// PROTOCOL.md "Live mode": where the audio goes, and so what the floor
	// holds (live.go).
	choice("mode", []string{ModeBroadcast, ModeLive}, func(c *Config) *string { return &c.Mode }),
	operatorOnly(integer("max_permits_per_user", 1, 100, func(c *Config) *int { return &c.MaxPermitsPerUser })),
	operatorOnly(integer("max_permits_per_room", 1, 10000, func(c *Config) *int { return &c.MaxPermitsPerRoom })),
}

// limitsByKey finds a floor_config key's limit.
var limitsByKey = func() map[string]ConfigLimit {
	m := make(map[string]ConfigLimit, len(configLimits))
	for _, l := range configLimits {
		m[l.Key()] = l
	}
	return m
}()

// ConfigLimits returns the floor_config keys with their ranges (a copy:
// the engine's own table cannot be changed from outside).
func ConfigLimits() []ConfigLimit { return slices.Clone(configLimits) }

func millis(name string, lo, hi time.Duration, field func(*Config) *time.Duration) ConfigLimit {
	return ConfigLimit{Name: name, Unit: UnitMillis, Min: lo.Milliseconds(), Max: hi.Milliseconds(), Duration: field}
}

func integer(name string, lo, hi int64, field func(*Config) *int) ConfigLimit {
	return ConfigLimit{Name: name, Unit: UnitInteger, Min: lo, Max: hi, Int: field}
}

func operatorOnly(l ConfigLimit) ConfigLimit {
	l.OperatorOnly = true
	return l
}

func boolean(name string, field func(*Config) *bool) ConfigLimit {
	return ConfigLimit{Name: name, Unit: UnitBoolean, Bool: field}
}

func choice(name string, choices []string, field func(*Config) *string) ConfigLimit {
	return ConfigLimit{Name: name, Unit: UnitChoice, Choices: choices, String: field}
}

// Key is the key in a room's floor_config content.
func (l ConfigLimit) Key() string {
	if l.Unit == UnitMillis {
		return l.Name + "_ms"
	}
	return l.Name
}

// DurationRange is a UnitMillis key's range as durations.
func (l ConfigLimit) DurationRange() (lo, hi time.Duration) {
	return time.Duration(l.Min) * time.Millisecond, time.Duration(l.Max) * time.Millisecond
}

// rule says how a valid value looks, for the notice rejecting a key.
func (l ConfigLimit) rule() string {
	switch l.Unit {
	case UnitMillis:
		return fmt.Sprintf("an integer from %d to %d (milliseconds)", l.Min, l.Max)
	case UnitInteger:
		return fmt.Sprintf("an integer from %d to %d", l.Min, l.Max)
	case UnitChoice:
		return "one of " + strings.Join(l.Choices, ", ")
	}
	return "true or false"
}

// apply sets the key's field to v and reports whether v was valid; an
// invalid v leaves c alone.
func (l ConfigLimit) apply(c *Config, v any) bool {
	switch l.Unit {
	case UnitBoolean:
		b, ok := v.(bool)
		if ok {
			*l.Bool(c) = b
		}
		return ok
	case UnitChoice:
		str, ok := v.(string)
		if ok = ok && slices.Contains(l.Choices, str); ok {
			*l.String(c) = str
		}
		return ok
	}
	n, ok := asInteger(v)
	if !ok || n < l.Min || n > l.Max {
		return false
	}
	if l.Unit == UnitMillis {
		*l.Duration(c) = time.Duration(n) * time.Millisecond
	} else {
		*l.Int(c) = int(n)
	}
	return true
}

// asInteger accepts what encoding/json produces for an integer (float64,
// or json.Number with UseNumber) and Go integers; 1.5, "5" and NaN are not.
func asInteger(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}
