package vt

import (
	"encoding/json"
	"time"
)

// Object is one VirusTotal object: a file, URL, domain, IP address, analysis, comment...
type Object struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Links Links  `json:"links,omitempty"`
	// Attributes is the object's "attributes" member, undecoded.
	Attributes json.RawMessage `json:"attributes,omitempty"`
	// ContextAttributes is "context_attributes", present on objects listed through a
	// relationship.
	ContextAttributes json.RawMessage `json:"context_attributes,omitempty"`
	// Relationships holds the relationships asked for with ?relationships=.
	Relationships map[string]json.RawMessage `json:"relationships,omitempty"`
	// Raw is the untouched JSON of this object as VirusTotal sent it (for a report,
	// the whole response body {"data": ...}). Not part of the object's JSON encoding.
	Raw json.RawMessage `json:"-"`
}

// Links are an object's or a collection's links.
type Links struct {
	Self    string `json:"self,omitempty"`
	Next    string `json:"next,omitempty"`
	Related string `json:"related,omitempty"`
	// Item is an analysis' link to the analysed file or URL.
	Item string `json:"item,omitempty"`
}

// Timestamp is a Unix time in seconds as VirusTotal encodes dates.
type Timestamp int64

// Time returns the timestamp as a time.Time in UTC; the zero time for 0.
func (t Timestamp) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0).UTC()
}

// AnalysisStats counts engine verdicts ("last_analysis_stats", an analysis' "stats").
type AnalysisStats struct {
	Harmless         int `json:"harmless"`
	Malicious        int `json:"malicious"`
	Suspicious       int `json:"suspicious"`
	Undetected       int `json:"undetected"`
	Timeout          int `json:"timeout"`
	ConfirmedTimeout int `json:"confirmed-timeout,omitempty"`
	Failure          int `json:"failure,omitempty"`
	TypeUnsupported  int `json:"type-unsupported,omitempty"`
}

// Total is the number of engines counted in any category.
func (s AnalysisStats) Total() int {
	return s.Harmless + s.Malicious + s.Suspicious + s.Undetected + s.Timeout +
		s.ConfirmedTimeout + s.Failure + s.TypeUnsupported
}

// EngineResult is one engine's verdict in "last_analysis_results" or an analysis' "results".
type EngineResult struct {
	Category      string  `json:"category"`
	EngineName    string  `json:"engine_name"`
	EngineVersion string  `json:"engine_version,omitempty"`
	EngineUpdate  string  `json:"engine_update,omitempty"`
	Method        string  `json:"method,omitempty"`
	Result        *string `json:"result"`
}

// Votes are the community votes ("total_votes").
type Votes struct {
	Harmless  int `json:"harmless"`
	Malicious int `json:"malicious"`
}

// CommonAttributes are the attributes that files, URLs, domains and IP addresses share.
type CommonAttributes struct {
	LastAnalysisDate     Timestamp               `json:"last_analysis_date,omitempty"`
	LastAnalysisStats    *AnalysisStats          `json:"last_analysis_stats,omitempty"`
	LastAnalysisResults  map[string]EngineResult `json:"last_analysis_results,omitempty"`
	LastModificationDate Timestamp               `json:"last_modification_date,omitempty"`
	Reputation           int                     `json:"reputation"`
	Tags                 []string                `json:"tags,omitempty"`
	TotalVotes           Votes                   `json:"total_votes"`
}

// FileAttributes are a file object's attributes (the commonly used subset; the rest
// stays in the report's Object.Attributes).
type FileAttributes struct {
	CommonAttributes
	MD5                 string    `json:"md5"`
	SHA1                string    `json:"sha1"`
	SHA256              string    `json:"sha256"`
	Size                int64     `json:"size"`
	TypeDescription     string    `json:"type_description,omitempty"`
	TypeTag             string    `json:"type_tag,omitempty"`
	TypeExtension       string    `json:"type_extension,omitempty"`
	Magic               string    `json:"magic,omitempty"`
	MeaningfulName      string    `json:"meaningful_name,omitempty"`
	Names               []string  `json:"names,omitempty"`
	SSDeep              string    `json:"ssdeep,omitempty"`
	TLSH                string    `json:"tlsh,omitempty"`
	VHash               string    `json:"vhash,omitempty"`
	FirstSubmissionDate Timestamp `json:"first_submission_date,omitempty"`
	LastSubmissionDate  Timestamp `json:"last_submission_date,omitempty"`
	TimesSubmitted      int       `json:"times_submitted,omitempty"`
	UniqueSources       int       `json:"unique_sources,omitempty"`
}

// URLAttributes are a URL object's attributes.
type URLAttributes struct {
	CommonAttributes
	URL                  string            `json:"url"`
	LastFinalURL         string            `json:"last_final_url,omitempty"`
	Title                string            `json:"title,omitempty"`
	LastHTTPResponseCode int               `json:"last_http_response_code,omitempty"`
	Categories           map[string]string `json:"categories,omitempty"`
	ThreatNames          []string          `json:"threat_names,omitempty"`
	FirstSubmissionDate  Timestamp         `json:"first_submission_date,omitempty"`
	LastSubmissionDate   Timestamp         `json:"last_submission_date,omitempty"`
	TimesSubmitted       int               `json:"times_submitted,omitempty"`
}

