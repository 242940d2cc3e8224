package ioc

import "strings"

// defangTokens are the bracketed replacements analysts use to make an observable
// unclickable, with what each stands for. They are matched case-insensitively.
var defangTokens = []struct{ from, to string }{
	{"[.]", "."},
	{"(.)", "."},
	{"{.}", "."},
	{"[dot]", "."},
	{"(dot)", "."},
	{"{dot}", "."},
	{"[:]", ":"},
	{"[://]", "://"},
	{"[at]", "@"},
}

// defangedSchemes maps defanged URL schemes to the real ones.
var defangedSchemes = map[string]string{
	"hxxp":  "http",
	"hxxps": "https",
	"hxtp":  "http",
	"hxtps": "https",
	"htxp":  "http",
	"htxps": "https",
	"fxp":   "ftp",
}

// Refang undoes common defanging: "[.]", "(.)", "{.}", "[dot]", "(dot)" and "{dot}"
// become ".", "[:]" becomes ":", "[://]" becomes "://", "[at]" becomes "@" (all
// case-insensitively), and a leading defanged scheme ("hxxp://", "hxxps://", "fxp://",
// in any case) becomes the real one. Anything else is returned unchanged.
func Refang(s string) string {
	if strings.ContainsAny(s, "[({") {
		var b strings.Builder
		b.Grow(len(s))
	scan:
		for i := 0; i < len(s); {
			if c := s[i]; c == '[' || c == '(' || c == '{' {
				for _, tok := range defangTokens {
					if hasPrefixFold(s[i:], tok.from) {
						b.WriteString(tok.to)
						i += len(tok.from)
						continue scan
					}
				}
			}
			b.WriteByte(s[i])
			i++
		}
		s = b.String()
	}
	if i := strings.Index(s, "://"); i > 0 && i <= 5 {
		if real, ok := defangedSchemes[strings.ToLower(s[:i])]; ok {
			s = real + s[i:]
		}
	}
	return s
}

// hasPrefixFold reports whether s starts with the ASCII string prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerASCII(s[i]) != lowerASCII(prefix[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
