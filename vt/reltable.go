package vt

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Collection is a VirusTotal collection of objects that have relationships: "files",
// "urls", "domains" or "ip_addresses". It is a type of its own so that a collection,
// an object id and a relationship name cannot be swapped by accident.
type Collection string

// Collections of the objects the client reports on.
const (
	CollectionFiles       Collection = "files"
	CollectionURLs        Collection = "urls"
	CollectionDomains     Collection = "domains"
	CollectionIPAddresses Collection = "ip_addresses"
)

// Collections returns the collections with relationships, in a fixed order.
func Collections() []Collection {
	return []Collection{CollectionFiles, CollectionURLs, CollectionDomains, CollectionIPAddresses}
}

// Valid reports whether c is one of Collections.
func (c Collection) Valid() bool {
	switch c {
	case CollectionFiles, CollectionURLs, CollectionDomains, CollectionIPAddresses:
		return true
	}
	return false
}

// ObjectType is the type of the collection's objects ("file", "url", "domain",
// "ip_address"), as VirusTotal names it in "type" and in /metadata.
func (c Collection) ObjectType() string {
	switch c {
	case CollectionFiles:
		return "file"
	case CollectionURLs:
		return "url"
	case CollectionDomains:
		return "domain"
	case CollectionIPAddresses:
		return "ip_address"
	}
	return ""
}

// ParseCollection returns the collection named s ("files", "urls", "domains",
// "ip_addresses"), ignoring case and surrounding spaces.
func ParseCollection(s string) (Collection, bool) {
	c := Collection(strings.ToLower(strings.TrimSpace(s)))
	return c, c.Valid()
}

// Access says which API keys VirusTotal serves a relationship to.
type Access uint8

// Access levels. The zero value is AccessUnknown: a relationship made by the caller
// that is not in VirusTotal's documentation as this package records it.
const (
	AccessUnknown Access = iota
	// AccessPublic: every key, public ones included.
	AccessPublic
	// AccessPremium: VirusTotal Enterprise (premium) keys only; a public key is
	// answered 403 ForbiddenError. Relationships of the Threat Landscape module are
	// premium too.
	AccessPremium
	// AccessOwnData: every key, but the answer holds only the caller's own data (its
	// own votes), as VirusTotal's "current user" relationships do.
	AccessOwnData
)

// String returns "public", "premium", "own-data" or "unknown".
func (a Access) String() string {
	switch a {
	case AccessPublic:
		return "public"
	case AccessPremium:
		return "premium"
	case AccessOwnData:
		return "own-data"
	}
	return "unknown"
}

// Relationship is one relationship of a collection: what RelationshipPage follows.
// The documented ones come from Relationships and LookupRelationship; a caller may
// make one that this package does not list (Relationship{Collection: CollectionFiles,
// Name: "new_name"}), whose Access is then AccessUnknown.
type Relationship struct {
	// Collection is the collection of the object the relationship starts from.
	Collection Collection
	// Name is VirusTotal's name, in lower case ("contacted_domains").
	Name string
	// Description says what the related objects are.
	Description string
	// Returns are the types of the related objects ("domain"); network_location
	// returns a domain or an IP address, so it lists both.
	Returns []string
	// ToOne is true when the relationship holds a single object (data is an object,
	// not a list).
	ToOne bool
	// Access says which keys VirusTotal serves it to.
	Access Access
	// Deprecated is true when VirusTotal documents the relationship as deprecated
	// (it still answers it).
	Deprecated bool
	// Source is the reference page the entry was checked against.
	Source string
}

// Premium reports whether only premium (VirusTotal Enterprise) keys may follow it.
func (r Relationship) Premium() bool { return r.Access == AccessPremium }

// String returns "files/contacted_domains".
func (r Relationship) String() string { return string(r.Collection) + "/" + r.Name }

// clone copies the slice members, so that callers never share the table.
func (r Relationship) clone() Relationship {
	r.Returns = slices.Clone(r.Returns)
	return r
}