// DomainAttributes are a domain object's attributes.
type DomainAttributes struct {
	CommonAttributes
	Registrar    string            `json:"registrar,omitempty"`
	CreationDate Timestamp         `json:"creation_date,omitempty"`
	Whois        string            `json:"whois,omitempty"`
	WhoisDate    Timestamp         `json:"whois_date,omitempty"`
	Categories   map[string]string `json:"categories,omitempty"`
	JARM         string            `json:"jarm,omitempty"`
}

// IPAttributes are an IP address object's attributes.
type IPAttributes struct {
	CommonAttributes
	ASN                      int       `json:"asn,omitempty"`
	ASOwner                  string    `json:"as_owner,omitempty"`
	Country                  string    `json:"country,omitempty"`
	Continent                string    `json:"continent,omitempty"`
	Network                  string    `json:"network,omitempty"`
	RegionalInternetRegistry string    `json:"regional_internet_registry,omitempty"`
	Whois                    string    `json:"whois,omitempty"`
	WhoisDate                Timestamp `json:"whois_date,omitempty"`
}

// File is a file report: an Object with its attributes decoded. Attributes is the
// typed form (the commonly used subset); it shadows the embedded Object.Attributes,
// the "attributes" member as VirusTotal sent it, which holds the rest
// (f.Object.Attributes), and Raw is the whole answer. Encoding a report with
// encoding/json writes the Object, VirusTotal's attributes included. URL, Domain and
// IPAddress are built the same way.
type File struct {
	Object
	Attributes FileAttributes `json:"-"`
}

// URL is a URL report.
type URL struct {
	Object
	Attributes URLAttributes `json:"-"`
}

// Domain is a domain report.
type Domain struct {
	Object
	Attributes DomainAttributes `json:"-"`
}

// IPAddress is an IP address report.
type IPAddress struct {
	Object
	Attributes IPAttributes `json:"-"`
}

// AnalysisStatus is the state of an analysis.
type AnalysisStatus string

// Analysis states, in the order an analysis goes through them.
const (
	AnalysisQueued     AnalysisStatus = "queued"
	AnalysisInProgress AnalysisStatus = "in-progress"
	AnalysisCompleted  AnalysisStatus = "completed"
)

// Analysis is an analysis object (GET /analyses/{id}).
type Analysis struct {
	Object
	Status  AnalysisStatus          `json:"status"`
	Date    Timestamp               `json:"date"`
	Stats   AnalysisStats           `json:"stats"`
	Results map[string]EngineResult `json:"results"`
	// ItemID is the id of the analysed file (sha256) or URL, from meta.file_info /
	// meta.url_info or the "item" relationship links; empty when the answer has neither.
	ItemID string `json:"-"`
}

// AnalysisDescriptor is what an upload, a rescan or a URL scan returns:
// {"data": {"type": "analysis", "id": "..."}}.
type AnalysisDescriptor struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// BehaviourSummary is a file's behaviour summary (GET /files/{id}/behaviour_summary);
// Raw holds the whole answer.
type BehaviourSummary struct {
	Raw                   json.RawMessage `json:"-"`
	Verdicts              []string        `json:"verdicts,omitempty"`
	Tags                  []string        `json:"tags,omitempty"`
	ProcessesCreated      []string        `json:"processes_created,omitempty"`
	CommandExecutions     []string        `json:"command_executions,omitempty"`
	FilesWritten          []string        `json:"files_written,omitempty"`
	FilesDeleted          []string        `json:"files_deleted,omitempty"`
	RegistryKeysSet       json.RawMessage `json:"registry_keys_set,omitempty"`
	MutexesCreated        []string        `json:"mutexes_created,omitempty"`
	IPTraffic             json.RawMessage `json:"ip_traffic,omitempty"`
	DNSLookups            json.RawMessage `json:"dns_lookups,omitempty"`
	MitreAttackTechniques json.RawMessage `json:"mitre_attack_techniques,omitempty"`
}

// WidgetURL is the answer of GET /widget/url.
type WidgetURL struct {
	ID             string `json:"id,omitempty"`
	Type           string `json:"type,omitempty"`
	Found          *bool  `json:"found,omitempty"`
	URL            string `json:"url"`
	DetectionRatio struct {
		Detections int `json:"detections"`
		Total      int `json:"total"`
	} `json:"detection_ratio"`
	Raw json.RawMessage `json:"-"`
}

// Quota is one entry of a user's "quotas" (allowed and used in one window).
type Quota struct {
	Allowed int64 `json:"allowed"`
	Used    int64 `json:"used"`
}

// Left is what remains of the quota (never below 0).
func (q Quota) Left() int64 { return max(0, q.Allowed-q.Used) }

// User is a user object (GET /users/{id}); its apikey attribute is never decoded.
type User struct {
	Object
	Quotas     map[string]Quota `json:"-"`
	Privileges map[string]bool  `json:"-"`
}

// Page is one page of a collection (relationship, search).
type Page struct {
	Objects []*Object
	Cursor  string
	Links   Links
	// Raw is the page's untouched JSON.
	Raw json.RawMessage
}
