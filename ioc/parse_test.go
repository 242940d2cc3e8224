package ioc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDetectsKind(t *testing.T) {
	sha256 := "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	tests := []struct {
		in    string
		kind  Kind
		value string
	}{
		{"44D88612FEA8A8F36DE82E1278ABB02F", KindFile, "44d88612fea8a8f36de82e1278abb02f"},
		{"3395856ce81f2b7382dee72602f798b642f14140", KindFile, "3395856ce81f2b7382dee72602f798b642f14140"},
		{" " + sha256 + " ", KindFile, sha256}, // a bare 64-hex string is a file hash
		{"8.8.8.8", KindIP, "8.8.8.8"},
		{"8[.]8[.]8[.]8", KindIP, "8.8.8.8"},
		{"2001:DB8::1", KindIP, "2001:db8::1"},
		{"[2001:db8::1]", KindIP, "2001:db8::1"},
		{"::ffff:1.2.3.4", KindIP, "::ffff:1.2.3.4"},
		{"http://Example.com", KindURL, "http://example.com/"},
		{"hxxps://example[.]com/x#y", KindURL, "https://example.com/x"},
		{"ftp://example.com/", KindURL, "ftp://example.com/"},
		{"example.com/malware.exe", KindURL, "http://example.com/malware.exe"},
		{"example.com:8080", KindURL, "http://example.com:8080/"},
		{"example.com?q=1", KindURL, "http://example.com/?q=1"},
		{"http://[::1]/", KindURL, "http://[::1]/"},
		{"Example.COM", KindDomain, "example.com"},
		{"example[.]com", KindDomain, "example.com"},
		{"bücher.de", KindDomain, "xn--bcher-kva.de"},
		{"例え。テスト", KindDomain, "xn--r8jz45g.xn--zckzah"},
	}
	for _, tt := range tests {
		o, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if o.Kind != tt.kind || o.Value != tt.value || o.Input != tt.in {
			t.Errorf("Parse(%q) = %+v, want %s %s", tt.in, o, tt.kind, tt.value)
		}
		// ParseAs with the detected kind agrees with Parse.
		if again, err := ParseAs(o.Kind, tt.in); err != nil || again != o {
			t.Errorf("ParseAs(%s, %q) = %+v, %v; Parse gave %+v", o.Kind, tt.in, again, err, o)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		in     string
		kind   Kind
		reason string
	}{
		{"", "", "empty input"},
		{" \t\n", "", "empty input"},
		{"hello", "", "not a file hash, IP address, URL or domain"},
		{"deadbeef", "", "not a file hash, IP address, URL or domain"},
		{"hello world", "", "not a file hash, IP address, URL or domain"},
		{"user@example.com", "", "an email address is not an observable (file hash, IP address, URL or domain)"},
		{"user[at]example[.]com", "", "an email address is not an observable (file hash, IP address, URL or domain)"},
		{"deadbeefdeadbeef1234", KindFile, "a file hash must be 32 (md5), 40 (sha1) or 64 (sha256) hex characters, got 20"},
		{strings.Repeat("a", 63), KindFile, "sha256 must be 64 hex characters, got 63"},
		{"abcdg" + strings.Repeat("a", 27), KindFile, "hash has a non-hex character 'g' at position 5"},
		{"1.2.3.04", KindIP, `IPv4 number "04" has a leading zero, which is ambiguous (octal or decimal); write 4`},
		{"1.2.3", KindIP, "an IPv4 address has 4 numbers separated by dots, got 3"},
		{"fe80::1%eth0", KindIP, `IPv6 zone "%eth0" is not allowed: a zone names a network interface of one machine, not part of the address`},
		{"mailto:a@example.com", KindURL, `scheme "mailto" is not supported (only http, https and ftp)`},
		{"gopher://example.com/", KindURL, `scheme "gopher" is not supported (only http, https and ftp)`},
		{"example..com", KindDomain, "domain has an empty label (two dots in a row, or a dot at the start)"},
		{"example.123", KindDomain, `top-level domain "123" is all digits`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) error = %v, want *Error", tt.in, err)
			continue
		}
		if e.Kind != tt.kind || e.Reason != tt.reason || e.Input != tt.in {
			t.Errorf("Parse(%q) = %#v, want kind %q reason %q", tt.in, e, tt.kind, tt.reason)
		}
	}
	_, err := Parse("hello")
	if want := "invalid observable: not a file hash, IP address, URL or domain"; err == nil || err.Error() != want {
		t.Errorf("Parse(hello) error = %v, want %q", err, want)
	}
}