// Reference pages the table was checked against (VirusTotal's API reference, as
// https://docs.virustotal.com/reference/<page>, formerly virustotal.readme.io). The
// object pages have a relationship table with an "Accessibility" column ("Everyone",
// "VT Enterprise users only", "VT Enterprise users with Threat Landscape"); each
// relationship has a page of its own, titled with 🔒 when it is premium-only and 🧑💻
// when it shows the current user's data.
const (
	refFiles   = "https://docs.virustotal.com/reference/files"
	refURLs    = "https://docs.virustotal.com/reference/url-object"
	refDomains = "https://docs.virustotal.com/reference/domains-object"
	refIPs     = "https://docs.virustotal.com/reference/ip-object"
	// refMetadata: relationships GET /metadata lists but the object pages above do
	// not (the Threat Landscape ones: associations, campaigns, malware_families,
	// related_reports, reports, software_toolkits, vulnerabilities, attack
	// techniques, memory_pattern_parents). The names are those of VirusTotal's own
	// vt-cli, whose commands are generated from /metadata (doc/vt_file.md,
	// vt_url.md, vt_domain.md, vt_ip.md at commit
	// 6ffe6baf49b9afd2d57a6963a1e29b868abdb763), and of Google Threat Intelligence's
	// reference tables as google/mcp-security copies them (server/gti/gti_mcp/tools/
	// files.py, urls.py, netloc.py). Access: "associations" and the IoC
	// "collections" are "Everyone" there; the others need the Threat Landscape
	// module, which the files page's footnote (1) says only comes with VirusTotal's
	// top packages, so they are premium here; memory_pattern_parents is premium like
	// the memory_pattern_* relationships of files.
	refMetadata = "https://docs.virustotal.com/reference/metadata"
)

// page returns the reference page of one relationship (its own page in VirusTotal's
// reference).
func page(object, name string) string {
	return "https://docs.virustotal.com/reference/" + object + "-object-" + strings.ReplaceAll(name, "_", "-")
}

type relOpt func(*Relationship)

func toOne(r *Relationship)      { r.ToOne = true }
func deprecated(r *Relationship) { r.Deprecated = true }
func src(s string) relOpt        { return func(r *Relationship) { r.Source = s } }

