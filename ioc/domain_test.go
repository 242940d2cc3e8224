package ioc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDomain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"  WWW.Example.COM.  ", "www.example.com"},
		{"example[.]com", "example.com"},
		{"example(.)com", "example.com"},
		{"example[DOT]com", "example.com"},
		{"bücher.de", "xn--bcher-kva.de"},
		{"BÜCHER.DE", "xn--bcher-kva.de"},
		{"xn--bcher-kva.de", "xn--bcher-kva.de"},
		{"XN--BCHER-KVA.DE", "xn--bcher-kva.de"},
		{"例え。テスト", "xn--r8jz45g.xn--zckzah"},
		{"_dmarc.example.com", "_dmarc.example.com"},
		{"r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"},
		{"1.2.3.example", "1.2.3.example"},
		{"a.b2", "a.b2"},
		{strings.Repeat("a", 63) + ".com", strings.Repeat("a", 63) + ".com"},
		// 4 labels of 61 + ".com" = 4*62 + 3 = 251 characters... plus the dots.
		{strings.Repeat(strings.Repeat("a", 61)+".", 4) + "com", strings.Repeat(strings.Repeat("a", 61)+".", 4) + "com"},
	}
	for _, tt := range tests {
		o, err := ParseDomain(tt.in)
		if err != nil {
			t.Errorf("ParseDomain(%q): %v", tt.in, err)
			continue
		}
		if o.Kind != KindDomain || o.Value != tt.want || o.ID != tt.want || o.Input != tt.in {
			t.Errorf("ParseDomain(%q) = %+v, want %s", tt.in, o, tt.want)
		}
	}
}

func TestParseDomainRejects(t *testing.T) {
	long := strings.Repeat(strings.Repeat("a", 62)+".", 4) + "com" // 4*63 + 3 = 255
	tests := []struct{ in, reason string }{
		{"", "empty input"},
		{"1.2.3.4", "an IP address is not a domain"},
		{"1[.]2[.]3[.]4", "an IP address is not a domain"},
		{"2001:db8::1", "an IP address is not a domain"},
		{"http://example.com", "a URL is not a domain"},
		{"localhost", "a domain needs at least two labels, like example.com"},
		{".", "a domain needs at least two labels, like example.com"},
		{"example..com", "domain has an empty label (two dots in a row, or a dot at the start)"},
		{".example.com", "domain has an empty label (two dots in a row, or a dot at the start)"},
		{"example.com..", "domain has an empty label (two dots in a row, or a dot at the start)"},
		{strings.Repeat("a", 64) + ".com", `label "` + strings.Repeat("a", 64) + `" is 64 characters long, the limit is 63`},
		{long, "domain is 255 characters long, the limit is 253"},
		{"-example.com", `label "-example" starts with a hyphen`},
		{"example-.com", `label "example-" ends with a hyphen`},
		{"exa mple.com", `character ' ' is not allowed in a domain name (only letters, digits, hyphen and underscore)`},
		{"example.com/path", `character '/' is not allowed in a domain name (only letters, digits, hyphen and underscore)`},
		{"ex*ample.com", `character '*' is not allowed in a domain name (only letters, digits, hyphen and underscore)`},
		{"example.123", `top-level domain "123" is all digits`},
		// Found by FuzzParseURL: invalid UTF-8 went through IDNA as U+FFFD.
		{"\xfd.com", "name is not valid UTF-8 text"},
		{"xn--zz.com", `label "xn--zz" is not a valid internationalised name (invalid label "zz")`},
	}
	for _, tt := range tests {
		_, err := ParseDomain(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ParseDomain(%q) error = %v, want *Error", tt.in, err)
			continue
		}
		if e.Kind != KindDomain || e.Reason != tt.reason || e.Input != tt.in {
			t.Errorf("ParseDomain(%q) = %+v, want reason %q", tt.in, e, tt.reason)
		}
	}
}
