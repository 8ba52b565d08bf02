package dendrite

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
)

// Dendrite reads the rendered file with a YAML parser, so values with
// YAML-significant characters must survive quoting.
func TestConfigTemplateQuotesValues(t *testing.T) {
	values := configValues{
		ServerName:               "example.org:8448",
		RegistrationSharedSecret: `s3cr#t: "x"`,
		AppserviceRegistrationPaths: []string{
			`/tmp/with space/reg.yaml`,
			`/tmp/odd: #chars\ "quoted"/reg.yaml`,
		},
	}
	var rendered bytes.Buffer
	if err := configTemplate.Execute(&rendered, values); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Global struct {
			ServerName string `yaml:"server_name"`
		} `yaml:"global"`
		AppServiceAPI struct {
			ConfigFiles []string `yaml:"config_files"`
		} `yaml:"app_service_api"`
		ClientAPI struct {
			Secret string `yaml:"registration_shared_secret"`
		} `yaml:"client_api"`
	}
	if err := yaml.Unmarshal(rendered.Bytes(), &got); err != nil {
		t.Fatalf("rendered config is not YAML: %v\n%s", err, rendered.String())
	}
	if got.Global.ServerName != values.ServerName ||
		got.ClientAPI.Secret != values.RegistrationSharedSecret ||
		!slices.Equal(got.AppServiceAPI.ConfigFiles, values.AppserviceRegistrationPaths) {
		t.Fatalf("round trip changed values: got %+v, want %+v", got, values)
	}
}

func TestConfigTemplateWithoutAppservices(t *testing.T) {
	var rendered bytes.Buffer
	if err := configTemplate.Execute(&rendered, configValues{ServerName: "localhost", RegistrationSharedSecret: "s"}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		AppServiceAPI map[string]any `yaml:"app_service_api"`
	}
	if err := yaml.Unmarshal(rendered.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	// An empty list, not a null: a null would be an empty section header.
	if files, ok := got.AppServiceAPI["config_files"].([]any); !ok || len(files) != 0 {
		t.Fatalf("config_files = %#v, want []", got.AppServiceAPI["config_files"])
	}
}

// The binary cache is keyed on Version; it must name the version the
// tools module actually builds.
func TestDendriteVersionMatchesToolsModule(t *testing.T) {
	root, err := checkout.Root()
	if err != nil {
		t.Fatal(err)
	}
	goMod, err := os.ReadFile(filepath.Join(root, toolsModuleDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := "github.com/matrix-org/dendrite v" + Version
	if !strings.Contains(string(goMod), want) {
		t.Fatalf("%s/go.mod does not require %q", toolsModuleDir, want)
	}
}
