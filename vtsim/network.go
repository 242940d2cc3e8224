package vtsim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// urlSHA256ID is VirusTotal's sha256 id form of a URL.
func urlSHA256ID(u string) string {
	s := sha256.Sum256([]byte(u))
	return hex.EncodeToString(s[:])
}

// asInfo is an autonomous system of the universe.
type asInfo struct {
	asn       int
	owner     string
	country   string
	continent string
	rir       string
}

var autonomousSystems = []asInfo{
	{13335, "CLOUDFLARENET", "US", "NA", "ARIN"},
	{15169, "GOOGLE", "US", "NA", "ARIN"},
	{16509, "AMAZON-02", "US", "NA", "ARIN"},
	{8075, "MICROSOFT-CORP-MSN-AS-BLOCK", "US", "NA", "ARIN"},
	{24940, "Hetzner Online GmbH", "DE", "EU", "RIPE NCC"},
	{16276, "OVH SAS", "FR", "EU", "RIPE NCC"},
	{14061, "DIGITALOCEAN-ASN", "US", "NA", "ARIN"},
	{13886, "CLOUD-SOUTH", "GB", "EU", "RIPE NCC"},
	{4134, "Chinanet", "CN", "AS", "APNIC"},
	{9009, "M247 Europe SRL", "RO", "EU", "RIPE NCC"},
	{20473, "AS-CHOOPA", "NL", "EU", "RIPE NCC"},
	{45090, "Shenzhen Tencent Computer Systems Company Limited", "CN", "AS", "APNIC"},
	{3320, "Deutsche Telekom AG", "DE", "EU", "RIPE NCC"},
	{7922, "COMCAST-7922", "US", "NA", "ARIN"},
	{28573, "Claro NXT Telecomunicacoes Ltda", "BR", "SA", "LACNIC"},
	{36903, "MT-MPLS", "MA", "AF", "AFRINIC"},
}

var registrars = []string{
	"NameCheap, Inc.", "GoDaddy.com, LLC", "Tucows Domains Inc.", "CommuniGal Communication Ltd.",
	"PDR Ltd. d/b/a PublicDomainRegistry.com", "MarkMonitor Inc.", "NameSilo, LLC", "Gandi SAS",
	"OVH sas", "Porkbun LLC", "Dynadot LLC", "Key-Systems GmbH",
}

var webCategories = []string{
	"information technology", "business", "newly registered websites", "malicious web sites",
	"phishing and fraud", "bot networks", "parked", "search engines and portals", "shopping",
	"news", "file sharing", "command and control",
}

func categoriesFor(d digest, v verdict) map[string]any {
	pick := func(i int) string { return webCategories[(int(d[20+i])+i*3)%len(webCategories)] }
	c := map[string]any{
		"Forcepoint ThreatSeeker": pick(0),
		"Webroot":                 pick(1),
		"alphaMountain.ai":        pick(2),
	}
	if v.malicious >= 3 {
		c["Sophos"] = "illegal phishing, phishing and fraud"
	}
	return c
}

// ipAttributes renders an ip_address object's attributes.
func ipAttributes(ip netip.Addr, d digest) map[string]any {
	v := d.verdict(len(networkEngines))
	scans := networkScans(d, v)
	_, last := d.dates()
	as := autonomousSystems[int(d[15])%len(autonomousSystems)]
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	prefix, _ := ip.Prefix(bits)
	tags := []any{}
	if ip.IsPrivate() || ip.IsLoopback() {
		tags = append(tags, "private")
	}
	whoisDate := last - 86400*int64(d[16]%60)
	return map[string]any{
		"as_owner":                   as.owner,
		"asn":                        as.asn,
		"continent":                  as.continent,
		"country":                    as.country,
		"network":                    prefix.String(),
		"regional_internet_registry": as.rir,
		"jarm":                       d.hexFrom("jarm", 62),
		"last_analysis_date":         last,
		"last_modification_date":     last + int64(d[17])*3600,
		"last_analysis_stats":        statsOf(scans, networkStatKeys),
		"last_analysis_results":      resultsOf(scans, false, last),
		"reputation":                 v.reputation,
		"total_votes":                map[string]any{"harmless": v.votesHarmless, "malicious": v.votesMalicious},
		"tags":                       tags,
		"whois": fmt.Sprintf("NetRange: %s\nCIDR: %s\nNetName: NET-%s\nOrganization: %s (AS%d)\nCountry: %s\nRegDate: %s\nUpdated: %s\n",
			prefix.Addr(), prefix, strings.ReplaceAll(prefix.Addr().String(), ".", "-"), as.owner, as.asn, as.country,
			time.Unix(whoisDate-86400*900, 0).UTC().Format("2006-01-02"), time.Unix(whoisDate, 0).UTC().Format("2006-01-02")),
		"whois_date": whoisDate,
	}
}

