package command

import "context"

// quotasCommands returns get-quotas (see registry.go).
func quotasCommands() []*Command {
	return []*Command{{
		Name:  "get-quotas",
		Title: "Get Quotas",
		Group: "connection",
		Short: "The key's overall quotas: allowed, used and left, with its group's",
		Long: `Shows every quota of the key as VirusTotal counts it (GET /users/{key}/overall_quotas):
API requests per hour, day and month, Intelligence searches and downloads, and so on,
each with what is allowed, used and left, and the group's figures when the user spends a
group's quota. VirusTotal does not count this call against the quota. Takes no inputs;
its single context entry has the server URL as input. key_fields.QuotaLeft gives what is
left per quota.`,
		NoInputs: true,
		plan: func(r *run, input string) (task, *Failure) {
			return task{key: "quotas", text: input}, nil
		},
		exec:      execQuotas,
		newFields: func() Fields { return &QuotasFields{} },
		keyFields: func(rs []Result) map[string]any {
			if len(rs) == 1 && rs[0].Err == nil {
				if f, ok := rs[0].Context.Fields.(*QuotasFields); ok {
					return map[string]any{"QuotaLeft": f.QuotaLeft}
				}
			}
			return map[string]any{"QuotaLeft": nil}
		},
		NotFound: "User Not Found.",
	}}
}

// QuotasFields are the fields of get-quotas' entry: every quota of the key, what is
// left of each, and the server.
type QuotasFields struct {
	Quotas    map[string]QuotaView `json:"quotas"`
	QuotaLeft map[string]int64     `json:"quota_left"`
	ServerURL string               `json:"server_url"`
}

func (*QuotasFields) fields() {}

// QuotaView is one overall quota as context_data shows it.
type QuotaView struct {
	QuotaState
	// Group is the group's quota the user spends, when there is one.
	Group *GroupQuota `json:"group,omitempty"`
}

// GroupQuota is the quota of the group whose allowance a user spends.
type GroupQuota struct {
	Allowed       int64  `json:"allowed"`
	Used          int64  `json:"used"`
	InheritedFrom string `json:"inherited_from,omitempty"`
}

func execQuotas(ctx context.Context, r *run, t task) outcome {
	entry := ContextEntry{Type: "user"}
	// The key's own quotas, with the key nowhere in the answer.
	q, err := r.d.Client.CurrentOverallQuotas(ctx)
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	views := make(map[string]QuotaView, len(q.Quotas))
	left := make(map[string]int64, len(q.Quotas))
	for name, oq := range q.Quotas {
		v := QuotaView{QuotaState: QuotaState{Allowed: oq.User.Allowed, Used: oq.User.Used, Left: oq.Left()}}
		if g := oq.Group; g != nil {
			v.Group = &GroupQuota{Allowed: g.Allowed, Used: g.Used, InheritedFrom: g.InheritedFrom}
		}
		views[name] = v
		left[name] = v.Left
	}
	entry.Fields = &QuotasFields{Quotas: views, QuotaLeft: left, ServerURL: t.text}
	return outcome{entry: entry, raw: q.Raw}
}
