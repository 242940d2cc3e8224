package command

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// relationshipCommands returns get-{file,ip,url,domain}-relationships (see registry.go).
func relationshipCommands() []*Command {
	var cmds []*Command
	for _, k := range ioc.Kinds() {
		noun := kindNoun(k)
		c := &Command{
			Name:  fmt.Sprintf("get-%s-relationships", k),
			Title: fmt.Sprintf("Get %s Relationships", noun),
			Kind:  k,
			Group: "relationships",
			summary: func(d Door) string {
				return fmt.Sprintf("Objects related to each %s (%s)", k.Noun(), d.OptionValue("relationship", "NAME"))
			},
			Long:      relationshipsLong(k),
			InputHelp: inputName(k),
			plan: func(r *run, input string) (task, *Failure) {
				o, f := r.parseAs(r.cmd.Kind, input)
				if f != nil {
					return task{}, f
				}
				return task{key: objectKey(o), obs: o}, nil
			},
			exec:      execRelationship,
			newFields: func() Fields { return &RelationshipFields{} },
			keyFields: func(rs []Result) map[string]any {
				related := make([][]string, len(rs))
				counts := make([]int, len(rs))
				for i, res := range rs {
					related[i] = []string{}
					if f, ok := res.Context.Fields.(*RelationshipFields); ok && res.Err == nil && f.Related != nil {
						related[i] = descriptorIDs(f.Related.Related)
					}
					counts[i] = len(related[i])
				}
				return map[string]any{"RelatedIDs": related, "Counts": counts}
			},
		}
		switch k {
		case ioc.KindFile:
			c.NotFound = "File Hash Not Found."
		case ioc.KindURL:
			c.Title = "Get Url Relationships"
		}
		c.newOptions = func() Options { return &RelationshipOptions{Limit: DefaultLimit, of: c} }
		cmds = append(cmds, c)
	}
	return cmds
}

// RelationshipOptions are the options of get-*-relationships.
type RelationshipOptions struct {
	// Relationship is VirusTotal's name of the relationship (case-insensitive).
	Relationship string
	// Limit bounds the related objects read per input.
	Limit int
	// DescriptorsOnly lists {type, id} descriptors instead of full related objects.
	DescriptorsOnly bool

	// of is the command; rel the relationship once validated.
	of  *Command
	rel vt.Relationship
}

// Fields implements Options.
func (o *RelationshipOptions) Fields() []Field {
	return []Field{
		{Name: "relationship", Short: "r", Usage: "relationship name, VirusTotal's (case-insensitive); see the list above",
			Doc: "VirusTotal's relationship name (case-insensitive)", Choices: o.choices, Value: &o.Relationship},
		limitField(&o.Limit),
		{Name: "descriptors-only", Usage: "list {type, id} descriptors instead of full objects", Value: &o.DescriptorsOnly},
	}
}

// choices are the relationships of the command's kind, with who may follow them.
func (o *RelationshipOptions) choices() []Choice {
	var out []Choice
	for _, r := range Relationships(o.of.Kind) {
		c := Choice{Value: r.Name, Label: r.Name}
		switch {
		case r.Premium():
			c.Label += " (premium keys only)"
		case r.Deprecated:
			c.Label += " (deprecated)"
		}
		out = append(out, c)
	}
	return out
}

// Validate implements Options: the relationship is one of the kind's.
func (o *RelationshipOptions) Validate() error {
	k := o.of.Kind
	if o.Relationship == "" {
		return refused(nil, func(d Door) string {
			return fmt.Sprintf("%s needs a relationship (%s); %s", o.of.Name, d.OptionValue("relationship", "NAME"), relationshipHint(k))
		})
	}
	rel, ok := LookupRelationship(k, o.Relationship)
	if !ok {
		return badRequest("%q is not a relationship of %s objects; %s", o.Relationship, Collection(k), relationshipHint(k))
	}
	o.rel = rel
	return nil
}

// needsPremium implements premiumOptions.
func (o *RelationshipOptions) needsPremium() string {
	if !o.rel.Premium() {
		return ""
	}
	return fmt.Sprintf("%s is a premium-only relationship of %s", o.rel.Name, o.rel.Collection)
}

// Collection is VirusTotal's collection of an object kind ("" for none).
func Collection(kind ioc.Kind) vt.Collection {
	switch kind {
	case ioc.KindFile:
		return vt.CollectionFiles
	case ioc.KindURL:
		return vt.CollectionURLs
	case ioc.KindDomain:
		return vt.CollectionDomains
	case ioc.KindIP:
		return vt.CollectionIPAddresses
	}
	return ""
}

// Relationships returns the relationships of an object kind, sorted by name, from the
// vt package's table of VirusTotal's documented relationships.
func Relationships(kind ioc.Kind) []vt.Relationship {
	return vt.RelationshipsOf(Collection(kind))
}

