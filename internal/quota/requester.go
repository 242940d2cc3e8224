package quota

import "context"

// Requesters the ledger records units for, besides GatewayRequester and
// UserRequester.
const (
	// RequesterCLI is a command run by the vtsoar CLI.
	RequesterCLI = "cli"
	// RequesterEnrichment is the background enrichment of events.
	RequesterEnrichment = "enrichment"
	// RequesterHealthCheck is a scheduled connection test.
	RequesterHealthCheck = "health-check"
)

// GatewayRequester names the requests of the gateway key called name.
func GatewayRequester(name string) string { return "gateway:" + name }

// UserRequester names the requests of the REST API's (and the console's) user name.
func UserRequester(name string) string { return "user:" + name }

type requesterKey struct{}

// WithRequester returns a context whose requests' units are recorded in the ledger as
// spent for who (see the Requester constants), so that a budget's use can be broken
// down by requester (Usage.Requesters).
func WithRequester(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, requesterKey{}, who)
}

// WithDefaultRequester is WithRequester unless ctx names a requester already.
func WithDefaultRequester(ctx context.Context, who string) context.Context {
	if RequesterFrom(ctx) != "" {
		return ctx
	}
	return WithRequester(ctx, who)
}

// RequesterFrom returns the requester ctx carries ("" for none).
func RequesterFrom(ctx context.Context) string {
	who, _ := ctx.Value(requesterKey{}).(string)
	return who
}