// ipFromDigest draws a public-looking IPv4 address.
func ipFromDigest(d digest) netip.Addr {
	a := 1 + d[0]%222
	if a == 10 || a == 127 || a == 172 || a == 192 {
		a++
	}
	return netip.AddrFrom4([4]byte{a, d[1], d[2], 1 + d[3]%254})
}

var domainWords = []string{
	"cloud", "secure", "update", "login", "mail", "cdn", "portal", "shop", "news", "data",
	"online", "service", "account", "files", "media", "static", "api", "web", "net", "app",
}
var domainTLDs = []string{"com", "net", "org", "info", "ru", "xyz", "top", "io", "de", "cn"}

// domainFromDigest draws a plausible domain name.
func domainFromDigest(d digest) string {
	return domainWords[int(d[0])%len(domainWords)] + "-" + domainWords[int(d[1])%len(domainWords)] +
		d.hexFrom("dom", 4) + "." + domainTLDs[int(d[2])%len(domainTLDs)]
}

// domainAttributes renders a domain object's attributes.
func domainAttributes(domain string, d digest) map[string]any {
	v := d.verdict(len(networkEngines))
	scans := networkScans(d, v)
	first, last := d.dates()
	rng := d.rng("domain")
	registrar := registrars[int(d[18])%len(registrars)]
	ip1 := ipFromDigest(digestOf("a1:" + domain))
	ip2 := ipFromDigest(digestOf("a2:" + domain))
	ns := fmt.Sprintf("ns-%d.awsdns-%02d.com", rng.IntN(2000), rng.IntN(64))
	ns2 := fmt.Sprintf("ns-%d.awsdns-%02d.org", rng.IntN(2000), rng.IntN(64))
	created := first - 86400*int64(rng.IntN(3000))
	dnsDate := last - int64(rng.IntN(86400*10))
	notBefore := time.Unix(dnsDate-86400*int64(30+rng.IntN(200)), 0).UTC()
	parts := strings.Split(domain, ".")
	tld := parts[len(parts)-1]
	return map[string]any{
		"categories":            categoriesFor(d, v),
		"creation_date":         created,
		"favicon":               map[string]any{"raw_md5": d.hexFrom("favicon", 32), "dhash": d.hexFrom("fdhash", 16)},
		"jarm":                  d.hexFrom("jarm", 62),
		"last_analysis_date":    last,
		"last_analysis_stats":   statsOf(scans, networkStatKeys),
		"last_analysis_results": resultsOf(scans, false, last),
		"last_dns_records": []any{
			map[string]any{"type": "A", "value": ip1.String(), "ttl": 60},
			map[string]any{"type": "A", "value": ip2.String(), "ttl": 60},
			map[string]any{"type": "NS", "value": ns, "ttl": 21600},
			map[string]any{"type": "NS", "value": ns2, "ttl": 21600},
			map[string]any{"type": "MX", "value": "mail." + domain, "ttl": 3600, "priority": 10},
			map[string]any{"type": "SOA", "value": ns, "rname": "hostmaster." + domain, "ttl": 900,
				"serial": 1, "refresh": 7200, "retry": 900, "expire": 1209600, "minimum": 86400},
		},
		"last_dns_records_date": dnsDate,
		"last_https_certificate": map[string]any{
			"size": 1400 + rng.IntN(400), "version": "V3", "signature_algorithm": "sha256RSA",
			"serial_number": d.hexFrom("serial", 32), "thumbprint": d.hexFrom("thumb", 40),
			"thumbprint_sha256": d.hexFrom("thumb256", 64), "tags": []any{},
			"issuer":  map[string]any{"C": "US", "CN": "R3", "O": "Let's Encrypt", "OU": "Server CA"},
			"subject": map[string]any{"CN": domain},
			"validity": map[string]any{
				"not_before": notBefore.Format("2006-01-02 15:04:05"),
				"not_after":  notBefore.Add(90 * 24 * time.Hour).Format("2006-01-02 15:04:05"),
			},
			"public_key": map[string]any{"algorithm": "RSA", "rsa": map[string]any{
				"key_size": 2048, "exponent": "010001", "modulus": d.hexFrom("modulus", 512),
			}},
			"cert_signature": map[string]any{"signature_algorithm": "sha256RSA", "signature": d.hexFrom("sig", 512)},
			"extensions": map[string]any{
				"CA": false, "key_usage": []any{"digitalSignature", "keyEncipherment"},
				"extended_key_usage":       []any{"serverAuth", "clientAuth"},
				"subject_alternative_name": []any{domain, "*." + domain},
				"subject_key_identifier":   d.hexFrom("ski", 40),
				"authority_key_identifier": map[string]any{"keyid": d.hexFrom("aki", 40)},
				"certificate_policies":     []any{"2.23.140.1.2.1"},
				"crl_distribution_points":  []any{"http://r3.c.lencr.org/"},
				"1.3.6.1.4.1.11129.2.4.2":  "0481f200f0007500" + d.hexFrom("sct", 48),
				"ca_information_access":    map[string]any{"CA Issuers": "http://r3.i.lencr.org/", "OCSP": "http://r3.o.lencr.org"},
				"tags":                     []any{},
			},
		},
		"last_https_certificate_date": dnsDate,
		"last_modification_date":      last + int64(rng.IntN(86400)),
		"last_update_date":            last - int64(rng.IntN(86400*300)),
		"popularity_ranks":            map[string]any{"Cisco Umbrella": map[string]any{"rank": 1000 + rng.IntN(999000), "timestamp": last}},
		"registrar":                   registrar,
		"reputation":                  v.reputation,
		"tags":                        []any{},
		"tld":                         tld,
		"total_votes":                 map[string]any{"harmless": v.votesHarmless, "malicious": v.votesMalicious},
		"whois": fmt.Sprintf("Creation Date: %s\nDomain Name: %s\nDomain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\nName Server: %s\nName Server: %s\nRegistrar: %s\nRegistry Expiry Date: %s\n",
			time.Unix(created, 0).UTC().Format(time.RFC3339), strings.ToUpper(domain), strings.ToUpper(ns), strings.ToUpper(ns2),
			registrar, time.Unix(created, 0).UTC().AddDate(10, 0, 0).Format(time.RFC3339)),
		"whois_date": last - int64(rng.IntN(86400*30)),
	}
}