// LookupRelationship finds a relationship of kind by name, case-insensitively
// ("Communicating_Files" is "communicating_files").
func LookupRelationship(kind ioc.Kind, name string) (vt.Relationship, bool) {
	return vt.LookupRelationship(Collection(kind), name)
}

// relationshipsLong is the --help of a relationship command: the relationships of
// the kind grouped by who may follow them, from vt's table.
func relationshipsLong(k ioc.Kind) string {
	var public, own, premium, old []string
	for _, r := range Relationships(k) {
		switch {
		case r.Deprecated:
			old = append(old, r.Name)
		case r.Premium():
			premium = append(premium, r.Name)
		case r.Access == vt.AccessOwnData:
			own = append(own, r.Name)
		default:
			public = append(public, r.Name)
		}
	}
	text := fmt.Sprintf(`Lists the objects related to each %s through one relationship (--relationship,
VirusTotal's name, case-insensitive), following VirusTotal's pages up to --limit objects
(default %d, one page). --descriptors-only lists {type, id} descriptors instead of full
objects. raw_data holds the related objects as VirusTotal sent them.

Relationships (any key):
  %s`, k.Noun(), DefaultLimit, wrapList(public))
	if len(own) > 0 {
		text += "\n\nThe current user's own data (any key; only what this key's user did):\n  " + wrapList(own)
	}
	text += `

Premium-only (VirusTotal Enterprise keys; a public key is refused with 403, and on a
public budget vtsoar refuses them before sending anything):
  ` + wrapList(premium)
	if len(old) > 0 {
		text += "\n\nDeprecated (VirusTotal still answers them):\n  " + wrapList(old)
	}
	return text
}

func wrapList(names []string) string {
	var b strings.Builder
	line := 0
	for i, n := range names {
		if i > 0 {
			if line+len(n)+2 > 86 {
				b.WriteString(",\n  ")
				line = 0
			} else {
				b.WriteString(", ")
				line += 2
			}
		}
		b.WriteString(n)
		line += len(n)
	}
	return b.String()
}

func relationshipHint(k ioc.Kind) string {
	var names []string
	for _, r := range Relationships(k) {
		n := r.Name
		switch {
		case r.Deprecated:
			n += " (deprecated)"
		case r.Premium():
			n += " (premium)"
		}
		names = append(names, n)
	}
	return "known: " + strings.Join(names, ", ")
}

// RelationshipFields are the fields of get-*-relationships' entries: the relationship
// followed and, once read, the related objects.
type RelationshipFields struct {
	Relationship string `json:"relationship"`
	*Related
}

// Related are the objects read through a relationship.
type Related struct {
	Related []Descriptor `json:"related"`
	Page
}

func (*RelationshipFields) fields() {}

func execRelationship(ctx context.Context, r *run, t task) outcome {
	o := options[*RelationshipOptions](r)
	f := &RelationshipFields{Relationship: o.rel.Name}
	entry := ContextEntry{Type: string(t.obs.Kind), ID: t.obs.ID, Fields: f}
	c, err := collectPages(o.Limit, func(cursor string, n int) (*vt.Page, error) {
		return r.d.Client.RelationshipPage(ctx, o.rel, t.obs.ID,
			vt.ListOptions{Limit: n, Cursor: cursor, DescriptorsOnly: o.DescriptorsOnly})
	})
	if err != nil {
		return outcome{entry: entry, fail: r.relationshipFailure(o.rel, err)}
	}
	f.Related = &Related{Related: c.descs, Page: Page{Count: len(c.descs), Pages: c.pages, More: c.cursor != ""}}
	raw, err := c.rawPage()
	if err != nil {
		return outcome{entry: entry, fail: r.failure(err)}
	}
	return outcome{entry: entry, raw: raw}
}

// relationshipFailure is the failure of a relationship's page: VirusTotal refusing it
// to the key says which relationship and why (a 403 that is not VirusTotal's answer,
// such as a proxy's page, is not VirusTotal's refusal).
func (r *run) relationshipFailure(rel vt.Relationship, err error) *Failure {
	var ve *vt.Error
	if errors.As(err, &ve) && (ve.StatusCode == 403 || ve.Code == vt.CodeForbidden) && !ve.NotJSON() {
		msg := fmt.Sprintf("The %s relationship", rel.Name)
		if rel.Premium() {
			msg += " is premium-only: it needs a VirusTotal premium (Enterprise) API key, and this key was refused"
		} else {
			msg += " was refused to this API key"
		}
		if ve.Message != "" {
			msg += " (VirusTotal: " + strings.TrimSuffix(ve.Message, ".") + ")"
		}
		return &Failure{StatusCode: ve.StatusCode, Code: ve.Code, Message: msg + "."}
	}
	return r.failure(err)
}