func rel(c Collection, name string, access Access, returns, desc string, opts ...relOpt) Relationship {
	r := Relationship{Collection: c, Name: name, Access: access, Returns: strings.Split(returns, "|"), Description: desc}
	switch c {
	case CollectionFiles:
		r.Source = refFiles
	case CollectionURLs:
		r.Source = refURLs
	case CollectionDomains:
		r.Source = refDomains
	case CollectionIPAddresses:
		r.Source = refIPs
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

const (
	pub  = AccessPublic
	prem = AccessPremium
	own  = AccessOwnData
)

// threatLandscape are the relationships of the Threat Landscape module that every
// collection has (see refMetadata).
func threatLandscape(c Collection, noun string) []Relationship {
	m := src(refMetadata)
	return []Relationship{
		rel(c, "associations", pub, "collection", "Reports, campaigns, IoC collections, malware families, software toolkits, vulnerabilities and threat actors associated with the "+noun+".", m),
		rel(c, "campaigns", prem, "collection", "Campaigns associated with the "+noun+".", m),
		rel(c, "malware_families", prem, "collection", "Malware families associated with the "+noun+".", m),
		rel(c, "related_reports", prem, "collection", "Reports directly and indirectly related to the "+noun+".", m),
		rel(c, "reports", prem, "collection", "Reports directly associated with the "+noun+".", m),
		rel(c, "software_toolkits", prem, "collection", "Software and toolkits associated with the "+noun+".", m),
		rel(c, "vulnerabilities", prem, "collection", "Vulnerabilities associated with the "+noun+".", m),
	}
}

// relationshipTable is the one table of relationships. Each entry's Source is the
// page its access, cardinality and type were checked against; an entry without its
// own page was checked against its object page's relationship table.
var relationshipTable = func() []Relationship {
	F, U, D, I := CollectionFiles, CollectionURLs, CollectionDomains, CollectionIPAddresses
	t := []Relationship{
		rel(F, "analyses", prem, "analysis", "Analyses for the file."),
		rel(F, "attack_techniques", prem, "attack_technique", "Attack techniques of the file.", src(refMetadata)),
		rel(F, "behaviours", pub, "file_behaviour", "Behaviour reports for the file."),
		rel(F, "bundled_files", pub, "file", "Files bundled within the file."),
		rel(F, "carbonblack_children", prem, "file", "Files derived from the file according to Carbon Black."),
		rel(F, "carbonblack_parents", prem, "file", "Files from where the file was derived according to Carbon Black."),
		rel(F, "ciphered_bundled_files", prem, "file", "Files within a ciphered bundle."),
		rel(F, "ciphered_parents", prem, "file", "Compressed bundle files where the file is contained."),
		rel(F, "clues", prem, "clue", "Clues for the file.", src(refMetadata)),
		rel(F, "collections", pub, "collection", "IoC collections where the file is."),
		rel(F, "comments", pub, "comment", "Comments for the file.", src(page("file", "comments"))),
		rel(F, "compressed_parents", prem, "file", "Compressed files that contain the file.", src("https://docs.virustotal.com/reference/files-compressed_parents")),
		rel(F, "contacted_domains", pub, "domain", "Domains contacted by the file."),
		rel(F, "contacted_ips", pub, "ip_address", "IP addresses contacted by the file."),
		rel(F, "contacted_urls", pub, "url", "URLs contacted by the file."),
		rel(F, "dropped_files", pub, "file", "Files dropped by the file during its execution."),
		rel(F, "email_attachments", prem, "file", "Files attached to the email."),
		rel(F, "email_parents", prem, "file", "Email files that contained the file.", src(page("file", "email_parents"))),
		rel(F, "embedded_domains", prem, "domain", "Domain names embedded in the file."),
		rel(F, "embedded_ips", prem, "ip_address", "IP addresses embedded in the file."),
		rel(F, "embedded_urls", prem, "url", "URLs embedded in the file."),
		rel(F, "execution_parents", pub, "file", "Files that executed the file."),
		rel(F, "graphs", pub, "graph", "Graphs that include the file."),
		rel(F, "itw_domains", prem, "domain", "In the wild domain names from where the file has been downloaded."),
		rel(F, "itw_ips", prem, "ip_address", "In the wild IP addresses from where the file has been downloaded."),
		rel(F, "itw_urls", prem, "url", "In the wild URLs from where the file has been downloaded.", src(page("file", "itw_urls"))),
		rel(F, "memory_pattern_domains", prem, "domain", "Domain names in the memory pattern of the file."),
		rel(F, "memory_pattern_ips", prem, "ip_address", "IP addresses in the memory pattern of the file."),
		rel(F, "memory_pattern_urls", prem, "url", "URLs in the memory pattern of the file."),
		rel(F, "overlay_children", prem, "file", "Files contained by the file as an overlay."),
		rel(F, "overlay_parents", prem, "file", "Files that contain the file as an overlay."),
		rel(F, "pcap_children", prem, "file", "Files contained within the PCAP file."),
		rel(F, "pcap_parents", prem, "file", "PCAP files that contain the file."),
		rel(F, "pe_resource_children", pub, "file", "Files contained by a PE file as a resource."),
		rel(F, "pe_resource_parents", pub, "file", "PE files containing the file as a resource."),
		rel(F, "related_attack_techniques", prem, "attack_technique", "Attack techniques of the collections containing the file.", src(refMetadata)),
		rel(F, "related_references", prem, "reference", "References related to the file (Threat Landscape)."),
		rel(F, "related_threat_actors", prem, "collection", "Threat actors related to the file (Threat Landscape)."),
		rel(F, "screenshots", prem, "screenshot", "Screenshots related to the sandbox execution of the file."),
		rel(F, "sigma_analysis", pub, "sigma_analysis", "The file's last Sigma analysis; deprecated: its results are in the file and file behaviour objects.",
			toOne, deprecated, src(page("file", "sigma_analysis"))),
		rel(F, "similar_files", prem, "file", "Files that are similar to the file."),
		rel(F, "submissions", prem, "submission", "Submissions for the file.", src(page("file", "submissions"))),
		rel(F, "urls_for_embedded_js", prem, "url", "URLs where the (JavaScript) file is embedded."),
		rel(F, "user_votes", own, "vote", "The file's votes made by the current user.", src(page("file", "user_votes"))),
		rel(F, "votes", pub, "vote", "Votes for the file.", src(page("file", "votes"))),

		rel(U, "analyses", prem, "analysis", "Analyses for the URL.", src(page("url", "analyses"))),
		rel(U, "collections", pub, "collection", "IoC collections where the URL is.", src(refMetadata)),
		rel(U, "comments", pub, "comment", "Community posted comments about the URL.", src(page("url", "comments"))),
		rel(U, "communicating_files", prem, "file", "Files that communicate with the URL when they are executed."),
		rel(U, "contacted_domains", prem, "domain", "Domains from which the URL loads some kind of resource.", src("https://docs.virustotal.com/reference/url-contacted_domains")),
		rel(U, "contacted_ips", prem, "ip_address", "IP addresses from which the URL loads some kind of resource."),
		rel(U, "downloaded_files", prem, "file", "Files downloaded from the URL."),
		rel(U, "embedded_js_files", prem, "file", "JavaScript files embedded in the URL's HTML.", src(page("url", "embedded_js_files"))),
		rel(U, "graphs", pub, "graph", "Graphs including the URL."),
		rel(U, "last_serving_ip_address", pub, "ip_address", "Last IP address that served the URL.", toOne),
		rel(U, "memory_pattern_parents", prem, "file", "Files having the URL as a string in memory during sandbox execution.", src(refMetadata)),
		rel(U, "network_location", pub, "domain|ip_address", "The URL's host: a domain, or an IP address when the URL names one.",
			toOne, src(page("url", "network_location"))),
		rel(U, "redirecting_urls", prem, "url", "URLs that redirected to the URL."),
		rel(U, "redirects_to", prem, "url", "URLs the URL redirects to."),
		rel(U, "referrer_files", prem, "file", "Files containing the URL."),
		rel(U, "referrer_urls", prem, "url", "URLs referring the URL."),
		rel(U, "related_collections", pub, "collection", "Collections of the URL's parent domains or IP addresses.", src(refMetadata)),
		rel(U, "related_comments", pub, "comment", "Community posted comments in the URL's related objects."),
		rel(U, "related_references", prem, "reference", "References related to the URL.", src(page("url", "related_references"))),
		rel(U, "related_threat_actors", prem, "collection", "Threat actors related to the URL."),
		rel(U, "submissions", prem, "submission", "The URL's submissions.", src(page("url", "submissions"))),
		rel(U, "urls_related_by_tracker_id", prem, "url", "URLs having trackers with the same ids.", src(page("url", "urls_related_by_tracker_id"))),
		rel(U, "user_votes", own, "vote", "The URL's votes made by the current user.", src(page("url", "user_votes"))),
		rel(U, "votes", pub, "vote", "Votes for the URL.", src(page("url", "votes"))),

		rel(D, "caa_records", prem, "domain", "CAA records of the domain.", src(page("domain", "caa_record"))),
		rel(D, "cname_records", prem, "domain", "CNAME records of the domain.", src(page("domain", "cname_records"))),
		rel(D, "collections", pub, "collection", "IoC collections where the domain is.", src(refMetadata)),
		rel(D, "comments", pub, "comment", "Community posted comments about the domain.", src(page("domain", "comments"))),
		rel(D, "communicating_files", pub, "file", "Files that communicate with the domain."),
		rel(D, "downloaded_files", prem, "file", "Files downloaded from the domain."),
		rel(D, "graphs", pub, "graph", "Graphs including the domain."),
		rel(D, "historical_ssl_certificates", pub, "ssl_cert", "SSL certificates associated with the domain.", src(page("domain", "historical_ssl_certificates"))),
		rel(D, "historical_whois", pub, "whois", "WHOIS information for the domain."),
		rel(D, "immediate_parent", pub, "domain", "The domain's immediate parent (the name without its first label).", toOne),
		rel(D, "memory_pattern_parents", prem, "file", "Files having the domain as a string in memory during sandbox execution.", src(refMetadata)),
		rel(D, "mx_records", prem, "domain", "MX records of the domain.", src(page("domain", "mx_records"))),
		rel(D, "ns_records", prem, "domain", "NS records of the domain."),
		rel(D, "parent", pub, "domain", "The domain's top parent (its registered domain).", toOne),
		rel(D, "referrer_files", pub, "file", "Files containing the domain.", src(page("domain", "referrer_files"))),
		rel(D, "related_comments", pub, "comment", "Community posted comments in the domain's related objects.", src(page("domain", "related_comments"))),
		rel(D, "related_references", prem, "reference", "References related to the domain."),
		rel(D, "related_threat_actors", prem, "collection", "Threat actors related to the domain."),
		rel(D, "resolutions", pub, "resolution", "DNS resolutions for the domain."),
		rel(D, "siblings", pub, "domain", "The domain's sibling domains."),
		rel(D, "soa_records", prem, "domain", "SOA records of the domain.", src(page("domain", "soa_records"))),
		rel(D, "subdomains", pub, "domain", "The domain's subdomains.", src(page("domain", "subdomains"))),
		rel(D, "urls", prem, "url", "URLs having the domain.", src(page("domain", "urls"))),
		rel(D, "user_votes", own, "vote", "The domain's votes made by the current user."),
		rel(D, "votes", pub, "vote", "Votes for the domain.", src(page("domain", "votes"))),

		rel(I, "collections", pub, "collection", "IoC collections where the IP address is.", src(refMetadata)),
		rel(I, "comments", pub, "comment", "Comments for the IP address.", src(page("ip", "comments"))),
		rel(I, "communicating_files", pub, "file", "Files that communicate with the IP address."),
		rel(I, "downloaded_files", prem, "file", "Files downloaded from the IP address."),
		rel(I, "graphs", pub, "graph", "Graphs including the IP address."),
		rel(I, "historical_ssl_certificates", pub, "ssl_cert", "SSL certificates associated with the IP address."),
		rel(I, "historical_whois", pub, "whois", "WHOIS information for the IP address.", src(page("ip", "historical_whois"))),
		rel(I, "memory_pattern_parents", prem, "file", "Files having the IP address as a string in memory during sandbox execution.", src(refMetadata)),
		rel(I, "referrer_files", pub, "file", "Files containing the IP address."),
		rel(I, "related_comments", pub, "comment", "Community posted comments in the IP address' related objects."),
		rel(I, "related_references", prem, "reference", "References related to the IP address."),
		rel(I, "related_threat_actors", prem, "collection", "Threat actors related to the IP address.", src(page("ip", "related_threat_actors"))),
		rel(I, "resolutions", pub, "resolution", "The IP address' DNS resolutions.", src(page("ip", "resolutions"))),
		rel(I, "urls", prem, "url", "URLs related to the IP address."),
		rel(I, "user_votes", own, "vote", "The IP address' votes made by the current user.", src(page("ip", "user_votes"))),
		rel(I, "votes", pub, "vote", "Votes for the IP address.", src(page("ip", "votes"))),
	}
	for _, c := range Collections() {
		t = append(t, threatLandscape(c, strings.ReplaceAll(c.ObjectType(), "_", " "))...)
	}
	slices.SortFunc(t, func(a, b Relationship) int {
		return cmp.Or(cmp.Compare(collectionOrder(a.Collection), collectionOrder(b.Collection)), strings.Compare(a.Name, b.Name))
	})
	for i := 1; i < len(t); i++ {
		if t[i].Collection == t[i-1].Collection && t[i].Name == t[i-1].Name {
			panic(fmt.Sprintf("virustotal: relationship %s listed twice", t[i]))
		}
	}
	return t
}()

func collectionOrder(c Collection) int { return slices.Index(Collections(), c) }

// Relationships returns every relationship VirusTotal documents for files, URLs,
// domains and IP addresses, by collection (in the order of Collections) and name.
func Relationships() []Relationship {
	out := make([]Relationship, len(relationshipTable))
	for i, r := range relationshipTable {
		out[i] = r.clone()
	}
	return out
}

// RelationshipsOf returns the relationships of one collection, sorted by name.
func RelationshipsOf(c Collection) []Relationship {
	var out []Relationship
	for _, r := range relationshipTable {
		if r.Collection == c {
			out = append(out, r.clone())
		}
	}
	return out
}

// LookupRelationship finds a documented relationship of c by name, ignoring case and
// surrounding spaces ("Communicating_Files" is "communicating_files"). A name may end
// in " (Enterprise)", as D3 SOAR writes the premium-only ones ("Caa_records
// (Enterprise)"): the suffix is left out.
func LookupRelationship(c Collection, name string) (Relationship, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if base, ok := strings.CutSuffix(n, enterpriseSuffix); ok {
		n = strings.TrimSpace(base)
	}
	for _, r := range relationshipTable {
		if r.Collection == c && r.Name == n {
			return r.clone(), true
		}
	}
	return Relationship{}, false
}

// enterpriseSuffix is how D3 SOAR marks a premium-only relationship's name, in lower
// case.
const enterpriseSuffix = "(enterprise)"

// MustRelationship is LookupRelationship for names known at compile time: it panics
// when c has no relationship called name.
func MustRelationship(c Collection, name string) Relationship {
	r, ok := LookupRelationship(c, name)
	if !ok {
		panic(fmt.Sprintf("virustotal: %s has no relationship %q", c, name))
	}
	return r
}
