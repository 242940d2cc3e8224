package serve

import (
	"context"
	"time"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/server"
)

// startEnrich starts the background service (event enrichment, health checks and
// their notifications); stop stops it, letting running jobs finish for a while (those
// cut short run again on the next start).
func startEnrich(ctx context.Context, env Env, o Options) (server.Enricher, func(), error) {
	notifiers, err := o.Notify.notifiers()
	if err != nil {
		return nil, nil, err
	}
	svc, err := enrich.New(ctx, env.Store, enrich.Options{
		Logger:    env.Log.With("component", "enrich"),
		Cipher:    env.Cipher,
		Client:    connclient.Options{UserAgent: env.UserAgent, Logger: env.Log},
		Notifiers: notifiers,
	})
	if err != nil {
		return nil, nil, err
	}
	// The service works until stop, not until ctx ends: Stop lets running jobs end.
	if err := svc.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, nil, err
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Stop(sctx); err != nil {
			env.Log.Warn("stopping the background service", "err", err)
		}
	}
	return svc, stop, nil
}

// notifiers returns the configured notifiers.
func (n NotifyOptions) notifiers() ([]enrich.Notifier, error) {
	return nil, nil
}
