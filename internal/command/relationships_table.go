package command

import (
	"slices"
	"strings"

	"github.com/vtsoar/vtsoar/ioc"
)

// RelationshipInfo describes one relationship VirusTotal serves for an object type.
type RelationshipInfo struct {
	Name string
	// Premium is true for relationships served only to premium (VirusTotal
	// Enterprise) keys; a public key gets 403 ForbiddenError.
	Premium bool
}

// relationships lists, per object kind, the relationships of VirusTotal's object
// documentation. Premium-only ones are marked.
var relationships = map[ioc.Kind][]RelationshipInfo{
	ioc.KindFile: rels(
		"behaviours", "bundled_files", "collections", "comments", "compressed_parents",
		"contacted_domains", "contacted_ips", "contacted_urls", "dropped_files",
		"execution_parents", "graphs", "pe_resource_children", "pe_resource_parents", "related_references",
		"related_threat_actors", "sigma_analysis", "user_votes", "votes",
	).premium(
		"analyses", "carbonblack_children", "carbonblack_parents", "ciphered_bundled_files",
		"ciphered_parents", "clues", "email_attachments", "email_parents", "embedded_domains",
		"embedded_ips", "embedded_urls", "itw_domains", "itw_ips", "itw_urls",
		"memory_pattern_domains", "memory_pattern_ips", "memory_pattern_urls",
		"overlay_children", "overlay_parents", "pcap_children", "pcap_parents", "screenshots", "similar_files", "submissions",
		"urls_for_embedded_js",
	),
	ioc.KindIP: rels(
		"collections", "comments", "communicating_files", "graphs",
		"historical_ssl_certificates", "historical_whois", "referrer_files",
		"related_comments", "related_references", "related_threat_actors", "resolutions",
		"user_votes", "votes",
	).premium("downloaded_files", "urls"),
	ioc.KindDomain: rels(
		"caa_records", "cname_records", "collections", "comments", "communicating_files",
		"graphs", "historical_ssl_certificates", "historical_whois", "immediate_parent",
		"mx_records", "ns_records", "parent", "referrer_files", "related_comments",
		"related_references", "related_threat_actors", "resolutions", "siblings",
		"soa_records", "subdomains", "user_votes", "votes",
	).premium("downloaded_files", "urls"),
	ioc.KindURL: rels(
		"collections", "comments", "communicating_files", "contacted_domains",
		"contacted_ips", "embedded_js_files", "graphs", "last_serving_ip_address",
		"network_location", "referrer_files",
		"referrer_urls", "related_comments", "related_references",
		"related_threat_actors", "user_votes", "votes",
	).premium("analyses", "downloaded_files", "redirecting_urls", "redirects_to", "submissions",
		"urls_related_by_tracker_id"),
}

type relList []RelationshipInfo

func rels(names ...string) relList {
	l := make(relList, 0, len(names))
	for _, n := range names {
		l = append(l, RelationshipInfo{Name: n})
	}
	return l
}

func (l relList) premium(names ...string) []RelationshipInfo {
	for _, n := range names {
		l = append(l, RelationshipInfo{Name: n, Premium: true})
	}
	slices.SortFunc(l, func(a, b RelationshipInfo) int { return strings.Compare(a.Name, b.Name) })
	return l
}

// Relationships returns the relationships of an object kind, sorted by name.
func Relationships(kind ioc.Kind) []RelationshipInfo {
	return slices.Clone(relationships[kind])
}

// LookupRelationship finds a relationship of kind by name, case-insensitively
// ("Communicating_Files" is "communicating_files").
func LookupRelationship(kind ioc.Kind, name string) (RelationshipInfo, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, r := range relationships[kind] {
		if r.Name == n {
			return r, true
		}
	}
	return RelationshipInfo{}, false
}

// collection is VirusTotal's collection name of an object kind.
func collection(kind ioc.Kind) string {
	switch kind {
	case ioc.KindFile:
		return "files"
	case ioc.KindURL:
		return "urls"
	case ioc.KindDomain:
		return "domains"
	case ioc.KindIP:
		return "ip_addresses"
	}
	return ""
}
