package vtsim

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// loadDataDir indexes the VirusTotal objects found in the JSON files under dir. A file
// holding {"data": {"type": "file"|"url"|"domain"|"ip_address", "id": ...}} answers GET
// for that id (and, for files, its md5/sha1/sha256; for URLs, both id forms of its
// "url" attribute). Other JSON files are ignored.
func (s *Server) loadDataDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("vtsim: data dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("vtsim: data dir %s is not a directory", dir)
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("vtsim: data dir: %w", err)
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".json") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("vtsim: data dir: %w", err)
		}
		s.indexObject(path, b)
		return nil
	})
}

func (s *Server) indexObject(path string, b []byte) {
	var env struct {
		Data *struct {
			Type       string `json:"type"`
			ID         string `json:"id"`
			Attributes struct {
				MD5    string `json:"md5"`
				SHA1   string `json:"sha1"`
				SHA256 string `json:"sha256"`
				URL    string `json:"url"`
			} `json:"attributes"`
			Links struct {
				Self string `json:"self"`
			} `json:"links"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Data == nil || env.Data.ID == "" {
		s.log.Debug("vtsim: data dir: not an object, ignored", "file", path)
		return
	}
	d := env.Data
	add := func(typ, id string) {
		if id != "" {
			s.data[typ+":"+id] = b
		}
	}
	switch d.Type {
	case "file":
		add("file", strings.ToLower(d.ID))
		add("file", strings.ToLower(d.Attributes.MD5))
		add("file", strings.ToLower(d.Attributes.SHA1))
		add("file", strings.ToLower(d.Attributes.SHA256))
	case "url":
		add("url", d.ID)
		if d.Attributes.URL != "" {
			add("url", urlSHA256ID(d.Attributes.URL))
		}
		if i := strings.LastIndexByte(d.Links.Self, '/'); i >= 0 {
			add("url", d.Links.Self[i+1:])
		}
	case "domain":
		add("domain", strings.ToLower(d.ID))
	case "ip_address":
		if a, ok := canonicalIP(d.ID); ok {
			add("ip_address", a.String())
		}
	default:
		s.log.Debug("vtsim: data dir: object type not served", "file", path, "type", d.Type)
	}
}
