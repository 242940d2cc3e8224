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
		exec: execConnection,
		keyFields: func(rs []Result) map[string]any {
			ok := len(rs) == 1 && rs[0].Err == nil
			kf := map[string]any{"Connected": ok}
			if ok {
				kf["QuotaLeft"] = rs[0].Context.Details["quota_left"]
			}
			return kf
		},
		noun:    "User",
		invalid: "Invalid Input.",
	}}
}

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
	entry.set("quotas", quotas)
	entry.set("quota_left", left)
	entry.set("server_url", t.text)
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
	entry.set("privileges", privs)
	return outcome{entry: entry, raw: u.Raw}
}
