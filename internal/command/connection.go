package command

import (
	"context"
	"sort"
)

// connectionCommands returns test-connection (see registry.go).
func connectionCommands() []*Command {
	return []*Command{{
		Name:  "test-connection",
		Title: "Test Connection",
		Group: "connection",
		Short: "Check the API key and the server, and show the quota left",
		Long: `Checks that the server answers and accepts the API key (GET /users/{key}), and
reports the key's quotas as VirusTotal counts them: allowed, used and left per window.
Takes no inputs; its single context entry has the server URL as input.`,
		NoInputs: true,
		plan: func(r *run, input string) (task, *Failure) {
			return task{key: "connection", text: input}, nil
		},
		exec:      execConnection,
		newFields: func() Fields { return &UserFields{} },
		keyFields: func(rs []Result) map[string]any {
			ok := len(rs) == 1 && rs[0].Err == nil
			kf := map[string]any{"Connected": ok}
			if f, isUser := rs[0].Context.Fields.(*UserFields); ok && isUser {
				kf["QuotaLeft"] = f.QuotaLeft
			}
			return kf
		},
		FailureIndicator: "Test Connection failed. Failed to check the connector.",
		NotFound:         "User Not Found.",
	}}
}

// UserFields are the fields of test-connection's entry: the key's user, its quotas as
// VirusTotal counts them (and what is left of its request quotas), the server and
// the user's privileges.
type UserFields struct {
	Quotas     map[string]QuotaState `json:"quotas"`
	QuotaLeft  map[string]int64      `json:"quota_left"`
	ServerURL  string                `json:"server_url"`
	Privileges []string              `json:"privileges"`
}

func (*UserFields) fields() {}

// QuotaState is one quota window of a key as VirusTotal counts it.
type QuotaState struct {
	Allowed int64 `json:"allowed"`
	Used    int64 `json:"used"`
	Left    int64 `json:"left"`
}

func execConnection(ctx context.Context, r *run, t task) outcome {
	entry := ContextEntry{Type: "user"}
	// The key's own user, with the key nowhere in it (vt.Client.CurrentUser).
	u, err := r.d.Client.CurrentUser(ctx)
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	entry.ID = u.ID
	quotas := make(map[string]QuotaState, len(u.Quotas))
	left := make(map[string]int64)
	for name, q := range u.Quotas {
		s := QuotaState{Allowed: q.Allowed, Used: q.Used, Left: q.Left()}
		quotas[name] = s
		switch name {
		case "api_requests_hourly", "api_requests_daily", "api_requests_monthly":
			left[name] = s.Left
		}
	}
	f := &UserFields{Quotas: quotas, QuotaLeft: left, ServerURL: t.text}
	var privs []string
	for p, granted := range u.Privileges {
		if granted {
			privs = append(privs, p)
		}
	}
	sort.Strings(privs)
	if privs == nil {
		privs = []string{}
	}
	f.Privileges = privs
	entry.Fields = f
	return outcome{entry: entry, raw: u.Raw}
}
