package ioc

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

// incident is the kind of text an analyst pastes: a phishing e-mail forwarded with
// the SOC's notes, defanged indicators, duplicates, internal addresses and noise.
const incident = `From: "IT Support" <it-support[at]c0rp-helpdesk[.]com>
Subject: Re: invoice.zip - action required

Hi, please log in at hxxps://c0rp-helpdesk[.]com/login.php?id=42 before Friday.
The macro in invoice.zip (setup.py, svchost.exe) fetched hxxp://185.220.101[.]4:8080/gate
and beaconed to 45.61.136(.)22:443 every 60s; firewall: dst=8.8.8.8 src=192.168.1.20.
Hashes: 44d88612fea8a8f36de82e1278abb02f, SHA256:275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f
Docs: https://learn.microsoft.com/en-us/windows/ and www.microsoft.com (e.g. v1.2.3 at 10:15:00).
IPv6 C2: [2001:db8::dead:beef] and 2a01:4f8:c17:b8f::2.
Again: c0rp-helpdesk.com, C0RP-HELPDESK[.]COM and 44D88612FEA8A8F36DE82E1278ABB02F.
`

func TestExtractIncidentText(t *testing.T) {
	want := []struct {
		text  string
		kind  Kind
		value string
		count int
	}{
		{"it-support[at]c0rp-helpdesk[.]com", "", "", 1},
		{"hxxps://c0rp-helpdesk[.]com/login.php?id=42", KindURL, "https://c0rp-helpdesk.com/login.php?id=42", 1},
		{"hxxp://185.220.101[.]4:8080/gate", KindURL, "http://185.220.101.4:8080/gate", 1},
		{"45.61.136(.)22", KindIP, "45.61.136.22", 1},
		{"8.8.8.8", KindIP, "8.8.8.8", 1},
		{"192.168.1.20", KindIP, "192.168.1.20", 1},
		{"44d88612fea8a8f36de82e1278abb02f", KindFile, "44d88612fea8a8f36de82e1278abb02f", 2},
		{"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", KindFile, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", 1},
		{"https://learn.microsoft.com/en-us/windows/", KindURL, "https://learn.microsoft.com/en-us/windows/", 1},
		{"www.microsoft.com", KindDomain, "www.microsoft.com", 1},
		{"[2001:db8::dead:beef]", KindIP, "2001:db8::dead:beef", 1},
		{"2a01:4f8:c17:b8f::2", KindIP, "2a01:4f8:c17:b8f::2", 1},
		{"c0rp-helpdesk.com", KindDomain, "c0rp-helpdesk.com", 2},
	}
	got := Extract(incident)
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = fmt.Sprintf("%q %s %q x%d", got[i].Text, got[i].Kind, got[i].Value, got[i].Count)
		}
		if i < len(want) {
			w = fmt.Sprintf("%q %s %q x%d", want[i].text, want[i].kind, want[i].value, want[i].count)
		}
		if g != w {
			t.Errorf("found %d: got %s, want %s", i, g, w)
		}
	}
	if got[0].Ignored == "" || !strings.Contains(got[0].Ignored, "e-mail") {
		t.Errorf("the e-mail address is not reported as ignored: %+v", got[0])
	}
}

