package vt

import (
	"slices"
	"strings"
	"testing"
)

// The table holds VirusTotal's documented accessibility: every name the issue found
// labelled public while the reference says premium is premium here.
func TestRelationshipTableAccess(t *testing.T) {
	premium := map[Collection][]string{
		CollectionFiles: {"compressed_parents", "related_references", "related_threat_actors", "similar_files",
			"analyses", "itw_urls", "embedded_domains", "campaigns", "malware_families", "related_reports", "vulnerabilities"},
		CollectionURLs: {"communicating_files", "contacted_domains", "contacted_ips", "referrer_files", "referrer_urls",
			"embedded_js_files", "related_references", "related_threat_actors", "downloaded_files", "urls_related_by_tracker_id"},
		CollectionDomains: {"caa_records", "cname_records", "mx_records", "ns_records", "soa_records", "related_references",
			"related_threat_actors", "urls", "downloaded_files"},
		CollectionIPAddresses: {"related_references", "related_threat_actors", "urls", "downloaded_files"},
	}
	public := map[Collection][]string{
		CollectionFiles:       {"contacted_domains", "behaviours", "comments", "votes", "collections", "associations"},
		CollectionURLs:        {"network_location", "last_serving_ip_address", "comments", "votes", "graphs"},
		CollectionDomains:     {"subdomains", "resolutions", "parent", "immediate_parent", "communicating_files", "referrer_files"},
		CollectionIPAddresses: {"resolutions", "communicating_files", "referrer_files", "historical_whois"},
	}
	for c, names := range premium {
		for _, n := range names {
			if r, ok := LookupRelationship(c, n); !ok || r.Access != AccessPremium || !r.Premium() {
				t.Errorf("%s/%s: %+v (found %v), want premium", c, n, r, ok)
			}
		}
	}
	for c, names := range public {
		for _, n := range names {
			if r, ok := LookupRelationship(c, n); !ok || r.Access != AccessPublic {
				t.Errorf("%s/%s: %+v (found %v), want public", c, n, r, ok)
			}
		}
	}
	for _, c := range Collections() {
		if r, ok := LookupRelationship(c, "user_votes"); !ok || r.Access != AccessOwnData || r.Premium() {
			t.Errorf("%s/user_votes: %+v, want own-data", c, r)
		}
	}
}

func TestRelationshipTableShape(t *testing.T) {
	all := Relationships()
	if len(all) < 130 {
		t.Fatalf("%d relationships", len(all))
	}
	seen := map[string]bool{}
	for _, r := range all {
		if !r.Collection.Valid() || r.Name == "" || r.Name != strings.ToLower(r.Name) || r.Description == "" ||
			len(r.Returns) == 0 || r.Access == AccessUnknown || !strings.HasPrefix(r.Source, "https://docs.virustotal.com/reference/") {
			t.Errorf("incomplete entry %+v", r)
		}
		if seen[r.String()] {
			t.Errorf("%s twice", r)
		}
		seen[r.String()] = true
	}
	for _, c := range Collections() {
		names := []string{}
		for _, r := range RelationshipsOf(c) {
			if r.Collection != c {
				t.Errorf("RelationshipsOf(%s) holds %s", c, r)
			}
			names = append(names, r.Name)
		}
		if !slices.IsSorted(names) || len(names) == 0 {
			t.Errorf("%s: %v", c, names)
		}
	}
	one := func(c Collection, n string) Relationship { return MustRelationship(c, n) }
	if r := one(CollectionFiles, "sigma_analysis"); !r.ToOne || !r.Deprecated || r.Access != AccessPublic {
		t.Errorf("sigma_analysis %+v: VirusTotal documents it deprecated and one-to-one", r)
	}
	if r := one(CollectionURLs, "network_location"); !r.ToOne || !slices.Equal(r.Returns, []string{"domain", "ip_address"}) {
		t.Errorf("network_location %+v: the URL's own host, a domain or an IP address", r)
	}
	for _, n := range []string{"parent", "immediate_parent"} {
		if r := one(CollectionDomains, n); !r.ToOne || r.Returns[0] != "domain" {
			t.Errorf("%s %+v", n, r)
		}
	}
	for _, n := range []string{"associations", "campaigns", "malware_families", "related_reports", "vulnerabilities", "reports", "software_toolkits"} {
		for _, c := range Collections() {
			if _, ok := LookupRelationship(c, n); !ok {
				t.Errorf("%s/%s missing: /metadata lists it", c, n)
			}
		}
	}
	if r, ok := LookupRelationship(CollectionFiles, "  Contacted_Domains "); !ok || r.Name != "contacted_domains" {
		t.Errorf("lookup ignores case and spaces: %+v %v", r, ok)
	}
	if _, ok := LookupRelationship(CollectionIPAddresses, "subdomains"); ok {
		t.Error("subdomains is not an IP address relationship")
	}
	// D3 SOAR writes premium-only names with " (Enterprise)" after them.
	for _, n := range []string{"Caa_records (Enterprise)", "caa_records(ENTERPRISE)", " Caa_records  (Enterprise) "} {
		if r, ok := LookupRelationship(CollectionDomains, n); !ok || r.Name != "caa_records" {
			t.Errorf("LookupRelationship(domains, %q) = %+v %v, want caa_records", n, r, ok)
		}
	}
	if _, ok := LookupRelationship(CollectionDomains, "(Enterprise)"); ok {
		t.Error(`"(Enterprise)" alone names no relationship`)
	}
	// Callers get copies: changing one does not change the table.
	r := one(CollectionURLs, "network_location")
	r.Returns[0] = "changed"
	if one(CollectionURLs, "network_location").Returns[0] != "domain" {
		t.Error("the table was changed through a returned entry")
	}
	if c, ok := ParseCollection(" IP_Addresses "); !ok || c != CollectionIPAddresses || c.ObjectType() != "ip_address" {
		t.Errorf("ParseCollection = %q %v", c, ok)
	}
	if AccessOwnData.String() != "own-data" || AccessPremium.String() != "premium" || AccessUnknown.String() != "unknown" {
		t.Error("Access.String")
	}
}
