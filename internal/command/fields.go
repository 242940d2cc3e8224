package command

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Fields are the fields a command adds to a context entry, typed: a pointer to a
// struct of the command's (ObjectFields, RelationshipFields, ...) whose json tags name
// them, as encoding/json reads the tags (omitempty and omitzero leave a field out, an
// embedded struct pointer that is nil leaves out all of its fields). They stay typed
// until they are written: the JSON of the entry, a CSV row and a table read them
// through EachField. An entry decoded from JSON without its command has JSONFields.
type Fields interface {
	// fields marks the types of the package that are a command's fields.
	fields()
}

// JSONFields are the fields of a context entry decoded without its command (a line
// of -o jsonl): each member's value as encoding/json decodes it into an any.
type JSONFields map[string]any

func (JSONFields) fields() {}

// EachField calls yield with the name and value of each field of f that is written
// (what a pointer points at, or nil), until yield returns false; f nil has none.
func EachField(f Fields, yield func(name string, v any) bool) {
	switch f := f.(type) {
	case nil:
	case JSONFields:
		for k, v := range f {
			if !yield(k, v) {
				return
			}
		}
	default:
		v := reflect.ValueOf(f)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		walkFields(v, yield)
	}
}

// namedValue is a field as EachField yields it.
type namedValue struct {
	name  string
	value any
}

// sortedFields returns the fields of f that are written, in name order, appended to
// dst.
func sortedFields(dst []namedValue, f Fields) []namedValue {
	EachField(f, func(name string, v any) bool {
		dst = append(dst, namedValue{name, v})
		return true
	})
	slices.SortFunc(dst, func(a, b namedValue) int { return strings.Compare(a.name, b.name) })
	return dst
}

// fieldInfo is what EachField reads of a struct field.
type fieldInfo struct {
	index               int
	name                string
	embedded            bool
	omitEmpty, omitZero bool
}

// fieldInfos are the fieldInfo of each struct type walked, made once.
var fieldInfos sync.Map // reflect.Type -> []fieldInfo

func infosOf(t reflect.Type) []fieldInfo {
	if fi, ok := fieldInfos.Load(t); ok {
		return fi.([]fieldInfo)
	}
	var out []fieldInfo
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fi := fieldInfo{index: i, name: name}
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				fi.embedded = true
				out = append(out, fi)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if fi.name == "" {
			fi.name = sf.Name
		}
		for o := range strings.SplitSeq(opts, ",") {
			fi.omitEmpty = fi.omitEmpty || o == "omitempty"
			fi.omitZero = fi.omitZero || o == "omitzero"
		}
		out = append(out, fi)
	}
	fieldInfos.Store(t, out)
	return out
}

func walkFields(v reflect.Value, yield func(string, any) bool) bool {
	for _, fi := range infosOf(v.Type()) {
		fv := v.Field(fi.index)
		if fi.embedded {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if !walkFields(fv, yield) {
				return false
			}
			continue
		}
		if (fi.omitEmpty && isEmpty(fv)) || (fi.omitZero && fv.IsZero()) {
			continue
		}
		// A pointer stands for its value (nil for none): a field that may be absent or
		// null is written as what it points at.
		var value any
		switch {
		case fv.Kind() != reflect.Pointer:
			value = fv.Interface()
		case !fv.IsNil():
			value = fv.Elem().Interface()
		}
		if !yield(fi.name, value) {
			return false
		}
	}
	return true
}

// isEmpty is encoding/json's omitempty test.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
