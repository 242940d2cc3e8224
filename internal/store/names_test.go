package store_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vtsoar/vtsoar/internal/store"
)

func TestControlChar(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want rune
	}{
		{"plain", 0}, {"émile-ü", 0}, {"日本", 0}, {"\u00a0nbsp", 0}, {"\ufffd", 0},
		{"a\x00", 0x00}, {"\ta", '\t'}, {"a\nb", '\n'}, {"\r", '\r'}, {"\x07", 0x07}, {"\x1b[2J", 0x1b},
		{"\x1f", 0x1f}, {"\x7f", 0x7f}, {"a\u0080", 0x80}, {"\u0085", 0x85}, {"\u009b", 0x9b}, {"\u009f", 0x9f},
		{"a\xffb", utf8.RuneError}, {"\xc0\x80", utf8.RuneError},
	} {
		r, bad := store.ControlChar(tc.in)
		if bad != (tc.want != 0 || tc.in == "a\x00") || (bad && r != tc.want) {
			t.Errorf("ControlChar(%q) = %U, %v; want %U", tc.in, r, bad, tc.want)
		}
		if err := store.CheckText("comment", tc.in); (err != nil) != bad {
			t.Errorf("CheckText(%q) = %v", tc.in, err)
		} else if err != nil && strings.ContainsAny(err.Error(), "\x00\x07\x1b\r\n\x7f\u0085\u009b") {
			t.Errorf("CheckText(%q): the error holds the character raw: %q", tc.in, err)
		}
	}
}

func TestNameRules(t *testing.T) {
	for _, tc := range []struct {
		check func(string) error
		ok    []string
		bad   []string
	}{
		{store.CheckConnectionName, []string{"prod", "emu-1", "vt.eu_2", "é", strings.Repeat("a", store.MaxNameLen)},
			[]string{"", "a b", "a/b", "a?b", "a#b", "a%b", "a\tb", "a\x00", "a\x1b", "a\x07", "a\u0085", "a\xff", "a\u00a0b", strings.Repeat("a", store.MaxNameLen+1)}},
		{store.CheckGatewayKeyName, []string{"misp", "cortex-1", "opencti.eu_2", strings.Repeat("a", store.MaxNameLen)},
			[]string{"", "a b", "a/b", "a?b", "a#b", "a%b", "a\tb", "a\x00", "a\x1b", "a\x07", "a\u0085", "a\xff", strings.Repeat("a", store.MaxNameLen+1)}},
		{store.CheckUserName, []string{"alice", "soc-paris", "a.b@c"},
			[]string{"", "a b", "a/b", "a\x00", "a\x1b[31m", "a\x07", "a\u009b"}},
		{store.CheckSiteName, []string{"paris", "new york", "*"},
			[]string{"", "pa\x00ris", "pa\x1bris", "\x07", "a\u0085"}},
		{store.CheckAPIKey, []string{"abc", "0123456789abcdef"},
			[]string{"", "a b", "abc\r\n", "a\nb", "a\x00b", "a\x1bb", "a\u0085b", "a\xffb", "a\u2028b"}},
	} {
		for _, s := range tc.ok {
			if err := tc.check(s); err != nil {
				t.Errorf("%q refused: %v", s, err)
			}
		}
		for _, s := range tc.bad {
			if err := tc.check(s); err == nil {
				t.Errorf("%q accepted", s)
			}
		}
	}
	if err := store.CheckAPIKey("secret\x1bkey"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("CheckAPIKey's error = %v; it must not hold the key", err)
	}
	if _, err := store.CleanSites([]string{" paris ", "paris", "ly\x1bon"}); err == nil {
		t.Error("CleanSites took a site holding ESC")
	}
	if users, err := store.CleanUsers([]string{" bob ", "bob", "eve"}); err != nil || strings.Join(users, ",") != "bob,eve" {
		t.Errorf("CleanUsers = %v, %v", users, err)
	}
}
