package ioc

import (
	"errors"
	"slices"
	"testing"
)

func TestKinds(t *testing.T) {
	got := Kinds()
	if !slices.Equal(got, []Kind{KindFile, KindIP, KindURL, KindDomain}) {
		t.Fatalf("Kinds() = %v", got)
	}
	got[0] = "changed"
	if Kinds()[0] != KindFile {
		t.Fatal("changing the slice Kinds returned changed the kinds")
	}
	for _, k := range Kinds() {
		if !k.Valid() || k.Noun() == "observable" {
			t.Errorf("%s: Valid %v, Noun %q", k, k.Valid(), k.Noun())
		}
	}
	for _, k := range []Kind{"", "File", "email", "ip_address"} {
		if k.Valid() || k.Noun() != "observable" {
			t.Errorf("%q: Valid %v, Noun %q", k, k.Valid(), k.Noun())
		}
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"file": KindFile, " IP ": KindIP, "Url": KindURL, "domain\n": KindDomain} {
		if k, err := ParseKind(in); err != nil || k != want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", in, k, err, want)
		}
	}
	for _, in := range []string{"", "hash", "ip_address", "email"} {
		k, err := ParseKind(in)
		if k != "" || !errors.Is(err, ErrUnknownKind) {
			t.Errorf("ParseKind(%q) = %q, %v; want ErrUnknownKind", in, k, err)
		}
	}
	if _, err := ParseKind("email"); err.Error() != `unknown observable kind "email" (file, ip, url or domain)` {
		t.Errorf("the error reads %q", err)
	}
}
