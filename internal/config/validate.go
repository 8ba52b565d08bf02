package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/openid"
)

// Validate checks the whole configuration and returns one KeyError per
// problem, joined, so an operator can fix them all in one go.
func (c *Config) Validate() error {
	var v validator

	v.httpURL("homeserver.address", c.Homeserver.Address)
	v.serverName("homeserver.domain", c.Homeserver.Domain)

	as := c.AppService
	v.httpURL("appservice.address", as.Address)
	if as.Port == 0 {
		v.add("appservice.port", "missing or 0: set the port Walkie listens on, e.g. 29330")
	} else {
		v.intRange("appservice.port", as.Port, 1, 65535)
	}
	v.required("appservice.id", as.ID)
	if v.required("appservice.bot.username", as.Bot.Username) && !validLocalpart(as.Bot.Username) {
		v.add("appservice.bot.username", "%q may hold only a-z, 0-9, '.', '_' and '-' (Synapse refuses to start with '=', '+' or '/' in an appservice's sender_localpart)", as.Bot.Username)
	}
	v.token("appservice.as_token", as.ASToken)
	v.token("appservice.hs_token", as.HSToken)
	if as.HSToken == as.ASToken && as.HSToken != "" && as.HSToken != TokenPlaceholder {
		v.add("appservice.hs_token", "must differ from as_token: each authenticates a different side")
	}
	// An empty admin token disables the admin API; walkie -g fills it in.
	if as.AdminToken == TokenPlaceholder {
		v.add("appservice.admin_token", "placeholder value; run walkie -g to generate tokens, or leave it empty to disable the admin API")
	} else if as.AdminToken != "" && (as.AdminToken == as.ASToken || as.AdminToken == as.HSToken) {
		v.add("appservice.admin_token", "must differ from as_token and hs_token")
	} else if as.AdminToken != "" {
		v.token("appservice.admin_token", as.AdminToken)
		if len(as.AdminToken) < minAdminTokenLength {
			v.add("appservice.admin_token", "must be at least %d characters; run walkie -g to generate one, or set it to \"\" to disable the admin API", minAdminTokenLength)
		}
	}
	if as.MaxBodyBytes < MinMaxBodyBytes {
		v.add("appservice.max_body_bytes", "must be at least %d (8 MiB): a refused transaction is resent for ever "+
			"and stops delivery to Walkie, and Synapse sends up to 100 events of up to 64 KiB in one", MinMaxBodyBytes)
	}

	v.postgresURL("database.uri", c.Database.URI)
	if c.Database.MaxConns < 1 {
		v.add("database.max_conns", "must be at least 1")
	}

	if c.Metrics.Enabled {
		v.listenAddress("metrics.listen", c.Metrics.Listen)
	}

	if c.Web.Enabled() {
		v.listenAddress("web.listen", c.Web.Listen)
		if c.Web.PublicURL != "" {
			v.httpURL("web.public_url", c.Web.PublicURL)
		}
		if c.Web.HomeserverURL != "" {
			v.httpURL("web.homeserver_url", c.Web.HomeserverURL)
		}
		v.floorChannel(c.Web.FloorChannel)
	} else if c.Web.PublicURL != "" || c.Web.HomeserverURL != "" {
		v.add("web.listen", "missing: public_url and homeserver_url mean nothing without a listener; set listen, e.g. 127.0.0.1:29331")
	}

	v.liveKit(c.LiveKit, c.Web.Enabled())
	v.permissions(c.Permissions)
	v.floor(c.Floor)
	if c.Floor.Config.Live() && !c.LiveKit.Enabled() {
		v.add("floor.mode", "live mode needs an SFU: set up the livekit section (livekit.url), or keep broadcast")
	}

	switch c.Logging.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		v.add("logging.level", "%q is not one of trace, debug, info, warn, error", c.Logging.Level)
	}
	if c.Logging.Format != LogFormatJSON && c.Logging.Format != LogFormatPretty {
		v.add("logging.format", "%q is not one of json, pretty", c.Logging.Format)
	}
	return v.err()
}

// floor checks the room defaults against the ranges the floor engine
// applies to a room's floor_config event (floor.ConfigLimits), so a
// default is never one no room could set.
func (v *validator) floor(f FloorConfig) {
	for _, limit := range floor.ConfigLimits() {
		key := "floor." + limit.Name
		switch limit.Unit {
		case floor.UnitMillis:
			lo, hi := limit.DurationRange()
			v.durationRange(key, *limit.Duration(&f.Config), lo, hi)
		case floor.UnitInteger:
			v.intRange(key, *limit.Int(&f.Config), int(limit.Min), int(limit.Max))
		case floor.UnitChoice:
			if value := *limit.String(&f.Config); !slices.Contains(limit.Choices, value) {
				v.add(key, "%q is not one of %s", value, strings.Join(limit.Choices, ", "))
			}
		}
	}
	// Rooms cannot set these two, so only config.yaml bounds them.
	if f.RateLimit < 0 {
		v.add("floor.rate_limit", "must not be negative (0 disables the limit)")
	}
	// A zero window would make the rate limit meaningless.
	v.durationRange("floor.rate_window", f.RateWindow, time.Second, time.Hour)
}

