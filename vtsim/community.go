package vtsim

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// Comments and votes posted to the emulator (POST /{collection}/{id}/comments and
// /votes) are kept in memory and listed, newest first, before the generated ones by
// the comments, votes and user_votes relationships; user_votes lists only the
// caller's own votes. POST /_emulator/reset?all=true forgets them.

// maxPosted bounds the comments and votes kept per object.
const maxPosted = 1000

// commentRec is a comment posted to the emulator.
type commentRec struct {
	id, text string
	tags     []string
	date     int64
}

func (cm *commentRec) object(c *call) map[string]any {
	tags := make([]any, len(cm.tags))
	for i, t := range cm.tags {
		tags[i] = t
	}
	return map[string]any{
		"type": "comment", "id": cm.id,
		"links": map[string]any{"self": c.base + "/api/v3/comments/" + cm.id},
		"attributes": map[string]any{
			"date": cm.date, "text": cm.text, "html": html.EscapeString(cm.text), "tags": tags,
			"votes": map[string]any{"abuse": 0, "negative": 0, "positive": 0},
		},
	}
}

// voteRec is a vote posted to the emulator.
type voteRec struct {
	id, verdict string
	user        string // key hash of the voter
	date        int64
}

func (v *voteRec) object(c *call) map[string]any {
	value := 1
	if v.verdict == "malicious" {
		value = -1
	}
	return map[string]any{
		"type": "vote", "id": v.id,
		"links":      map[string]any{"self": c.base + "/api/v3/votes/" + v.id},
		"attributes": map[string]any{"date": v.date, "verdict": v.verdict, "value": value},
	}
}

func postedKey(collection, oid string) string { return collection + "/" + oid }

func (s *Server) commentsOf(collection, oid string) []*commentRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*commentRec(nil), s.comments[postedKey(collection, oid)]...)
}

func (s *Server) votesOf(collection, oid string) []*voteRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*voteRec(nil), s.votes[postedKey(collection, oid)]...)
}

// readPosted decodes the body of a comment or vote post: {"data": {"type": typ,
// "attributes": {...}}}. It answers 400 BadRequestError itself.
func readPosted(w http.ResponseWriter, r *http.Request, typ string, attrs any) bool {
	var body struct {
		Data *struct {
			Type       string          `json:"type"`
			Attributes json.RawMessage `json:"attributes"`
		} `json:"data"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, codeBadRequest, "Malformed JSON body")
	case body.Data == nil || body.Data.Type != typ:
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("Expected a %q object in \"data\"", typ))
	case json.Unmarshal(body.Data.Attributes, attrs) != nil:
		writeError(w, http.StatusBadRequest, codeBadRequest, "Malformed \"attributes\"")
	default:
		return true
	}
	return false
}

// hashTags are the words of a comment that start with '#', as VirusTotal tags them.
func hashTags(text string) []string {
	tags := []string{}
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(text, unicode.IsSpace) {
		t := strings.ToLower(strings.TrimRightFunc(strings.TrimPrefix(w, "#"), unicode.IsPunct))
		if strings.HasPrefix(w, "#") && t != "" && !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	return tags
}

// postedID is the id of a posted comment or vote: the item's kind letter and id, and
// eight hex digits drawn from what was posted and the count already kept.
func postedID(collection, oid, what string, n int, now time.Time) string {
	d := digestOf(fmt.Sprintf("%s|%s|%s|%d|%d", collection, oid, what, n, now.UnixNano()))
	return commentID(collection, oid, d.hexFrom("posted", 8))
}

// postComment serves POST /{collection}/{id}/comments.
func (s *Server) postComment(collection string) api {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		oid, ok := s.resolveObject(w, collection, r.PathValue("id"))
		if !ok {
			return
		}
		var attrs struct {
			Text string `json:"text"`
		}
		if !readPosted(w, r, "comment", &attrs) {
			return
		}
		if strings.TrimSpace(attrs.Text) == "" {
			writeError(w, http.StatusBadRequest, codeBadRequest, "The comment's text is empty")
			return
		}
		now := s.now()
		key := postedKey(collection, oid)
		s.mu.Lock()
		list := s.comments[key]
		cm := &commentRec{id: postedID(collection, oid, "comment:"+attrs.Text, len(list), now), text: attrs.Text,
			tags: hashTags(attrs.Text), date: now.Unix()}
		list = append([]*commentRec{cm}, list...)
		if len(list) > maxPosted {
			list = list[:maxPosted]
		}
		s.comments[key] = list
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"data": cm.object(c)})
	}
}

// postVote serves POST /{collection}/{id}/votes. The verdict is "harmless" or
// "malicious"; a user's new vote on an object replaces their previous one.
func (s *Server) postVote(collection string) api {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		oid, ok := s.resolveObject(w, collection, r.PathValue("id"))
		if !ok {
			return
		}
		var attrs struct {
			Verdict string `json:"verdict"`
		}
		if !readPosted(w, r, "vote", &attrs) {
			return
		}
		if attrs.Verdict != "harmless" && attrs.Verdict != "malicious" {
			writeError(w, http.StatusBadRequest, codeBadRequest,
				fmt.Sprintf("Invalid verdict %q: it must be harmless or malicious", attrs.Verdict))
			return
		}
		now := s.now()
		key := postedKey(collection, oid)
		s.mu.Lock()
		var list []*voteRec
		for _, v := range s.votes[key] {
			if v.user != c.keyHash {
				list = append(list, v)
			}
		}
		v := &voteRec{id: postedID(collection, oid, "vote:"+c.keyHash, len(list), now), verdict: attrs.Verdict,
			user: c.keyHash, date: now.Unix()}
		list = append([]*voteRec{v}, list...)
		if len(list) > maxPosted {
			list = list[:maxPosted]
		}
		s.votes[key] = list
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"data": v.object(c)})
	}
}
