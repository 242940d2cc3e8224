package vtsim

// The user endpoints: the key's user and its quotas, and its overall quotas.

import (
	"net/http"
	"strings"
)

// userSince is the fixed sign-up date of emulated users.
const userSince = 1557214525

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	uid := userID(c.keyHash)
	if id != uid && keyHash(id) != c.keyHash {
		// The id may be someone's API key: never echo it.
		writeError(w, http.StatusNotFound, codeNotFound, "User not found")
		return
	}
	q := s.quotas(c)
	grant := func(g bool) map[string]any { return map[string]any{"granted": g} }
	attrs := map[string]any{
		// VirusTotal shows the caller's own key here, and so does the emulator, so
		// that what keeps it out of vtsoar's answers (vt.Client.CurrentUser, the
		// gateway) is tested against the real thing.
		"apikey":         r.Header.Get("x-apikey"),
		"email":          uid + "@vtsim.invalid",
		"first_name":     "VTSim",
		"last_name":      "User",
		"has_2fa":        false,
		"last_login":     s.now().Unix(),
		"profile_phrase": "Emulated by vtsim",
		"reputation":     1,
		"status":         "active",
		"user_since":     userSince,
		"preferences":    map[string]any{"ui": map[string]any{"last_read_notification_date": userSince}},
		"privileges": map[string]any{
			"admin": grant(false), "allinfo": grant(c.premium), "intelligence": grant(c.premium),
			"private": grant(c.premium), "click_to_accept": grant(false),
		},
		"quotas": map[string]any{},
	}
	for _, name := range []string{"api_requests_daily", "api_requests_hourly", "api_requests_monthly",
		"cases_creation_monthly", "intelligence_downloads_monthly", "intelligence_searches_monthly"} {
		attrs["quotas"].(map[string]any)[name] = map[string]any{"allowed": q[name].allowed, "used": q[name].used}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"type": "user", "id": uid, "links": map[string]any{"self": c.base + "/api/v3/users/" + uid}, "attributes": attrs,
	}})
}

// quota is what one window allows a key and what it used.
type quota struct{ allowed, used int }

// quotas are the quotas of the caller's key: the API windows reflect QuotaMinute,
// QuotaDay and what the key used; premium keys get Intelligence allowances.
func (s *Server) quotas(c *call) map[string]quota {
	u := s.usageOf(c.keyHash)
	allowed := func(limit, unlimited int) int {
		if limit > 0 {
			return limit
		}
		return unlimited
	}
	hourly := 60000000000
	if s.opts.QuotaMinute > 0 {
		hourly = s.opts.QuotaMinute * 60
	}
	monthly := 1000000000
	if s.opts.QuotaDay > 0 {
		monthly = s.opts.QuotaDay * 31
	}
	premium := func(n int) int {
		if c.premium {
			return n
		}
		return 0
	}
	return map[string]quota{
		"api_requests_daily":                   {allowed(s.opts.QuotaDay, 1000000000), u.nDay},
		"api_requests_hourly":                  {hourly, u.nHour},
		"api_requests_monthly":                 {monthly, u.nMonth},
		"cases_creation_monthly":               {20, 0},
		"intelligence_downloads_monthly":       {premium(1000), u.downloads},
		"intelligence_graphs_private":          {0, 0},
		"intelligence_hunting_rules":           {premium(25), 0},
		"intelligence_retrohunt_jobs_monthly":  {premium(5), 0},
		"intelligence_searches_monthly":        {premium(10000), u.searches},
		"intelligence_vtdiff_creation_monthly": {premium(100), 0},
		"monitor_storage_bytes":                {0, 0},
		"monitor_storage_files":                {0, 0},
		"monitor_uploaded_bytes":               {0, 0},
		"monitor_uploaded_files":               {0, 0},
	}
}

// premiumGroup is the group premium keys inherit their allowances from.
const premiumGroup = "vtsim_enterprise"

// overallQuotas serves GET /users/{id}/overall_quotas, which VirusTotal does not count
// against the quota: {"data": {"api_requests_daily": {"user": {"allowed", "used"},
// "group": {...}}, ...}}, the "group" part for premium keys only (the group they
// inherit their allowances from).
func (s *Server) overallQuotas(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	if id != userID(c.keyHash) && keyHash(id) != c.keyHash {
		writeError(w, http.StatusNotFound, codeNotFound, "User not found")
		return
	}
	data := map[string]any{}
	for name, q := range s.quotas(c) {
		entry := map[string]any{"user": map[string]any{"allowed": q.allowed, "used": q.used}}
		if c.premium && !strings.HasPrefix(name, "monitor_") && name != "cases_creation_monthly" {
			entry["group"] = map[string]any{"allowed": q.allowed, "used": q.used, "inherited_from": premiumGroup}
			entry["user"] = map[string]any{"allowed": 0, "used": q.used}
		}
		data[name] = entry
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}