// urlAttributes renders a url object's attributes; u is the URL text.
func urlAttributes(u string, d digest, analysedAt time.Time) map[string]any {
	v := d.verdict(len(networkEngines))
	scans := networkScans(d, v)
	first, last := d.dates()
	if !analysedAt.IsZero() {
		last = analysedAt.Unix()
		if !d.exists() {
			first = last
		}
	}
	rng := d.rng("url")
	host := u
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	threats := []any{}
	if v.malicious >= 3 {
		fam, _ := familyOf(d)
		threats = append(threats, "Mal/"+fam+"-A")
	}
	length := 300 + rng.IntN(60000)
	submitted := 1 + rng.IntN(400)
	return map[string]any{
		"url":                               u,
		"categories":                        categoriesFor(d, v),
		"first_submission_date":             first,
		"last_submission_date":              last,
		"last_analysis_date":                last,
		"last_modification_date":            last + int64(rng.IntN(600)),
		"times_submitted":                   submitted,
		"has_content":                       rng.IntN(3) == 0,
		"last_final_url":                    u,
		"last_http_response_code":           []int{200, 200, 200, 301, 404}[rng.IntN(5)],
		"last_http_response_content_length": length,
		"last_http_response_content_sha256": d.hexFrom("body", 64),
		"last_http_response_headers": map[string]any{
			"content-type": "text/html; charset=UTF-8", "server": "nginx",
			"date":       time.Unix(last, 0).UTC().Format(time.RFC1123),
			"connection": "keep-alive", "content-length": fmt.Sprint(length),
		},
		"last_analysis_stats":   statsOf(scans, networkStatKeys),
		"last_analysis_results": resultsOf(scans, false, last),
		"reputation":            v.reputation,
		"total_votes":           map[string]any{"harmless": v.votesHarmless, "malicious": v.votesMalicious},
		"tags":                  []any{},
		"threat_names":          threats,
		"title":                 host,
		"trackers": map[string]any{"Google Tag Manager": []any{map[string]any{
			"id": "GTM-" + strings.ToUpper(d.hexFrom("gtm", 7)), "timestamp": last,
			"url": "//www.googletagmanager.com/gtm.js?id=GTM-" + strings.ToUpper(d.hexFrom("gtm", 7)),
		}}},
		"tld": tldOf(host),
	}
}

func tldOf(host string) string {
	if i := strings.LastIndexByte(host, '.'); i >= 0 {
		return host[i+1:]
	}
	return host
}

// urlFromDigest draws a plausible URL for a URL object known only by its sha256 id.
func urlFromDigest(d digest) string {
	return "http://" + domainFromDigest(d) + "/" + d.hexFrom("path", 10) + ".html"
}
