// Package jsonenc encodes trees of map[string]any, []any, strings, integers and
// booleans to exactly the bytes encoding/json's Marshal gives them (keys sorted, the
// same escapes, HTML characters included), without reflection.
//
// The emulator's answers and the commands' context entries are such trees, and
// encoding them with encoding/json (reflection, and a sort of reflect values for every
// map) was a third of the emulator's CPU per request and most of the time a CLI run
// spent writing its envelope. What Append does not know (floats, structs, RawMessage,
// types with a MarshalJSON method and anything else) it hands to json.Marshal, so
// that no value is ever encoded differently; the tests and FuzzAppendString check
// that against encoding/json.
package jsonenc

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Appender is a value that appends its own JSON encoding, the one json.Marshal gives
// it, to dst.
type Appender interface {
	AppendJSON(dst []byte) []byte
}

// Marshal is json.Marshal.
func Marshal(v any) ([]byte, error) {
	return Append(make([]byte, 0, 1024), v)
}

// Append appends the JSON encoding of v to dst, as json.Marshal encodes it. On an
// error (a value json.Marshal refuses), dst is returned as it was given.
func Append(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	out, err := appendValue(dst, v)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

func appendValue(dst []byte, v any) ([]byte, error) {
	var err error
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return AppendString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case Appender:
		return v.AppendJSON(dst), nil
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			if dst, err = appendValue(dst, v[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		return appendArray(dst, v, appendValue)
	case []string:
		return appendArray(dst, v, func(dst []byte, s string) ([]byte, error) { return AppendString(dst, s), nil })
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendArray appends v as a JSON array, each element by elem; a nil slice is null.
func appendArray[T any](dst []byte, v []T, elem func([]byte, T) ([]byte, error)) ([]byte, error) {
	if v == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '[')
	var err error
	for i, e := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = elem(dst, e); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as encoding/json escapes it by
// default: quote, backslash and control characters, the HTML characters <, > and &,
// U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendIndent appends src, compact JSON as Append gives it (no white space outside
// strings), indented as json.Indent(dst, src, prefix, indent) indents it: each member
// and element on a line of its own, begun by prefix and one indent per level, empty
// objects and arrays kept as {} and [], and ": " between a name and its value. It
// does not check src: what is not compact JSON comes out indented as far as it can
// tell, never refused, so give it only Append's output.
func AppendIndent(dst, src []byte, prefix, indent string) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, indent...)
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			// A string, escapes included, as it is.
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			end := min(j+1, len(src))
			dst = append(dst, src[i:end]...)
			i = end - 1
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth = max(depth-1, 0)
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