func TestExtractDefangedForms(t *testing.T) {
	tests := []struct{ in, value string }{
		{"evil[.]example[.]org", "evil.example.org"},
		{"evil(.)example(.)org", "evil.example.org"},
		{"evil{.}example{.}org", "evil.example.org"},
		{"evil[dot]example[dot]org", "evil.example.org"},
		{"hxxp://evil[.]example[.]org/a", "http://evil.example.org/a"},
		{"hXXps[:]//evil[.]example[.]org/a", "https://evil.example.org/a"},
		{"http[://]evil.example.org/a", "http://evil.example.org/a"},
		{"fxp://files.evil.example.org/x", "ftp://files.evil.example.org/x"},
		{"1[.]2[.]3[.]4", "1.2.3.4"},
		{"1.2.3.4[:]8080", "1.2.3.4"},
		{"(see evil[.]example[.]org).", "evil.example.org"},
		{"'45.61.136.22'", "45.61.136.22"},
		{"url=hxxp://bad[.]example[.]org/x?y=1", "http://bad.example.org/x?y=1"},
		{"md5:44d88612fea8a8f36de82e1278abb02f", "44d88612fea8a8f36de82e1278abb02f"},
		{"«evil.example.org»", "evil.example.org"},
		{"evil[.]zip", "evil.zip"}, // defanged: the author means a domain
		{"http://invoice.zip/", "http://invoice.zip/"},
	}
	for _, tt := range tests {
		got := Extract(tt.in)
		if len(got) != 1 || got[0].Value != tt.value || got[0].Ignored != "" {
			t.Errorf("Extract(%q) = %+v, want one observable %q", tt.in, got, tt.value)
			continue
		}
		if !strings.Contains(tt.in, got[0].Text) {
			t.Errorf("Extract(%q): text %q is not from the input", tt.in, got[0].Text)
		}
	}
}

func TestExtractIgnoresNoise(t *testing.T) {
	for _, in := range []string{
		"", "Hello world.", "e.g. i.e. etc.", "version 1.2.3 and 10.0", "at 10:15:00 UTC", "12:30",
		"invoice.zip setup.py svchost.exe report.pdf main.rs README.md", "::", "a...b", "see [1] and (2)",
		"deadbeef", "0x7fffffff", "GUID 3F2504E0-4F89-11D3-9A0C-0305E82C3301", "ASCII-art ---->",
		"http://", "hxxp://", "user@", "@handle", strings.Repeat("a", 5000) + ".com",
	} {
		if got := Extract(in); len(got) != 0 {
			t.Errorf("Extract(%q) = %+v, want nothing", in, got)
		}
	}
}

