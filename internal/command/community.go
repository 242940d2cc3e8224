package command

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// communityCommands returns get-comments, add-comment, get-votes and add-vote (see
// registry.go).
func communityCommands() []*Command {
	cmds := []*Command{
		{
			Name:  "get-comments",
			Title: "Get Comments",
			Short: "The community's comments on each file, IP address, URL or domain",
			Long: `Lists VirusTotal's community comments on each observable (a file hash, IP address, URL
or domain, told apart as lookup does), newest first, up to --limit per input: each
comment's id, date, text, tags and votes. key_fields.CommentCounts gives how many were
read per input.`,
			newOptions: newLimitOptions,
			exec:       execGetComments,
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"CommentCounts": detail(rs, "count")}
			},
		},
		{
			Name:  "add-comment",
			Title: "Add Comment",
			summary: func(d Door) string {
				return fmt.Sprintf("Post a comment (%s) on each file, IP address, URL or domain", d.Option("comment"))
			},
			Long: `Posts the text of --comment as a community comment on each observable (a file hash,
IP address, URL or domain). Words of the text starting with '#' become its tags. An
object given twice is commented once. key_fields.CommentIDs gives each new comment's
id.`,
			newOptions: func() Options { return &CommentOptions{} },
			exec:       execAddComment,
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"CommentIDs": detail(rs, "comment_id")}
			},
		},
		{
			Name:  "get-votes",
			Title: "Get Votes",
			Short: "The community's votes (harmless or malicious) on each observable",
			Long: `Lists VirusTotal's community votes on each observable (a file hash, IP address, URL or
domain), up to --limit per input: each vote's id, date, verdict and weight, and how many
of those read say harmless and malicious. key_fields.VoteCounts gives them per input.`,
			newOptions: newLimitOptions,
			exec:       execGetVotes,
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"VoteCounts": detail(rs, "vote_counts")}
			},
		},
		{
			Name:  "add-vote",
			Title: "Add Vote",
			summary: func(d Door) string {
				return fmt.Sprintf("Vote harmless or malicious (%s) on each observable", d.Option("verdict"))
			},
			Long: `Casts the community vote --verdict (harmless or malicious) on each observable (a file
hash, IP address, URL or domain). An object given twice is voted on once.
key_fields.VoteIDs gives each vote's id.`,
			newOptions: func() Options { return &VoteOptions{} },
			exec:       execAddVote,
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"VoteIDs": detail(rs, "vote_id")}
			},
		},
	}
	for _, c := range cmds {
		c.Group = "community"
		c.InputHelp = "OBSERVABLE"
		c.plan = anyObjectTask
		c.noun, c.invalid = "Object", "Invalid Input."
	}
	return cmds
}

// CommentOptions are the options of add-comment.
type CommentOptions struct {
	// Comment is the text posted on each input (words starting with '#' become its
	// tags).
	Comment string
}

// maxComment bounds a comment's text.
const maxComment = 64 << 10

// Fields implements Options.
func (o *CommentOptions) Fields() []Field {
	return []Field{{Name: "comment", Usage: "the comment's text (words starting with # become its tags)", MaxLength: maxComment, Value: &o.Comment}}
}

// Validate implements Options: there is a text.
func (o *CommentOptions) Validate() error {
	if strings.TrimSpace(o.Comment) == "" {
		return refused(nil, func(d Door) string {
			return fmt.Sprintf("add-comment needs the comment's text (%s)", d.OptionValue("comment", "TEXT"))
		})
	}
	return nil
}

// VoteOptions are the options of add-vote.
type VoteOptions struct {
	// Verdict is the vote cast on each input: "harmless" or "malicious" (in any
	// case).
	Verdict string

	verdict vt.Verdict
}

// Fields implements Options.
func (o *VoteOptions) Fields() []Field {
	return []Field{{Name: "verdict", Usage: "the vote: harmless or malicious", Doc: "the vote: harmless or malicious (case-insensitive)",
		Enum: []string{string(vt.VerdictHarmless), string(vt.VerdictMalicious)}, Value: &o.Verdict}}
}

