package ioc

import (
	"errors"
	"testing"
)

func TestParseIP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"8.8.8.8", "8.8.8.8"},
		{" 1.2.3.4\n", "1.2.3.4"},
		{"0.0.0.0", "0.0.0.0"},
		{"1[.]2[.]3[.]4", "1.2.3.4"},
		{"1(.)2(.)3(.)4", "1.2.3.4"},
		{"1[dot]2(DOT)3{.}4", "1.2.3.4"},
		{"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
		{"2001:0db8::0001", "2001:db8::1"},
		{"2001[:]db8[:][:]1", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"::1", "::1"},
		{"::FFFF:1.2.3.4", "::ffff:1.2.3.4"},
		{"::ffff:0102:0304", "::ffff:1.2.3.4"},
	}
	for _, tt := range tests {
		o, err := ParseIP(tt.in)
		if err != nil {
			t.Errorf("ParseIP(%q): %v", tt.in, err)
			continue
		}
		if o.Kind != KindIP || o.Value != tt.want || o.ID != tt.want || o.Input != tt.in {
			t.Errorf("ParseIP(%q) = %+v, want %s", tt.in, o, tt.want)
		}
	}
}

func TestParseIPRejects(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "empty input"},
		{"1.2.3.04", `IPv4 number "04" has a leading zero, which is ambiguous (octal or decimal); write 4`},
		{"010.0.0.1", `IPv4 number "010" has a leading zero, which is ambiguous (octal or decimal); write 10`},
		{"1.2.3.00", `IPv4 number "00" has a leading zero, which is ambiguous (octal or decimal); write 0`},
		{"1.2.3", "an IPv4 address has 4 numbers separated by dots, got 3"},
		{"1.2.3.4.5", "an IPv4 address has 4 numbers separated by dots, got 5"},
		{"1..2.3", "an IPv4 address has an empty number (two dots in a row, or a dot at an end)"},
		{"1.2.3.256", "IPv4 number 256 is out of range (0-255)"},
		{"1.2.3.99999999999999999999", "IPv4 number 99999999999999999999 is out of range (0-255)"},
		{"fe80::1%eth0", `IPv6 zone "%eth0" is not allowed: a zone names a network interface of one machine, not part of the address`},
		{"::ffff:1.2.3.04", "an IPv4 number has a leading zero, which is ambiguous (octal or decimal)"},
		{"2001:db8::1::2", "not a valid IP address: multiple :: in address (at \":2\")"},
		{"1.2.3.x", "not a valid IP address: unexpected character (at \"x\")"},
		{"example.com", "not a valid IP address: unexpected character (at \"example.com\")"},
	}
	for _, tt := range tests {
		_, err := ParseIP(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ParseIP(%q) error = %v, want *Error", tt.in, err)
			continue
		}
		if e.Kind != KindIP || e.Reason != tt.reason || e.Input != tt.in {
			t.Errorf("ParseIP(%q) = %+v, want reason %q", tt.in, e, tt.reason)
		}
	}
}
