package secret

import "testing"

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://alice:s3cret@proxy:3128":   "http://alice:xxxxx@proxy:3128",
		"http://alice@proxy:3128":          "http://alice@proxy:3128",
		"http://proxy:3128":                "http://proxy:3128",
		"":                                 "",
		"::not a url":                      "::not a url",
		"https://u:p%40ss@proxy.example/x": "https://u:xxxxx@proxy.example/x",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("dial: key k3y-123 refused (k3y-123)", "k3y-123"); got != "dial: key [REDACTED] refused ([REDACTED])" {
		t.Errorf("Redact = %q", got)
	}
	if got := Redact("AUTH failed", ""); got != "AUTH failed" {
		t.Errorf("an empty secret changed the text: %q", got)
	}
	// A short secret is replaced where it stands as a value, not inside words.
	if got := Redact(`Get "http://h/api/v3/users/a": a data analysis`, "a"); got != `Get "http://h/api/v3/users/[REDACTED]": a data analysis` {
		t.Errorf("Redact of a one-character key = %q", got)
	}
}
