package openid

import (
	"strings"
	"testing"
)

func TestServerNames(t *testing.T) {
	for name, want := range map[string]bool{
		"example.org": true, "example.org:8448": true, "127.0.0.1": true, "127.0.0.1:8008": true, "localhost": true,
		"[::1]": true, "[::1]:8008": true, "[2001:db8::1]:8448": true, "[::ffff:192.0.2.1]": true, "a-b.example.org:65535": true,
		"": false, "example.org:": false, "example.org:0": false, "example.org:65536": false, "example.org:99999": false,
		"example.org:08": false, "example.org:+80": false, "example.org:123456": false, "example.org:8448:1": false,
		"exa mple.org": false, "example.org/path": false, "https://example.org": false, "user@example.org": false,
		"[::1": false, "[::1]x": false, "[::1]:": false, "[example.org]": false, "[127.0.0.1]": false, "[fe80::1%eth0]": false,
		strings.Repeat("a", 255): true, strings.Repeat("a", 256): false,
	} {
		if got := ValidServerName(name); got != want {
			t.Errorf("ValidServerName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestCheckServer: the configuration's check of openid_servers is New's.
func TestCheckServer(t *testing.T) {
	for _, tc := range []struct{ name, url, wantErr string }{
		{"example.org", "https://matrix.example.org:8448", ""},
		{"example.org", "http://127.0.0.1:8008/", ""},
		{"example.org:8448", "https://matrix.example.org", ""},
		{"exa mple", "https://x", "not a server name"},
		{"example.org:0", "https://x", "not a server name"},
		{"example.org", "matrix.example.org:8448", "not an http:// or https:// base URL"},
		{"example.org", "", "not an http:// or https:// base URL"},
		{"example.org", "ftp://x", "not an http:// or https:// base URL"},
		{"example.org", "https://x/path", "not an http:// or https:// base URL"},
		{"example.org", "https://u:p@x", "not an http:// or https:// base URL"},
		{"example.org", "https://x?q=1", "not an http:// or https:// base URL"},
		{"example.org", "https://x#f", "not an http:// or https:// base URL"},
	} {
		err := CheckServer(tc.name, tc.url)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("CheckServer(%q, %q) = %v, want %q", tc.name, tc.url, err, tc.wantErr)
		}
		_, newErr := New(Options{Servers: map[string]string{tc.name: tc.url}})
		if (newErr == nil) != (err == nil) {
			t.Errorf("New with %q: %q = %v, but CheckServer says %v", tc.name, tc.url, newErr, err)
		}
	}
}
