package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
)

// serve runs the service until ctx is cancelled: the only entry point from
// the command line into the running service.
func serve(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	svc, err := NewService(ctx, cfg, log, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	defer svc.Close()
	return svc.Run(ctx)
}
