package console

// The run page's form, made from a command's options (command.Field): one input per
// option the REST API takes, and the request body the form's values make.

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
)

// formField is an option as the run page's form shows it.
type formField struct {
	// Name is the option's JSON name, the form field's name and id
	// ("widget_colors.fg1" for a member of an object option).
	Name string
	// Label says what the option does.
	Label string
	// Kind is how the form takes it: "checkbox", "select", "number" or "text".
	Kind string
	// Value is the value shown (the default, or what was posted); Checked a
	// checkbox's.
	Value   string
	Checked bool
	// Choices are a select's values; Required says the option must be chosen.
	Choices  []command.Choice
	Required bool
	// Max bounds a number (0: no bound).
	Max int64
}

// formFields returns the form fields of the options of fs that the REST API takes
// (a member of an object option is a field of its own), showing their values.
func formFields(fs []command.Field, prefix string) []formField {
	var out []formField
	for _, f := range fs {
		if f.CLIOnly != "" {
			continue
		}
		name := prefix + f.JSONName()
		if f.Members != nil {
			out = append(out, formFields(f.Members, name+".")...)
			continue
		}
		label := f.Description()
		if label != "" {
			label = strings.ToUpper(label[:1]) + label[1:]
		}
		ff := formField{Name: name, Label: label, Kind: "text", Max: f.Max}
		switch v := f.Value.(type) {
		case *string:
			ff.Value = *v
			switch {
			case f.Choices != nil:
				ff.Kind, ff.Choices, ff.Required = "select", f.Choices(), true
			case f.Enum != nil:
				ff.Kind = "select"
				ff.Choices = []command.Choice{{Value: "", Label: "(choose)"}}
				for _, e := range f.Enum {
					ff.Choices = append(ff.Choices, command.Choice{Value: e, Label: e})
				}
			}
		case *bool:
			ff.Kind, ff.Checked = "checkbox", *v
		case *int:
			ff.Kind, ff.Value = "number", strconv.Itoa(*v)
		case *int64:
			ff.Kind, ff.Value = "number", strconv.FormatInt(*v, 10)
		case *time.Duration:
			ff.Value = v.String()
		}
		out = append(out, ff)
	}
	return out
}

// readForm sets the fields' values from a posted form and returns the members of the
// request body they make: a checkbox checked is true, a number is sent as a number
// when it reads as one, and an empty text is left out (the option keeps its
// default). What the values mean is the API's to check.
func readForm(fields []formField, form url.Values) map[string]any {
	body := map[string]any{}
	for i := range fields {
		ff := &fields[i]
		var v any
		if ff.Kind == "checkbox" {
			ff.Checked = form.Get(ff.Name) != ""
			if !ff.Checked {
				continue
			}
			v = true
		} else {
			ff.Value = strings.TrimSpace(form.Get(ff.Name))
			if ff.Value == "" {
				continue
			}
			v = ff.Value
			if ff.Kind == "number" {
				if _, err := strconv.ParseInt(ff.Value, 10, 64); err == nil {
					v = json.Number(ff.Value)
				}
			}
		}
		obj, member, nested := strings.Cut(ff.Name, ".")
		if !nested {
			body[ff.Name] = v
			continue
		}
		m, _ := body[obj].(map[string]any)
		if m == nil {
			m = map[string]any{}
			body[obj] = m
		}
		m[member] = v
	}
	return body
}
