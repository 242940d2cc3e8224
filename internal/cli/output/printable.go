package output

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s as tables and CSV show it: each control character (C0, DEL,
// C1), each invisible character that changes how the text around it reads (a format
// character, Unicode category Cf: the bidi embeddings, overrides and isolates U+202A to
// U+202E and U+2066 to U+2069, the marks U+200E, U+200F and U+061C, the zero-width
// space, joiners and no-break space U+200B to U+200D and U+FEFF, the soft hyphen, the
// tag characters; the line and paragraph separators U+2028 and U+2029; and the Hangul
// fillers, which show as blank) and each byte that is not UTF-8 is written as Go
// writes it in an ASCII quoted string (`\x1b`, `\n`, `\t`, `\u009b`, `\u202e`,
// `\xff`), everything else as it is. Inputs and VirusTotal's texts can thus neither
// move a terminal's cursor, clear its screen nor change its colours, nor break a
// table's columns or a CSV record's line, nor show a name other than the one it holds
// ("Trojan Source": U+202E reverses what follows). A backslash is left as it is: the
// escapes are for reading; JSON output keeps the exact text.
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
			q := strconv.QuoteToASCII(s[i : i+size])
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

// unprintable reports whether the rune r, decoded from size bytes, is one Printable
// escapes: a control character (C0, DEL, C1: unicode.IsControl), a format character
// (Cf), a line or paragraph separator (Zl, Zp), a Hangul filler, or a byte that is not
// UTF-8.
func unprintable(r rune, size int) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	switch r {
	case utf8.RuneError:
		return size == 1
	case 0x115f, 0x1160, 0x3164, 0xffa0: // Hangul fillers
		return true
	}
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// PrintableRow returns a copy of row with each cell made Printable.
func PrintableRow(row []string) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = Printable(c)
	}
	return out
}