func TestExtractCountsFormsOfOneObject(t *testing.T) {
	got := Extract("evil.example.org EVIL.EXAMPLE.ORG evil[.]example[.]org evil.example.org.")
	if len(got) != 1 || got[0].Count != 4 || got[0].Text != "evil.example.org" {
		t.Fatalf("got %+v, want evil.example.org found 4 times", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		in     string
		scope  Scope
		reason string
	}{
		{"8.8.8.8", Public, ""},
		{"10.1.2.3", NonPublic, "private address (RFC 1918)"},
		{"172.16.0.1", NonPublic, "private address (RFC 1918)"},
		{"192.168.1.20", NonPublic, "private address (RFC 1918)"},
		{"127.0.0.1", NonPublic, "loopback address"},
		{"169.254.10.10", NonPublic, "link-local address"},
		{"224.0.0.251", NonPublic, "multicast address"},
		{"0.0.0.0", NonPublic, "unspecified address"},
		{"0.1.2.3", NonPublic, "'this network' address (RFC 1122)"},
		{"100.64.1.1", NonPublic, "shared address space of carrier-grade NAT (RFC 6598)"},
		{"192.0.2.10", NonPublic, "documentation address (RFC 5737)"},
		{"198.51.100.7", NonPublic, "documentation address (RFC 5737)"},
		{"203.0.113.99", NonPublic, "documentation address (RFC 5737)"},
		{"198.18.0.1", NonPublic, "benchmarking address (RFC 2544)"},
		{"250.1.1.1", NonPublic, "reserved address (RFC 1112)"},
		{"255.255.255.255", NonPublic, "broadcast address"},
		{"::1", NonPublic, "loopback address"},
		{"fd00::1", NonPublic, "unique local address (RFC 4193)"},
		{"fe80::1", NonPublic, "link-local address"},
		{"2001:db8::1", NonPublic, "documentation address (RFC 3849)"},
		{"::ffff:10.0.0.1", NonPublic, "private address (RFC 1918)"},
		{"2a01:4f8:c17:b8f::2", Public, ""},
		{"evil-c2.net", Public, ""},
		{"example.com", NonPublic, "domain reserved for documentation (RFC 2606)"},
		{"www.example.org", NonPublic, "domain reserved for documentation (RFC 2606)"},
		{"printer.local", NonPublic, "multicast DNS name of the local network (RFC 6762)"},
		{"gone.invalid", NonPublic, "name reserved as invalid (RFC 2606)"},
		{"db.corp.internal", NonPublic, "name reserved for private networks (ICANN)"},
		{"nas.home.arpa", NonPublic, "name reserved for home networks (RFC 8375)"},
		{"microsoft.com", WellKnown, "well-known benign domain (microsoft.com)"},
		{"login.microsoftonline.com", WellKnown, "well-known benign domain (microsoftonline.com)"},
		{"docs.google.com", WellKnown, "well-known benign domain (google.com)"},
		{"microsoft.com.evil-c2.net", Public, ""},
		{"notmicrosoft.com", Public, ""},
		{"https://www.microsoft.com/en-us/privacy", WellKnown, "URL on a well-known benign domain (microsoft.com)"},
		{"https://docs.google.com/forms/d/e/1FAIpQL/viewform", Public, ""},
		{"https://raw.githubusercontent.com/x/y/main/payload.ps1", Public, ""},
		{"http://10.0.0.5/admin", NonPublic, "URL on a private address (RFC 1918)"},
		{"http://[::1]:8080/", NonPublic, "URL on a loopback address"},
		{"http://wiki/start", NonPublic, "URL on an internal host name (a single label)"},
		{"http://gw.intranet/", NonPublic, "URL on a private network name"},
		{"http://185.220.101.4:8080/gate", Public, ""},
		{"44d88612fea8a8f36de82e1278abb02f", Public, ""},
	}
	for _, tt := range tests {
		o, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		s, r := Classify(o)
		if s != tt.scope || r != tt.reason {
			t.Errorf("Classify(%q) = %d %q, want %d %q", tt.in, s, r, tt.scope, tt.reason)
		}
	}
}

// FuzzExtract checks what Extract promises of any text: no panic, every observable
// is taken from the text and parses to what Extract says, objects are not repeated,
// and counts add up to at most the number of tokens.
func FuzzExtract(f *testing.F) {
	f.Add(incident)
	f.Add("hxxp://1.2.3[.]4:80/x 1.2.3.4 [::1]:8080 evil(.)com(.) 'a@b.c'")
	f.Add("key=value:http://x.y/z ((([[evil.com]]))) {.}{.}")
	f.Fuzz(func(t *testing.T, text string) {
		found := Extract(text)
		seen := map[string]bool{}
		total := 0
		for _, fo := range found {
			if fo.Count < 1 {
				t.Fatalf("%+v: count %d", fo, fo.Count)
			}
			total += fo.Count
			if !strings.Contains(text, fo.Text) {
				t.Fatalf("text %q of %+v is not in the input", fo.Text, fo)
			}
			if fo.Ignored != "" {
				continue
			}
			o, err := Parse(fo.Text)
			if err != nil {
				if a, perr := netip.ParseAddr(strings.Trim(Refang(fo.Text), "[]")); perr != nil || a.String() != fo.Value {
					t.Fatalf("found %q (%s %q), which Parse rejects: %v", fo.Text, fo.Kind, fo.Value, err)
				}
			} else if o.Kind != fo.Kind || o.Value != fo.Value {
				t.Fatalf("found %q as %s %q, Parse says %s %q", fo.Text, fo.Kind, fo.Value, o.Kind, o.Value)
			}
			k := foundKey(fo.Observable)
			if seen[k] {
				t.Fatalf("%s found twice", k)
			}
			seen[k] = true
		}
		if utf8.ValidString(text) && total > len(strings.Fields(text))*2+1 {
			t.Fatalf("%d observables counted in %d words", total, len(strings.Fields(text)))
		}
	})
}