// Validate implements Options: the verdict is harmless or malicious.
func (o *VoteOptions) Validate() error {
	switch v := vt.Verdict(strings.ToLower(strings.TrimSpace(o.Verdict))); v {
	case vt.VerdictHarmless, vt.VerdictMalicious:
		o.verdict = v
		return nil
	case "":
		return refused(nil, func(d Door) string {
			return fmt.Sprintf("add-vote needs a verdict (%s)", d.OptionValue("verdict", "harmless|malicious"))
		})
	}
	return badRequest("verdict %q: want harmless or malicious", o.Verdict)
}

// anyObjectTask parses an input of any kind (told apart as lookup does); a rejection
// is in the words of the kind it looks like.
func anyObjectTask(_ *run, input string) (task, *Failure) {
	o, err := ioc.Parse(input)
	if err != nil {
		return task{}, lookupInvalid(input).fail
	}
	return task{key: objectKey(o), obs: o}, nil
}

// kindFailure is the failure of an error about an object of kind.
func kindFailure(kind ioc.Kind, err error) *Failure {
	return failureAs(kindNoun(kind), kindInvalid(kind), err)
}

// objectID is the id VirusTotal takes for o in its collection's paths.
func objectID(o ioc.Observable) string {
	if o.Kind == ioc.KindURL && o.Value != "" {
		return ioc.URLID(o.Value)
	}
	return o.ID
}

// communityEntry is the entry of an input, named by its canonical id.
func communityEntry(o ioc.Observable) ContextEntry {
	e := ContextEntry{Type: string(o.Kind), ID: o.ID}
	if o.Kind == ioc.KindURL && o.Value != "" {
		e.ID = ioc.URLSHA256ID(o.Value)
		e.set("url", o.Value)
	}
	return e
}

// commentView is a comment as context_data shows it.
type commentView struct {
	ID    string          `json:"id"`
	Date  string          `json:"date,omitempty"`
	Text  string          `json:"text"`
	Tags  []string        `json:"tags"`
	Votes vt.CommentVotes `json:"votes"`
}

