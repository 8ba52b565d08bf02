package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
)

// Serve runs the service until ctx is cancelled: the only entry point from
// the command line into the running service.
func Serve(ctx context.Context, cfg *config.Config, log zerolog.Logger, build Build) error {
	svc, err := NewService(ctx, cfg, log, prometheus.NewRegistry(), build)
	if err != nil {
		return err
	}
	defer svc.Close()
	return svc.Run(ctx)
}