func (v *validator) floorChannel(fc FloorChannelConfig) {
	const key = "web.floor_channel."
	for i, o := range fc.AllowedOrigins {
		u, err := url.Parse(o)
		if o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil) {
			v.add(fmt.Sprintf("%sallowed_origins[%d]", key, i), "%q is not an origin such as https://app.example.org, nor \"*\"", o)
		}
	}
	if fc.MaxSocketsPerUser < 1 {
		v.add(key+"max_sockets_per_user", "must be at least 1")
	}
	if fc.MaxSockets < 1 {
		v.add(key+"max_sockets", "must be at least 1")
	}
	// openid.New's own check, so a server it would refuse at start-up is
	// refused here, with the key that names it.
	for _, name := range slices.Sorted(maps.Keys(fc.OpenIDServers)) {
		if err := openid.CheckServer(name, fc.OpenIDServers[name]); err != nil {
			v.add(keyPath(key+"openid_servers", name), "%s", err)
		}
	}
}

func (v *validator) permissions(perms map[string]Level) {
	// Sorted, so the same file always yields the same errors.
	for _, who := range slices.Sorted(maps.Keys(perms)) {
		key := keyPath("permissions", who)
		if !validPermissionSubject(who) {
			v.add(key, "%q is not a user ID, a server name or \"*\"", who)
		}
		if level := perms[who]; !level.valid() {
			v.add(key, "%q is not one of block, user, admin", level)
		}
	}
}

// validator collects KeyErrors.
type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func (v *validator) required(key, value string) bool {
	if value == "" {
		v.add(key, "missing")
		return false
	}
	return true
}

func (v *validator) token(key, value string) {
	switch {
	case value == "":
		v.add(key, "missing; run walkie -g to generate tokens")
	case value == TokenPlaceholder:
		v.add(key, "placeholder value; run walkie -g to generate tokens")
	case !safeToken(value):
		v.add(key, "may hold only A-Z, a-z, 0-9 and ._~+/=- (it travels in HTTP headers and YAML); run walkie -g to generate one")
	}
}

func (v *validator) httpURL(key, value string) {
	if !v.required(key, value) {
		return
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(key, "%q is not an http:// or https:// URL", value)
	}
}

// postgresURL checks the database URL without ever echoing it: it usually
// holds a password.
func (v *validator) postgresURL(key, value string) {
	if !v.required(key, value) {
		return
	}
	u, err := url.Parse(value)
	switch {
	case err != nil:
		v.add(key, "not a valid URL; in the user name and password, write %% as %%25, @ as %%40, : as %%3A and / as %%2F")
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		v.add(key, "not a postgres:// URL")
	}
}

func (v *validator) serverName(key, value string) {
	if v.required(key, value) && !openid.ValidServerName(value) {
		v.add(key, "%q is not a server name (a host name, optionally with :port, no scheme)", value)
	}
}

func (v *validator) listenAddress(key, value string) {
	_, port, err := net.SplitHostPort(value)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 1 || n > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err != nil {
		v.add(key, "%q is not a host:port listen address", value)
	}
}

func (v *validator) intRange(key string, value, lo, hi int) {
	if value < lo || value > hi {
		v.add(key, "%d is out of range %d..%d", value, lo, hi)
	}
}

func (v *validator) durationRange(key string, value, lo, hi time.Duration) {
	if value < lo || value > hi {
		v.add(key, "%s is out of range %s..%s", shortDuration(value), shortDuration(lo), shortDuration(hi))
	}
}

// shortDuration prints 1h rather than time.Duration's 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// validLocalpart is the part of the spec's user ID grammar every
// homeserver accepts for an appservice's sender: Synapse refuses to start
// with '=', '+' or '/' in sender_localpart.
var validLocalpart = regexp.MustCompile(`^[a-z0-9._-]+$`).MatchString

// safeToken: what a hand-written token may hold. It travels in HTTP
// headers and query strings and in the registration's YAML, so no spaces,
// quotes, control characters or non-ASCII: base64, base32 and hex fit.
var safeToken = regexp.MustCompile(`^[A-Za-z0-9._~+/=-]+$`).MatchString

// minAdminTokenLength: the admin token guards floor releases and room
// data over HTTP; walkie -g writes 26 random base32 characters.
const minAdminTokenLength = 20

// validPermissionSubject accepts "*", a server name, or a user ID. Existing
// user IDs may predate the strict localpart grammar, so only the server
// part is checked.
func validPermissionSubject(s string) bool {
	if s == "*" {
		return true
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		localpart, server, ok := strings.Cut(rest, ":")
		return ok && localpart != "" && openid.ValidServerName(server)
	}
	return openid.ValidServerName(s)
}
