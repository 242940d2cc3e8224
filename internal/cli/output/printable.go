package output

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s as tables and CSV show it: each control character (C0, DEL,
// C1) and each byte that is not UTF-8 is written as Go writes it in a quoted string
// (`\x1b`, `\n`, `\t`, `\u009b`, `\xff`), everything else as it is. Inputs and
// VirusTotal's texts can thus neither move a terminal's cursor, clear its screen nor
// change its colours, nor break a table's columns or a CSV record's line. A backslash
// is left as it is: the escapes are for reading; JSON output keeps the exact text.
func Printable(s string) string {
	i := unprintableAt(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unprintable(r, size) {
			q := strconv.Quote(s[i : i+size])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unprintableAt returns the index of the first rune of s that Printable escapes, or
// -1.
func unprintableAt(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unprintable(r, size) {
			return i
		}
		i += size
	}
	return -1
}

// unprintable reports whether the rune r, decoded from size bytes, is a control
// character (C0, DEL, C1: unicode.IsControl) or a byte that is not UTF-8.
func unprintable(r rune, size int) bool {
	return unicode.IsControl(r) || r == utf8.RuneError && size == 1
}

// PrintableRow returns a copy of row with each cell made Printable.
func PrintableRow(row []string) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = Printable(c)
	}
	return out
}