func TestParseAs(t *testing.T) {
	sha256 := "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	// The same text means different things to different kinds.
	if o, err := ParseAs(KindURL, sha256); err != nil || o.ID != sha256 || o.Value != "" {
		t.Errorf("ParseAs(url, sha256) = %+v, %v; want a URL sha256 id", o, err)
	}
	if o, err := ParseAs(KindFile, sha256); err != nil || o.Hash != SHA256 {
		t.Errorf("ParseAs(file, sha256) = %+v, %v", o, err)
	}
	if o, err := ParseAs(KindURL, "example.com"); err != nil || o.Value != "http://example.com/" {
		t.Errorf("ParseAs(url, example.com) = %+v, %v", o, err)
	}
	if o, err := ParseAs("", "example.com"); err != nil || o.Kind != KindDomain {
		t.Errorf("ParseAs(\"\", example.com) = %+v, %v", o, err)
	}
	if _, err := ParseAs(KindIP, "example.com"); err == nil {
		t.Errorf("ParseAs(ip, example.com) succeeded")
	}
	_, err := ParseAs("email", "a@example.com")
	var e *Error
	if !errors.As(err, &e) || e.Kind != "email" || e.Reason != `unknown observable kind "email" (file, ip, url or domain)` {
		t.Errorf("ParseAs(email) error = %#v", err)
	}
}

func TestRefang(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example[.]com", "example.com"},
		{"example(.)com", "example.com"},
		{"example{.}com", "example.com"},
		{"example[dot]com", "example.com"},
		{"example(DOT)com", "example.com"},
		{"example[Dot]com", "example.com"},
		{"2001[:]db8[:][:]1", "2001:db8::1"},
		{"user[at]example.com", "user@example.com"},
		{"user[AT]example.com", "user@example.com"},
		{"hxxp://example.com", "http://example.com"},
		{"HXXPS://example.com", "https://example.com"},
		{"hxxps[:]//example.com", "https://example.com"},
		{"hxxp[://]example.com", "http://example.com"},
		{"fxp://example.com", "ftp://example.com"},
		{"http://[::1]/", "http://[::1]/"},
		{"http://example.com/hxxp://x", "http://example.com/hxxp://x"},
		{"[", "["},
		{"[.", "[."},
		{"plain", "plain"},
	}
	for _, tt := range tests {
		if got := Refang(tt.in); got != tt.want {
			t.Errorf("Refang(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAliases(t *testing.T) {
	if a := (Observable{}).Aliases(); a != nil {
		t.Errorf("zero Observable Aliases() = %v, want nil", a)
	}
	o, _ := ParseDomain("Example.com")
	if a := o.Aliases(); len(a) != 1 || a[0] != "example.com" {
		t.Errorf("domain Aliases() = %v", a)
	}
	u, _ := ParseURL("http://www.virustotal.com/")
	want := []string{"aHR0cDovL3d3dy52aXJ1c3RvdGFsLmNvbS8", "1db0ad7dbcec0676710ea0eaacd35d5e471d3e11944d53bcbd31f0cbd11bce31"}
	if a := u.Aliases(); len(a) != 2 || a[0] != want[0] || a[1] != want[1] {
		t.Errorf("URL Aliases() = %v, want %v", a, want)
	}
}
