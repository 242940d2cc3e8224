package serve

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/testknobs"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
)

// startEnrich starts the background service (event enrichment, health checks and
// their notifications) and returns it with the clients of the stored connections,
// which the REST server shares (one set of clients per process: one limiter per
// budget, and every request to VirusTotal counted in m); stop stops the service,
// letting running jobs finish for a while (those cut short run again on the next
// start).
func startEnrich(ctx context.Context, env Env, o Flags, m *server.Metrics) (server.Enricher, *connclient.Pool, func(), error) {
	notifiers, err := o.Notify.notifiers()
	if err != nil {
		return nil, nil, nil, err
	}
	files, err := store.NewFileStore(filepath.Join(o.DataDir, store.FilesDir), env.Store)
	if err != nil {
		return nil, nil, nil, err
	}
	eopts := enrich.Options{
		Logger: env.Log.With("component", "enrich"),
		Cipher: env.Cipher,
		Client: connclient.Options{UserAgent: env.UserAgent, Logger: env.Log, Quota: env.Quota,
			Secrets: secret.NewResolver(o.SecretCacheTTL)},
		Notifiers:    notifiers,
		RunRetention: o.RunRetention,
		Files:        files,
		MaxFileSize:  o.MaxFileSize,
	}
	k, err := testknobs.Load(os.Getenv) // none in a binary built without them
	if err != nil {
		return nil, nil, nil, cmdutil.Usagef("%v", err)
	}
	k.Enrich(&eopts)
	copts := eopts.ClientOptions()
	copts.WrapTransport = m.Transport
	clients := connclient.NewPool(env.Store, env.Cipher, copts)
	eopts.Clients = clients
	svc, err := enrich.New(ctx, env.Store, eopts)
	if err != nil {
		return nil, nil, nil, err
	}
	// The service works until stop, not until ctx ends: Stop lets running jobs end.
	if err := svc.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, nil, nil, err
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Stop(sctx); err != nil {
			env.Log.WarnContext(sctx, "stopping the background service", "error", err)
		}
	}
	return svc, clients, stop, nil
}

// notifiers returns the configured notifiers: e-mail when an SMTP host is given, a
// signed webhook when a URL is.
func (n NotifyFlags) notifiers() ([]enrich.Notifier, error) {
	var out []enrich.Notifier
	if n.SMTPHost != "" {
		tlsMode := enrich.StartTLSRequired
		if !n.SMTPStartTLS {
			tlsMode = enrich.StartTLSOpportunistic
		}
		e := &enrich.Email{Host: n.SMTPHost, Port: n.SMTPPort, From: n.SMTPFrom, To: n.SMTPTo,
			Username: n.SMTPUser, PasswordRef: n.SMTPPasswordRef, TLS: tlsMode}
		if err := e.Validate(); err != nil {
			return nil, cmdutil.Usagef("%v (see --smtp-* flags)", err)
		}
		out = append(out, e)
	} else if n.SMTPFrom != "" || len(n.SMTPTo) > 0 || n.SMTPUser != "" {
		return nil, cmdutil.Usagef("--smtp-from, --smtp-to and --smtp-user need --smtp-host")
	}
	if n.WebhookURL != "" {
		u, err := url.Parse(n.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, cmdutil.Usagef("--webhook-url must be an http(s) URL")
		}
		if !secret.IsReference(n.WebhookSecretRef) {
			return nil, cmdutil.Usagef("--webhook-url needs --webhook-secret as env:NAME or file:PATH (bodies are signed with HMAC-SHA256)")
		}
		out = append(out, &enrich.Webhook{URL: n.WebhookURL, SecretRef: n.WebhookSecretRef})
	} else if n.WebhookSecretRef != "" {
		return nil, cmdutil.Usagef("--webhook-secret needs --webhook-url")
	}
	return out, nil
}
