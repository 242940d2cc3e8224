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
			newFields:  func() Fields { return &CommentsFields{} },
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"CommentCounts": perInput(rs, func(f *CommentsFields) (int, bool) {
					if f.Comments == nil {
						return 0, false
					}
					return f.Count, true
				})}
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
			newFields:  func() Fields { return &CommentFields{} },
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"CommentIDs": perInput(rs, func(f *CommentFields) (string, bool) {
					if f.PostedComment == nil {
						return "", false
					}
					return f.CommentID, true
				})}
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
			newFields:  func() Fields { return &VotesFields{} },
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"VoteCounts": perInput(rs, func(f *VotesFields) (map[string]int, bool) {
					if f.Votes == nil {
						return nil, false
					}
					return f.VoteCounts, true
				})}
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
			newFields:  func() Fields { return &VoteFields{} },
			keyFields: func(rs []Result) map[string]any {
				return map[string]any{"VoteIDs": perInput(rs, func(f *VoteFields) (string, bool) {
					if f.CastVote == nil {
						return "", false
					}
					return f.VoteID, true
				})}
			},
		},
	}
	for _, c := range cmds {
		c.Group = "community"
		c.InputHelp = "OBSERVABLE"
		c.plan = anyObjectTask
	}
	return cmds
}

// CommentOptions are the options of add-comment.
type CommentOptions struct {
	// Comment is the text posted on each input (words starting with '#' become its
	// tags).
	Comment string
}

// Fields implements Options.
func (o *CommentOptions) Fields() []Field {
	return []Field{{Name: "comment", Usage: "the comment's text (words starting with # become its tags)", MaxLength: vt.MaxCommentSize, Value: &o.Comment}}
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
	return failureAs(kindNotFound(kind), kindInvalid(kind), err)
}

// objectID is the id VirusTotal takes for o in its collection's paths.
func objectID(o ioc.Observable) string {
	if o.Kind == ioc.KindURL && o.Value != "" {
		return ioc.URLID(o.Value)
	}
	return o.ID
}

// communityEntry is the entry of an input, named by its canonical id, and the URL
// when the input is one.
func communityEntry(o ioc.Observable) (ContextEntry, string) {
	e := ContextEntry{Type: string(o.Kind), ID: o.ID}
	if o.Kind == ioc.KindURL && o.Value != "" {
		e.ID = ioc.URLSHA256ID(o.Value)
		return e, o.Value
	}
	return e, ""
}

// CommentView is a comment as context_data shows it.
type CommentView struct {
	ID    string          `json:"id"`
	Date  string          `json:"date,omitempty"`
	Text  string          `json:"text"`
	Tags  []string        `json:"tags"`
	Votes vt.CommentVotes `json:"votes"`
}

