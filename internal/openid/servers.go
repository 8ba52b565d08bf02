package openid

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// CheckServer says why a configured server (Options.Servers: a server
// name and the base URL of its federation API) cannot be used, or nil.
// The configuration's validation calls it, so a file New would refuse is
// refused when it is loaded, with the same rules.
func CheckServer(name, baseURL string) error {
	_, err := parseServer(name, baseURL)
	return err
}

// parseServer checks a configured server and returns its base URL
// without the trailing slash's path.
func parseServer(name, baseURL string) (*url.URL, error) {
	if !ValidServerName(name) {
		return nil, fmt.Errorf("%q is not a server name (a host name, optionally with :port, no scheme)", name)
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// base URL such as https://matrix.example.org:8448", baseURL)
	}
	u.Path = ""
	return u, nil
}

// ValidServerName reports whether s is a Matrix server name: a DNS name,
// an IPv4 address or a bracketed IPv6 address, with an optional port
// (1 to 65535, no leading zero). It is the one check of server names:
// tokens' and user IDs' here, and the configuration's (homeserver.domain,
// openid_servers, permissions).
func ValidServerName(s string) bool {
	host, port, ok := splitServerName(s)
	if !ok {
		return false
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || strings.Trim(port, "0123456789") != "" {
			return false
		}
	}
	if strings.HasPrefix(host, "[") {
		// No zone (fe80::1%eth0): it names an interface of the asker's.
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		return err == nil && a.Is6() && a.Zone() == "" && strings.HasSuffix(host, "]")
	}
	if host == "" || len(host) > 255 {
		return false
	}
	return !strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	})
}

// splitServerName splits "host[:port]", keeping an IPv6 host's brackets.
func splitServerName(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false
		}
		host, rest := s[:end+1], s[end+1:]
		if rest == "" {
			return host, "", true
		}
		port, ok := strings.CutPrefix(rest, ":")
		return host, port, ok && port != ""
	}
	host, port, found := strings.Cut(s, ":")
	if found && port == "" {
		return "", "", false
	}
	return host, port, true
}
