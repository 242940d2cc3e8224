package vt

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Comment is a comment object (https://docs.virustotal.com/reference/comments).
type Comment struct {
	Object
	// Date is when it was posted.
	Date Timestamp
	// Text is the comment as written; HTML its rendering.
	Text, HTML string
	// Tags are the words of the text that start with '#' (without it), and
	// VirusTotal's own tags such as "_:web".
	Tags []string
	// Votes are the community's votes on the comment.
	Votes CommentVotes
}

// CommentVotes count the votes on a comment.
type CommentVotes struct {
	Positive int `json:"positive"`
	Negative int `json:"negative"`
	Abuse    int `json:"abuse"`
}

// Verdict is a vote's verdict.
type Verdict string

// The verdicts VirusTotal takes.
const (
	VerdictHarmless  Verdict = "harmless"
	VerdictMalicious Verdict = "malicious"
)

// Vote is a vote object (https://docs.virustotal.com/reference/vote-object).
type Vote struct {
	Object
	Date    Timestamp
	Verdict Verdict
	// Value is the vote's weight, signed: positive for harmless, negative for
	// malicious.
	Value int
}

// CommentPage is one page of comments.
type CommentPage struct {
	Comments []*Comment
	Cursor   string
	Links    Links
	// Raw is the page's untouched JSON.
	Raw json.RawMessage
}

// VotePage is one page of votes.
type VotePage struct {
	Votes  []*Vote
	Cursor string
	Links  Links
	// Raw is the page's untouched JSON.
	Raw json.RawMessage
}

func commentOf(o *Object) (*Comment, error) {
	var a struct {
		Date  Timestamp    `json:"date"`
		Text  string       `json:"text"`
		HTML  string       `json:"html"`
		Tags  []string     `json:"tags"`
		Votes CommentVotes `json:"votes"`
	}
	if o.Type != "" && o.Type != "comment" {
		return nil, fmt.Errorf("expected a comment object, got a %q object", o.Type)
	}
	if err := decodeAttrs(o.Attributes, &a); err != nil {
		return nil, err
	}
	return &Comment{Object: *o, Date: a.Date, Text: a.Text, HTML: a.HTML, Tags: a.Tags, Votes: a.Votes}, nil
}

func voteOf(o *Object) (*Vote, error) {
	var a struct {
		Date    Timestamp `json:"date"`
		Verdict Verdict   `json:"verdict"`
		Value   int       `json:"value"`
	}
	if o.Type != "" && o.Type != "vote" {
		return nil, fmt.Errorf("expected a vote object, got a %q object", o.Type)
	}
	if err := decodeAttrs(o.Attributes, &a); err != nil {
		return nil, err
	}
	return &Vote{Object: *o, Date: a.Date, Verdict: a.Verdict, Value: a.Value}, nil
}

// GetComments returns one page of the comments on an object of c, newest first: GET
// /{collection}/{id}/comments, the "comments" relationship. Any key may read them.
func (c *Client) GetComments(ctx context.Context, col Collection, id string, opts ListOptions) (*CommentPage, error) {
	if opts.DescriptorsOnly {
		return nil, invalidArgf("GetComments lists full comments; use RelationshipPage for descriptors")
	}
	p, err := c.RelationshipPage(ctx, Relationship{Collection: col, Name: "comments"}, id, opts)
	if err != nil {
		return nil, err
	}
	out := &CommentPage{Cursor: p.Cursor, Links: p.Links, Raw: p.Raw, Comments: make([]*Comment, 0, len(p.Objects))}
	for i, o := range p.Objects {
		cm, err := commentOf(o)
		if err != nil {
			return nil, &Error{StatusCode: http.StatusOK, Code: CodeInvalidResponse, Method: http.MethodGet,
				Path: "/" + string(col) + "/{id}/comments", Message: fmt.Sprintf("comment %d: %v", i, err)}
		}
		out.Comments = append(out.Comments, cm)
	}
	return out, nil
}

// MaxCommentSize bounds a comment's text in bytes (VirusTotal's own limit is not
// documented; this one keeps a request small): AddComment refuses a longer one.
const MaxCommentSize = 64 << 10

// AddComment posts a comment on an object of c (POST /{collection}/{id}/comments,
// body {"data": {"type": "comment", "attributes": {"text": text}}}) and returns it as
// VirusTotal stored it, with its id. Words of the text starting with '#' become its
// tags. An empty text is refused before anything is sent. Like every POST, it is
// retried only on answers VirusTotal sends before acting (429, 503).
func (c *Client) AddComment(ctx context.Context, col Collection, id, text string) (*Comment, error) {
	if strings.TrimSpace(text) == "" {
		return nil, invalidArgf("empty comment")
	}
	if len(text) > MaxCommentSize {
		return nil, invalidArgf("comment of %d bytes: at most %d", len(text), MaxCommentSize)
	}
	body, err := json.Marshal(map[string]any{"data": map[string]any{"type": "comment", "attributes": map[string]any{"text": text}}})
	if err != nil {
		return nil, err
	}
	o, err := c.post(ctx, col, id, "comments", body)
	if err != nil {
		return nil, err
	}
	return o.comment()
}

// GetVotes returns one page of the votes on an object of c (GET
// /{collection}/{id}/votes, the "votes" relationship).
func (c *Client) GetVotes(ctx context.Context, col Collection, id string, opts ListOptions) (*VotePage, error) {
	return c.votes(ctx, col, id, "votes", opts)
}

// GetUserVotes returns the votes the key's own user made on an object of c (the
// "user_votes" relationship: own data, any key).
func (c *Client) GetUserVotes(ctx context.Context, col Collection, id string, opts ListOptions) (*VotePage, error) {
	return c.votes(ctx, col, id, "user_votes", opts)
}

func (c *Client) votes(ctx context.Context, col Collection, id, name string, opts ListOptions) (*VotePage, error) {
	if opts.DescriptorsOnly {
		return nil, invalidArgf("the vote calls list full votes; use RelationshipPage for descriptors")
	}
	p, err := c.RelationshipPage(ctx, Relationship{Collection: col, Name: name}, id, opts)
	if err != nil {
		return nil, err
	}
	out := &VotePage{Cursor: p.Cursor, Links: p.Links, Raw: p.Raw, Votes: make([]*Vote, 0, len(p.Objects))}
	for i, o := range p.Objects {
		v, err := voteOf(o)
		if err != nil {
			return nil, &Error{StatusCode: http.StatusOK, Code: CodeInvalidResponse, Method: http.MethodGet,
				Path: "/" + string(col) + "/{id}/" + name, Message: fmt.Sprintf("vote %d: %v", i, err)}
		}
		out.Votes = append(out.Votes, v)
	}
	return out, nil
}

// AddVote votes on an object of c (POST /{collection}/{id}/votes, body {"data":
// {"type": "vote", "attributes": {"verdict": verdict}}}) and returns the vote. The
// verdict must be VerdictHarmless or VerdictMalicious; anything else is refused
// before anything is sent.
func (c *Client) AddVote(ctx context.Context, col Collection, id string, verdict Verdict) (*Vote, error) {
	if verdict != VerdictHarmless && verdict != VerdictMalicious {
		return nil, invalidArgf("verdict %q: expected %q or %q", verdict, VerdictHarmless, VerdictMalicious)
	}
	body, err := json.Marshal(map[string]any{"data": map[string]any{"type": "vote", "attributes": map[string]any{"verdict": verdict}}})
	if err != nil {
		return nil, err
	}
	o, err := c.post(ctx, col, id, "votes", body)
	if err != nil {
		return nil, err
	}
	return o.vote()
}

// posted is the answer of a comment or vote post, with what decoding it needs.
type posted struct {
	c   *Client
	r   *request
	res *response
}

func (p posted) comment() (*Comment, error) {
	return decodeWith(p.c, p.r, p.res, func(b []byte) (*Comment, error) {
		o, _, err := decodeObjectBody(b)
		if err != nil {
			return nil, err
		}
		return commentOf(&o)
	})
}

func (p posted) vote() (*Vote, error) {
	return decodeWith(p.c, p.r, p.res, func(b []byte) (*Vote, error) {
		o, _, err := decodeObjectBody(b)
		if err != nil {
			return nil, err
		}
		return voteOf(&o)
	})
}

// post sends POST /{collection}/{id}/{what} with a JSON body.
func (c *Client) post(ctx context.Context, col Collection, id, what string, body []byte) (posted, error) {
	if !col.Valid() {
		return posted{}, invalidArgf("collection %q: expected files, urls, domains or ip_addresses", col)
	}
	eid, err := escapeID("id", id)
	if err != nil {
		return posted{}, err
	}
	r := &request{method: http.MethodPost, endpoint: "POST /" + string(col) + "/{id}/" + what,
		path: "/" + string(col) + "/" + eid + "/" + what, jsonBody: body}
	res, err := c.do(ctx, r)
	if err != nil {
		return posted{}, err
	}
	return posted{c: c, r: r, res: res}, nil
}