func viewComment(c *vt.Comment) CommentView {
	v := CommentView{ID: c.ID, Text: c.Text, Tags: c.Tags, Votes: c.Votes}
	if c.Date != 0 {
		v.Date = c.Date.Time().Format("2006-01-02T15:04:05Z")
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	return v
}

// Page says how much of a list was read: the items kept, the pages read and whether
// VirusTotal has more.
type Page struct {
	Count int  `json:"count"`
	Pages int  `json:"pages"`
	More  bool `json:"more"`
}

// CommentsFields are the fields of get-comments' entries.
type CommentsFields struct {
	// URL is the input's URL, when it is one.
	URL string `json:"url,omitempty"`
	// Comments is there when the comments were read.
	*Comments
}

// Comments are the comments read of an object.
type Comments struct {
	Comments []CommentView `json:"comments"`
	Page
}

func (*CommentsFields) fields() {}

func execGetComments(ctx context.Context, r *run, t task) outcome {
	col := Collection(t.obs.Kind)
	entry, url := communityEntry(t.obs)
	f := &CommentsFields{URL: url}
	entry.Fields = f
	items, page, raw, fail := communityList(r, t, func(cursor string, n int) ([]*vt.Comment, string, error) {
		p, err := r.d.Client.GetComments(ctx, col, objectID(t.obs), vt.ListOptions{Limit: n, Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		return p.Comments, p.Cursor, nil
	}, func(c *vt.Comment) *vt.Object { return &c.Object })
	if items != nil {
		views := make([]CommentView, len(*items))
		for i, c := range *items {
			views[i] = viewComment(c)
		}
		f.Comments = &Comments{Comments: views, Page: page}
	}
	return outcome{entry: entry, raw: raw, fail: fail}
}

// communityList follows the pages of an object's comments or votes up to --limit. It
// returns what it read (nil when a page could not be read) and how far the pages
// went, and raw_data's one page joining the objects; fail says what went wrong.
func communityList[T any](r *run, t task, page func(cursor string, n int) ([]T, string, error),
	object func(T) *vt.Object) (*[]T, Page, json.RawMessage, *Failure) {
	items := []T{}
	var raws []json.RawMessage
	pages, cursor, err := followPages(options[*LimitOptions](r).Limit, page, func(it T) {
		items = append(items, it)
		raws = append(raws, rawObject(object(it)))
	})
	if err != nil {
		return nil, Page{}, nil, kindFailure(t.obs.Kind, err)
	}
	p := Page{Count: len(items), Pages: pages, More: cursor != ""}
	raw, err := joinedPage(raws, cursor)
	if err != nil {
		return &items, p, nil, kindFailure(t.obs.Kind, err)
	}
	return &items, p, raw, nil
}

// CommentFields are the fields of add-comment's entries.
type CommentFields struct {
	// URL is the input's URL, when it is one.
	URL string `json:"url,omitempty"`
	// PostedComment is there when the comment was posted.
	*PostedComment
}

// PostedComment is a comment add-comment posted.
type PostedComment struct {
	CommentID string   `json:"comment_id"`
	Text      string   `json:"text"`
	Tags      []string `json:"tags"`
}

func (*CommentFields) fields() {}

func execAddComment(ctx context.Context, r *run, t task) outcome {
	entry, url := communityEntry(t.obs)
	f := &CommentFields{URL: url}
	entry.Fields = f
	c, err := r.d.Client.AddComment(ctx, Collection(t.obs.Kind), objectID(t.obs), options[*CommentOptions](r).Comment)
	if err != nil {
		return outcome{entry: entry, fail: kindFailure(t.obs.Kind, err)}
	}
	v := viewComment(c)
	f.PostedComment = &PostedComment{CommentID: v.ID, Text: v.Text, Tags: v.Tags}
	raw, _ := json.Marshal(map[string]json.RawMessage{"data": rawObject(&c.Object)})
	return outcome{entry: entry, raw: raw}
}

// VoteView is a vote as context_data shows it.
type VoteView struct {
	ID      string     `json:"id"`
	Date    string     `json:"date,omitempty"`
	Verdict vt.Verdict `json:"verdict"`
	Value   int        `json:"value"`
}

func viewVote(v *vt.Vote) VoteView {
	out := VoteView{ID: v.ID, Verdict: v.Verdict, Value: v.Value}
	if v.Date != 0 {
		out.Date = v.Date.Time().Format("2006-01-02T15:04:05Z")
	}
	return out
}

// VotesFields are the fields of get-votes' entries.
type VotesFields struct {
	// URL is the input's URL, when it is one.
	URL string `json:"url,omitempty"`
	// Votes is there when the votes were read.
	*Votes
}

// Votes are the votes read of an object, and how many of them say harmless and
// malicious.
type Votes struct {
	Votes      []VoteView     `json:"votes"`
	VoteCounts map[string]int `json:"vote_counts"`
	Page
}

func (*VotesFields) fields() {}

func execGetVotes(ctx context.Context, r *run, t task) outcome {
	col := Collection(t.obs.Kind)
	entry, url := communityEntry(t.obs)
	f := &VotesFields{URL: url}
	entry.Fields = f
	items, page, raw, fail := communityList(r, t, func(cursor string, n int) ([]*vt.Vote, string, error) {
		p, err := r.d.Client.GetVotes(ctx, col, objectID(t.obs), vt.ListOptions{Limit: n, Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		return p.Votes, p.Cursor, nil
	}, func(v *vt.Vote) *vt.Object { return &v.Object })
	if items != nil {
		views := make([]VoteView, len(*items))
		counts := map[string]int{string(vt.VerdictHarmless): 0, string(vt.VerdictMalicious): 0}
		for i, v := range *items {
			views[i] = viewVote(v)
			counts[string(v.Verdict)]++
		}
		f.Votes = &Votes{Votes: views, VoteCounts: counts, Page: page}
	}
	return outcome{entry: entry, raw: raw, fail: fail}
}

// VoteFields are the fields of add-vote's entries.
type VoteFields struct {
	// URL is the input's URL, when it is one.
	URL string `json:"url,omitempty"`
	// CastVote is there when the vote was cast.
	*CastVote
}

// CastVote is a vote add-vote cast.
type CastVote struct {
	VoteID  string     `json:"vote_id"`
	Verdict vt.Verdict `json:"verdict"`
	Value   int        `json:"value"`
}

func (*VoteFields) fields() {}

func execAddVote(ctx context.Context, r *run, t task) outcome {
	entry, url := communityEntry(t.obs)
	f := &VoteFields{URL: url}
	entry.Fields = f
	v, err := r.d.Client.AddVote(ctx, Collection(t.obs.Kind), objectID(t.obs), options[*VoteOptions](r).verdict)
	if err != nil {
		return outcome{entry: entry, fail: kindFailure(t.obs.Kind, err)}
	}
	vv := viewVote(v)
	f.CastVote = &CastVote{VoteID: vv.ID, Verdict: vv.Verdict, Value: vv.Value}
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
	return collected{descs: make([]Descriptor, len(objs)), objs: objs, cursor: cursor}.rawPage()
}