func viewComment(c *vt.Comment) commentView {
	v := commentView{ID: c.ID, Text: c.Text, Tags: c.Tags, Votes: c.Votes}
	if c.Date != 0 {
		v.Date = c.Date.Time().Format("2006-01-02T15:04:05Z")
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	return v
}

func execGetComments(ctx context.Context, r *run, t task) outcome {
	col := Collection(t.obs.Kind)
	return communityList(r, t, "comments", func(cursor string, n int) ([]*vt.Comment, string, error) {
		p, err := r.d.Client.GetComments(ctx, col, objectID(t.obs), vt.ListOptions{Limit: n, Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		return p.Comments, p.Cursor, nil
	}, viewComment, func(c *vt.Comment) *vt.Object { return &c.Object }, nil)
}

// communityList follows the pages of an object's comments or votes up to --limit:
// context_data lists their views under name with their count and how far the pages
// went (finish adds what the kind adds), and raw_data joins the objects as one page.
func communityList[T, V any](r *run, t task, name string, page func(cursor string, n int) ([]T, string, error),
	view func(T) V, object func(T) *vt.Object, finish func(*ContextEntry, []T)) outcome {
	entry := communityEntry(t.obs)
	var items []T
	views := []V{}
	var raws []json.RawMessage
	pages, cursor, err := followPages(options[*LimitOptions](r).Limit, page, func(it T) {
		items = append(items, it)
		views = append(views, view(it))
		raws = append(raws, rawObject(object(it)))
	})
	if err != nil {
		return outcome{entry: entry, fail: kindFailure(t.obs.Kind, err)}
	}
	entry.set(name, views)
	entry.set("count", len(views))
	if finish != nil {
		finish(&entry, items)
	}
	entry.set("pages", pages)
	entry.set("more", cursor != "")
	raw, err := joinedPage(raws, cursor)
	if err != nil {
		return outcome{entry: entry, fail: kindFailure(t.obs.Kind, err)}
	}
	return outcome{entry: entry, raw: raw}
}

func execAddComment(ctx context.Context, r *run, t task) outcome {
	entry := communityEntry(t.obs)
	c, err := r.d.Client.AddComment(ctx, Collection(t.obs.Kind), objectID(t.obs), options[*CommentOptions](r).Comment)
	if err != nil {
		return outcome{entry: entry, fail: kindFailure(t.obs.Kind, err)}
	}
	v := viewComment(c)
	entry.set("comment_id", v.ID)
	entry.set("text", v.Text)
	entry.set("tags", v.Tags)
	raw, _ := json.Marshal(map[string]json.RawMessage{"data": rawObject(&c.Object)})
	return outcome{entry: entry, raw: raw}
}

// voteView is a vote as context_data shows it.
type voteView struct {
	ID      string     `json:"id"`
	Date    string     `json:"date,omitempty"`
	Verdict vt.Verdict `json:"verdict"`
	Value   int        `json:"value"`
}

func viewVote(v *vt.Vote) voteView {
	out := voteView{ID: v.ID, Verdict: v.Verdict, Value: v.Value}
	if v.Date != 0 {
		out.Date = v.Date.Time().Format("2006-01-02T15:04:05Z")
	}
	return out
}

func execGetVotes(ctx context.Context, r *run, t task) outcome {
	col := Collection(t.obs.Kind)
	return communityList(r, t, "votes", func(cursor string, n int) ([]*vt.Vote, string, error) {
		p, err := r.d.Client.GetVotes(ctx, col, objectID(t.obs), vt.ListOptions{Limit: n, Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		return p.Votes, p.Cursor, nil
	}, viewVote, func(v *vt.Vote) *vt.Object { return &v.Object }, func(e *ContextEntry, votes []*vt.Vote) {
		counts := map[string]int{string(vt.VerdictHarmless): 0, string(vt.VerdictMalicious): 0}
		for _, v := range votes {
			counts[string(v.Verdict)]++
		}
		e.set("vote_counts", counts)
	})
}

func execAddVote(ctx context.Context, r *run, t task) outcome {
	entry := communityEntry(t.obs)
	v, err := r.d.Client.AddVote(ctx, Collection(t.obs.Kind), objectID(t.obs), options[*VoteOptions](r).verdict)
	if err != nil {
		return outcome{entry: entry, fail: kindFailure(t.obs.Kind, err)}
	}
	vv := viewVote(v)
	entry.set("vote_id", vv.ID)
	entry.set("verdict", vv.Verdict)
	entry.set("value", vv.Value)
	raw, _ := json.Marshal(map[string]json.RawMessage{"data": rawObject(&v.Object)})
	return outcome{entry: entry, raw: raw}
}

// rawObject is an object as VirusTotal sent it (re-encoded when the client kept no
// copy).
func rawObject(o *vt.Object) json.RawMessage {
	if len(o.Raw) > 0 {
		var probe struct {
			Data json.RawMessage `json:"data"`
		}
		// A posted object's Raw is the whole body {"data": {...}}.
		if json.Unmarshal(o.Raw, &probe) == nil && len(probe.Data) > 0 && probe.Data[0] == '{' {
			return probe.Data
		}
		return o.Raw
	}
	b, err := json.Marshal(o)
	if err != nil {
		return json.RawMessage(fmt.Sprintf(`{"id": %q}`, o.ID))
	}
	return b
}

// joinedPage is the objects read as one VirusTotal-shaped page.
func joinedPage(objs []json.RawMessage, cursor string) (json.RawMessage, error) {
	if objs == nil {
		objs = []json.RawMessage{}
	}
	return collected{descs: make([]descriptor, len(objs)), objs: objs, cursor: cursor}.rawPage()
}
