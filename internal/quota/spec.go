package quota

import (
	"fmt"
	"strconv"
	"strings"
)

// Spec is a request budget: units per minute, per day and per month; 0 is no limit.
type Spec struct {
	PerMinute, PerDay, PerMonth int
}

// The budgets of VirusTotal's key types.
var (
	// Public is a public API key's budget: 4 a minute, 500 a day, 15,500 a month.
	Public = Spec{PerMinute: 4, PerDay: 500, PerMonth: 15500}
	// Premium is a premium key's budget: no limit here (its contract is enforced by
	// VirusTotal, whose 429 answers still hold the connection).
	Premium = Spec{}
)

// ParseSpec parses a budget: "public", "premium" (also "unlimited" or "none"), or a
// comma-separated list of N/min, N/day and N/month (any subset, each at most once;
// "minute", "d" and "mo" are accepted too). Windows not named have no limit.
func ParseSpec(s string) (Spec, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "public":
		return Public, nil
	case "premium", "unlimited", "none":
		return Premium, nil
	case "":
		return Spec{}, fmt.Errorf("empty quota: want public, premium or N/min,N/day,N/month")
	}
	var spec Spec
	seen := map[string]bool{}
	for _, part := range strings.Split(t, ",") {
		part = strings.TrimSpace(part)
		num, unit, ok := strings.Cut(part, "/")
		if !ok {
			return Spec{}, fmt.Errorf("quota %q: %q is not N/min, N/day or N/month", s, part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || n <= 0 {
			return Spec{}, fmt.Errorf("quota %q: %q: the count must be a positive integer", s, part)
		}
		var field *int
		switch strings.TrimSpace(unit) {
		case "min", "minute", "m":
			unit, field = "min", &spec.PerMinute
		case "day", "d":
			unit, field = "day", &spec.PerDay
		case "month", "mo":
			unit, field = "month", &spec.PerMonth
		default:
			return Spec{}, fmt.Errorf("quota %q: unknown window %q (want min, day or month)", s, unit)
		}
		if seen[unit] {
			return Spec{}, fmt.Errorf("quota %q: the %s window is given twice", s, unit)
		}
		seen[unit] = true
		*field = n
	}
	return spec, nil
}

// String returns the spec in the form ParseSpec reads: "premium" when unlimited, else
// the limited windows, for example "4/min,500/day,15500/month".
func (s Spec) String() string {
	if s.Unlimited() {
		return "premium"
	}
	var parts []string
	if s.PerMinute > 0 {
		parts = append(parts, strconv.Itoa(s.PerMinute)+"/min")
	}
	if s.PerDay > 0 {
		parts = append(parts, strconv.Itoa(s.PerDay)+"/day")
	}
	if s.PerMonth > 0 {
		parts = append(parts, strconv.Itoa(s.PerMonth)+"/month")
	}
	return strings.Join(parts, ",")
}

// Unlimited reports whether no window has a limit.
func (s Spec) Unlimited() bool { return s.PerMinute <= 0 && s.PerDay <= 0 && s.PerMonth <= 0 }
