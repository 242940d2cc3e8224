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
