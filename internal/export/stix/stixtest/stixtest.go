// Package stixtest validates STIX 2.1 bundles against the OASIS STIX 2.1 JSON schemas
// (testdata/schemas, with their source and licence in SOURCES.md), for the tests of
// the packages that write them. It is imported by tests only.
package stixtest

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed testdata/schemas
var schemaFS embed.FS

// schemaOf maps each STIX type with a vendored schema to its file.
var schemaOf = map[string]string{
	"identity":     "sdos/identity.json",
	"indicator":    "sdos/indicator.json",
	"note":         "sdos/note.json",
	"relationship": "sros/relationship.json",
	"file":         "observables/file.json",
	"ipv4-addr":    "observables/ipv4-addr.json",
	"ipv6-addr":    "observables/ipv6-addr.json",
	"url":          "observables/url.json",
	"domain-name":  "observables/domain-name.json",
}

var (
	once     sync.Once
	schemas  map[string]*jsonschema.Schema
	setupErr error
)

func compile() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	ids := map[string]string{}
	setupErr = fs.WalkDir(schemaFS, "testdata/schemas", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		b, err := schemaFS.ReadFile(p)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			return fmt.Errorf("%s has no $id", p)
		}
		ids[strings.TrimPrefix(p, "testdata/schemas/")] = id
		return c.AddResource(id, doc)
	})
	if setupErr != nil {
		return
	}
	schemas = map[string]*jsonschema.Schema{}
	for typ, file := range schemaOf {
		s, err := c.Compile(ids[file])
		if err != nil {
			setupErr = fmt.Errorf("compiling %s: %w", file, err)
			return
		}
		schemas[typ] = s
	}
}

var (
	idPattern     = regexp.MustCompile(`^([a-z][a-z0-9-]+[a-z0-9])--[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	scoTypes      = map[string]bool{"file": true, "ipv4-addr": true, "ipv6-addr": true, "url": true, "domain-name": true}
	refProperties = []string{"created_by_ref", "source_ref", "target_ref", "object_refs", "object_marking_refs"}
)

// Validate checks a STIX 2.1 bundle: its own members (type "bundle", an id "bundle--"
// and a UUID, a non-empty objects list, no other member), every object against the
// OASIS schema of its type (an object of a type without a vendored schema is an
// error), spec_version 2.1 on every object, ids unique, each id's prefix its object's
// type, and every reference (created_by_ref, object_refs, source_ref, target_ref) to
// an object of the bundle. It returns every problem found.
func Validate(data []byte) error {
	once.Do(compile)
	if setupErr != nil {
		return fmt.Errorf("stixtest: the schemas: %w", setupErr)
	}
	var bundle map[string]json.RawMessage
	if err := json.Unmarshal(data, &bundle); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var errs []error
	var typ, id string
	json.Unmarshal(bundle["type"], &typ)
	json.Unmarshal(bundle["id"], &id)
	if typ != "bundle" {
		errs = append(errs, fmt.Errorf("bundle type %q", typ))
	}
	if m := idPattern.FindStringSubmatch(id); m == nil || m[1] != "bundle" {
		errs = append(errs, fmt.Errorf("bundle id %q", id))
	}
	for k := range bundle {
		if k != "type" && k != "id" && k != "objects" {
			errs = append(errs, fmt.Errorf("bundle member %q (a STIX 2.1 bundle has type, id and objects)", k))
		}
	}
	var objects []json.RawMessage
	if err := json.Unmarshal(bundle["objects"], &objects); err != nil || len(objects) == 0 {
		return errors.Join(append(errs, fmt.Errorf("bundle objects: %d, %v", len(objects), err))...)
	}
	ids := map[string]bool{}
	var all []map[string]any
	for i, raw := range objects {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			errs = append(errs, fmt.Errorf("object %d: %w", i, err))
			continue
		}
		obj, ok := inst.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("object %d is not an object", i))
			continue
		}
		all = append(all, obj)
		t, _ := obj["type"].(string)
		oid, _ := obj["id"].(string)
		s, ok := schemas[t]
		if !ok {
			errs = append(errs, fmt.Errorf("object %d (%s): no schema for type %q", i, oid, t))
			continue
		}
		if err := s.Validate(inst); err != nil {
			errs = append(errs, fmt.Errorf("object %d (%s) is not a valid %s: %w", i, oid, t, err))
		}
		if obj["spec_version"] != "2.1" {
			errs = append(errs, fmt.Errorf("object %s: spec_version %v", oid, obj["spec_version"]))
		}
		if m := idPattern.FindStringSubmatch(oid); m == nil || m[1] != t {
			errs = append(errs, fmt.Errorf("object %d: id %q of a %s", i, oid, t))
		}
		if ids[oid] {
			errs = append(errs, fmt.Errorf("id %s twice", oid))
		}
		ids[oid] = true
		if scoTypes[t] {
			for _, k := range []string{"created", "modified", "created_by_ref"} {
				if _, has := obj[k]; has {
					errs = append(errs, fmt.Errorf("observable %s has %s, a property of domain objects", oid, k))
				}
			}
		}
	}
	for _, obj := range all {
		for _, k := range refProperties {
			var refs []string
			switch v := obj[k].(type) {
			case string:
				refs = []string{v}
			case []any:
				for _, r := range v {
					s, _ := r.(string)
					refs = append(refs, s)
				}
			}
			for _, r := range refs {
				if !ids[r] {
					errs = append(errs, fmt.Errorf("%s.%s refers to %q, which is not in the bundle", obj["id"], k, r))
				}
			}
		}
	}
	return errors.Join(errs...)
}
