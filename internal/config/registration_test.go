package config

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestRegistration(t *testing.T) {
	cfg := exampleWithDummyTokens(t)
	data, err := cfg.Registration()
	if err != nil {
		t.Fatal(err)
	}
	// Decoded into maps, not a struct, so a missing key shows as missing
	// rather than as its zero value.
	var reg map[string]any
	if err := yaml.Unmarshal(data, &reg); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"id":                                 "walkie",
		"url":                                "http://localhost:29330",
		"as_token":                           "AS-TOKEN-GENERATED-BY-WALKIE-G",
		"hs_token":                           "HS-TOKEN-GENERATED-BY-WALKIE-G",
		"sender_localpart":                   "walkie",
		"rate_limited":                       false,
		"de.sorunome.msc2409.push_ephemeral": false,
		"receive_ephemeral":                  false,
	} {
		if got, ok := reg[key]; !ok || got != want {
			t.Errorf("%s = %#v (present: %v), want %#v", key, got, ok, want)
		}
	}
	if _, ok := reg["admin_token"]; ok {
		t.Error("the admin token is Walkie's own; the homeserver must not get it")
	}

	namespaces, _ := reg["namespaces"].(map[string]any)
	for _, kind := range []string{"aliases", "rooms"} {
		if list, ok := namespaces[kind].([]any); !ok || len(list) != 0 {
			t.Errorf("namespaces.%s = %#v, want an empty list", kind, namespaces[kind])
		}
	}
	users, _ := namespaces["users"].([]any)
	if len(users) != 1 {
		t.Fatalf("namespaces.users = %#v, want exactly the bot", namespaces["users"])
	}
	user, _ := users[0].(map[string]any)
	if user["exclusive"] != true {
		t.Errorf("the bot's namespace is not exclusive: %#v", user)
	}
	regex, _ := user["regex"].(string)
	if regex != `^@walkie:example\.org$` {
		t.Errorf("regex = %q", regex)
	}
	re := regexp.MustCompile(regex)
	if !re.MatchString("@walkie:example.org") {
		t.Error("the namespace does not match the bot")
	}
	for _, other := range []string{"@walkie:exampleXorg", "@walkie2:example.org", "@xwalkie:example.org",
		"@walkie:example.org.evil.com", "@other:example.org", "@walkie:example.org:8448"} {
		if re.MatchString(other) {
			t.Errorf("the namespace also claims %s", other)
		}
	}
}

func TestRegistrationRefusesAnInvalidConfig(t *testing.T) {
	cfg, err := Parse(ExampleYAML()) // placeholder tokens
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Registration(); len(KeyErrors(err)) == 0 {
		t.Errorf("got %v, want the placeholder tokens refused", err)
	}
}

func TestWriteRegistrationIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registration.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := exampleWithDummyTokens(t)
	if err := cfg.WriteRegistration(path); err != nil {
		t.Fatal(err)
	}
	wantMode(t, path, 0o600)
	want, _ := cfg.Registration()
	if got, _ := os.ReadFile(path); string(got) != string(want) {
		t.Errorf("file holds %q", got)
	}
}
