package server

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
)

// openapiBase is the OpenAPI document but for the schemas of the commands' requests,
// which are made from the commands' options (generated schemas): each is a
// placeholder, {"x-vtsoar-generated": "..."}, on a line of its own.
//
//go:embed openapi.json
var openapiBase []byte

// openapiDoc is the document served: openapiBase with the generated schemas.
var openapiDoc = sync.OnceValue(func() []byte {
	doc, err := buildOpenAPI(openapiBase, command.All())
	if err != nil {
		panic(err)
	}
	return doc
})

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte { return slices.Clone(openapiDoc()) }

// schema is a JSON schema whose members keep their order when it is encoded.
type schema []member

type member struct {
	key   string
	value any
}

// MarshalJSON implements json.Marshaler.
func (s schema) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range s {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(m.key)
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", m.key, err)
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// buildOpenAPI fills the placeholders of base: CommandName with the names of cmds,
// CommandRequest with the members of their requests (the union of their options,
// each saying which commands take it, and the run's options) and the API's own
// (command, connection, inputs, file_source, site).
func buildOpenAPI(base []byte, cmds []*command.Command) ([]byte, error) {
	var names, files, writers []string
	for _, c := range cmds {
		names = append(names, c.Name)
		if c.TakesFiles {
			files = append(files, c.Name)
		}
		if c.WritesFiles {
			writers = append(writers, c.Name)
		}
	}
	commandName := schema{{"type", "string"}, {"enum", names},
		{"description", "the command's name; case-insensitive, '_' taken for '-'"}}

	props := schema{
		{"command", schema{{"type", "string"}, {"description", "optional; when given, the same command as the path"}}},
		{"connection", schema{{"type", "string"}, {"description", "the stored connection to run on (default: the only one the user may use)"}}},
		{"inputs", schema{{"type", []string{"array", "null"}}, {"items", schema{{"type", "string"}}}, {"maxItems", command.MaxBodyInputs},
			{"description", "observables, search queries, or the ids of uploaded files for " + strings.Join(files, ", ") + "; for lookup with extract, texts"}}},
	}
	// The commands' options, each once, in the order the registry first has them.
	var order []string
	fields := map[string]command.Field{}
	takers := map[string][]string{}
	for _, c := range cmds {
		if c.CLIOnly != "" {
			continue // not run over REST: its options are none of a body's
		}
		for _, f := range c.NewOptions().Fields() {
			if f.CLIOnly != "" {
				continue
			}
			n := f.JSONName()
			if prev, ok := fields[n]; ok && fmt.Sprintf("%T", prev.Value) != fmt.Sprintf("%T", f.Value) {
				return nil, fmt.Errorf("openapi: option %s is %T in one command and %T in %s", n, prev.Value, f.Value, c.Name)
			}
			if _, ok := fields[n]; !ok {
				order = append(order, n)
				fields[n] = f
			}
			takers[n] = append(takers[n], c.Name)
		}
	}
	for _, n := range order {
		s, err := fieldSchema(fields[n], takers[n])
		if err != nil {
			return nil, err
		}
		props = append(props, member{n, s})
	}
	var run command.RunOptions
	for _, f := range run.Fields() {
		s, err := fieldSchema(f, nil)
		if err != nil {
			return nil, err
		}
		props = append(props, member{f.JSONName(), s})
	}
	props = append(props,
		member{"file_source", schema{{"description", "only the uploaded files of this source; " + strings.Join(files, ", ")},
			{"$ref", "#/components/schemas/FileSource"}}},
		member{"site", schema{{"type", "string"},
			{"description", "the site of the playbook files the command keeps (default: the user's only site, or \"default\" for a user of every site); " +
				strings.Join(writers, ", ")}}})
	commandRequest := schema{{"type", "object"}, {"additionalProperties", false}, {"properties", props}}

	doc := base
	for _, g := range []struct {
		name string
		s    schema
	}{{"CommandName", commandName}, {"CommandRequest", commandRequest}} {
		var err error
		if doc, err = fillPlaceholder(doc, g.name, g.s); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// fillPlaceholder replaces the line of doc that holds the placeholder of the schema
// name with s, indented as the document is.
func fillPlaceholder(doc []byte, name string, s schema) ([]byte, error) {
	key := []byte(`"` + name + `": {"x-vtsoar-generated":`)
	i := bytes.Index(doc, key)
	if i < 0 {
		return nil, fmt.Errorf("openapi: no placeholder for %s", name)
	}
	start := bytes.LastIndexByte(doc[:i], '\n') + 1
	end := i + bytes.IndexByte(doc[i:], '\n')
	indent := string(doc[start:i])
	trail := ""
	if bytes.HasSuffix(bytes.TrimRight(doc[start:end], " "), []byte(",")) {
		trail = ","
	}
	compact, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, compact, indent, "  "); err != nil {
		return nil, err
	}
	out := slices.Concat(doc[:i], []byte(`"`+name+`": `), b.Bytes(), []byte(trail), doc[end:])
	return out, nil
}

// durationSchema is a duration as a body takes it: a Go duration or seconds.
var durationSchema = schema{{"oneOf", []schema{
	{{"type", "string"}, {"description", `a Go duration such as "30s" or "5m"`}},
	{{"type", "number"}, {"minimum", 0}, {"description", "seconds"}},
}}}

// fieldSchema is the schema of an option; commands, when given, are those that take
// it.
func fieldSchema(f command.Field, commands []string) (schema, error) {
	var s schema
	if f.Members != nil {
		var props schema
		for _, m := range f.Members {
			ms, err := fieldSchema(m, nil)
			if err != nil {
				return nil, err
			}
			props = append(props, member{m.JSONName(), ms})
		}
		s = schema{{"type", "object"}, {"additionalProperties", false}, {"properties", props}}
	} else {
		switch f.Value.(type) {
		case *string:
			s = schema{{"type", "string"}}
			if f.MaxLength > 0 {
				s = append(s, member{"maxLength", f.MaxLength})
			}
		case *bool:
			s = schema{{"type", "boolean"}}
		case *int, *int64:
			s = schema{{"type", "integer"}, {"minimum", 0}}
			if f.Max > 0 {
				s = append(s, member{"maximum", f.Max})
			}
		case *time.Duration:
			s = slices.Clone(durationSchema)
		default:
			return nil, fmt.Errorf("openapi: option %s has a value of type %T", f.Name, f.Value)
		}
	}
	desc := f.Description()
	switch f.Value.(type) {
	case *int, *int64, *time.Duration:
		desc += " (0: the default)"
	}
	if len(commands) > 0 {
		desc += "; " + strings.Join(commands, ", ")
	}
	return append(s, member{"description", desc}), nil
}
