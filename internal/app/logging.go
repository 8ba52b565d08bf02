package app

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
)

// NewLogger builds Walkie's logger from the (validated) logging section.
//
// Secrets stay out of the logs by construction: nothing logs the Config as a
// whole, only the fields it names, and tokens are never among them.
func NewLogger(cfg config.LoggingConfig, w io.Writer) zerolog.Logger {
	level, err := zerolog.ParseLevel(cfg.Level)
	if err != nil || level == zerolog.NoLevel {
		level = zerolog.InfoLevel
	}
	if cfg.Format == config.LogFormatPretty {
		w = zerolog.ConsoleWriter{
			Out:        w,
			TimeFormat: time.DateTime,
			// Colour codes would litter a file or the journal.
			NoColor: !isTerminal(w) || os.Getenv("NO_COLOR") != "",
		}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
