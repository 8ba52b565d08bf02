package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/walkie-ptt/walkie/internal/app"
	"github.com/walkie-ptt/walkie/internal/config"
)

// Version, Commit and BuildTime describe the build. Release builds set them:
//
//	go build -ldflags "-X main.Version=v1.0.0
//	  -X main.Commit=$(git rev-parse HEAD)
//	  -X main.BuildTime=$(date -u +%FT%TZ)"
//
// Left empty, they fall back to what the go command stamps into every
// binary: the module version and the VCS revision and time.
var (
	Version   string
	Commit    string
	BuildTime string
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2 // as package flag uses for a bad command line
)

type options struct {
	configPath       string
	registrationPath string
	generate         bool
	example          bool
	version          bool
	help             bool
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return exitUsage
	}
	switch {
	case opts.help:
		printUsage(stdout)
		return exitOK
	case opts.version:
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case opts.example:
		return writeExample(opts.configPath, stdout, stderr)
	case opts.generate:
		return generateRegistration(opts.configPath, opts.registrationPath, stdout, stderr)
	}
	return start(opts.configPath, stderr)
}

// parseFlags reads the command line. Every flag has a short and a long
// name, both accepted with one dash or two, as package flag does.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	flags := flag.NewFlagSet("walkie", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { printUsage(stderr) }
	for _, name := range []string{"c", "config"} {
		flags.StringVar(&opts.configPath, name, "config.yaml", "")
	}
	for _, name := range []string{"r", "registration"} {
		flags.StringVar(&opts.registrationPath, name, "registration.yaml", "")
	}
	boolFlags := map[*bool][]string{
		&opts.generate: {"g", "generate-registration"},
		&opts.example:  {"e", "generate-example-config"},
		&opts.version:  {"v", "version"},
		// Defined here rather than left to package flag, so help goes to
		// stdout and exits 0.
		&opts.help: {"h", "help"},
	}
	for p, names := range boolFlags {
		for _, name := range names {
			flags.BoolVar(p, name, false, "")
		}
	}
	if err := flags.Parse(args); err != nil {
		return opts, err
	}
	if flags.NArg() > 0 {
		return opts, usageError(stderr, "unexpected argument %q", flags.Arg(0))
	}
	if opts.generate && opts.example {
		return opts, usageError(stderr, "-e and -g go one at a time: first -e, then edit, then -g")
	}
	return opts, nil
}

func usageError(stderr io.Writer, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	fmt.Fprintf(stderr, "%v\n", err)
	printUsage(stderr)
	return err
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: walkie [flags]

Walkie is a Matrix appservice that gives rooms push-to-talk floor control.

Flags:
  -c, --config PATH                the config file (default config.yaml)
  -r, --registration PATH          where -g writes the registration (default registration.yaml)
  -g, --generate-registration      generate tokens into the config, write the registration
  -e, --generate-example-config    write the example config to the -c path
  -v, --version                    print the version
  -h, --help                       print this help

First run:
  walkie -e -c config.yaml                          # then edit config.yaml
  walkie -g -c config.yaml -r registration.yaml     # then register it with the homeserver
  walkie -c config.yaml
`)
}

// versionString is `walkie <version> (commit <commit>, built <time>)`.
func versionString() string {
	version, commit, built := Version, Commit, BuildTime
	if info, ok := debug.ReadBuildInfo(); ok {
		stamp := map[string]string{}
		for _, s := range info.Settings {
			stamp[s.Key] = s.Value
		}
		if version == "" && info.Main.Version != "(devel)" {
			version = info.Main.Version
		}
		if commit == "" && stamp["vcs.revision"] != "" {
			commit = stamp["vcs.revision"]
			if stamp["vcs.modified"] == "true" {
				commit += "-dirty"
			}
		}
		built = cmp.Or(built, stamp["vcs.time"])
	}
	return fmt.Sprintf("walkie %s (commit %s, built %s)", cmp.Or(version, "dev"), cmp.Or(commit, "unknown"), cmp.Or(built, "unknown"))
}

func writeExample(path string, stdout, stderr io.Writer) int {
	if err := config.WriteExample(path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(stderr, "walkie: %s already exists; not overwriting it\n", path)
		} else {
			fmt.Fprintf(stderr, "walkie: %v\n", err)
		}
		return exitError
	}
	fmt.Fprintf(stdout, "Wrote the example config to %s. Edit it, then run walkie -g -c %s.\n", path, path)
	return exitOK
}

// generateRegistration writes fresh tokens into the config, then the
// registration built from it. Should the second write fail, the two files
// disagree until -g succeeds, which the message says.
func generateRegistration(configPath, registrationPath string, stdout, stderr io.Writer) int {
	cfg, err := config.GenerateTokens(configPath)
	if err != nil {
		reportConfigError(stderr, configPath, err)
		return exitError
	}
	if err := cfg.WriteRegistration(registrationPath); err != nil {
		fmt.Fprintf(stderr, "walkie: %s has new tokens, but the registration could not be written (%v); run walkie -g again\n", configPath, err)
		return exitError
	}
	fmt.Fprintf(stdout, "Wrote new tokens into %s and the registration to %s.\n"+
		"Register it with the homeserver (Synapse: app_service_config_files; Dendrite: app_service_api.config_files; conduwuit, continuwuity and Conduit: an admin-room command; README.md, \"Registering with the homeserver\") and restart the homeserver.\n",
		configPath, registrationPath)
	return exitOK
}

// start runs the service until SIGINT or SIGTERM.
func start(configPath string, stderr io.Writer) int {
	cfg, err := config.Load(configPath)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		reportConfigError(stderr, configPath, err)
		return exitError
	}
	log := app.NewLogger(cfg.Logging, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Once shutdown has begun, a second signal kills at once.
	context.AfterFunc(ctx, stop)

	log.Info().
		Str("version", versionString()).
		Str("config", configPath).
		Str("bot", cfg.BotUserID()).
		Str("homeserver", cfg.Homeserver.Address).
		Msg("Starting Walkie")
	err = app.Serve(ctx, cfg, log, app.Build{Version: Version, Commit: Commit})
	// A service that stops because it was told to has stopped cleanly, even
	// if it says so with context.Canceled.
	if err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		log.Error().Err(err).Msg("Walkie stopped on an error")
		return exitError
	}
	log.Info().Msg("Walkie stopped")
	return exitOK
}

// reportConfigError prints a config error under the file's name, one
// problem a line, with a hint where the file is missing.
func reportConfigError(stderr io.Writer, path string, err error) {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		fmt.Fprintf(stderr, "walkie: %v\n", err)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "walkie -e -c %s writes an example to start from.\n", path)
		}
		return
	}
	fmt.Fprintf(stderr, "walkie: %s:\n", path)
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintf(stderr, "  %s\n", line)
	}
}
