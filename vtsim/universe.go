package vtsim

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/internal/jsonenc"
)

// digest is SHA-256 of a canonical id: the seed of everything the universe says about it.
type digest [32]byte

func digestOf(canonicalID string) digest { return sha256.Sum256([]byte(canonicalID)) }

// exists applies the existence rule of the package doc to a digest.
func (d digest) exists() bool { return d[0] >= 0x10 }

// rng returns a deterministic generator drawn from the digest and a purpose label, so
// that independent attributes do not share a stream.
func (d digest) rng(purpose string) *rand.Rand {
	h := sha256.New()
	h.Write(d[:])
	h.Write([]byte(purpose))
	var s [32]byte
	h.Sum(s[:0])
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(s[:8]), binary.LittleEndian.Uint64(s[8:16])))
}

// hexFrom derives n hex characters from the digest and a label.
func (d digest) hexFrom(label string, n int) string {
	s := sha256.Sum256(append(d[:], label...))
	out := hex.EncodeToString(s[:])
	for len(out) < n {
		s = sha256.Sum256(s[:])
		out += hex.EncodeToString(s[:])
	}
	return out[:n]
}

// isZeroHex reports whether s is made of '0' only (the all-zero hash never exists).
func isZeroHex(s string) bool { return strings.Trim(s, "0") == "" }

// Risk bands drawn from digest byte 1; see the package doc for the mapping.
type band int

const (
	bandClean band = iota
	bandLow
	bandMedium
	bandHigh
)

func (d digest) band() band {
	switch b := d[1]; {
	case b < 160:
		return bandClean
	case b < 192:
		return bandLow
	case b < 224:
		return bandMedium
	default:
		return bandHigh
	}
}

// verdict is the number of engines flagging an object and its community reputation.
type verdict struct {
	malicious, suspicious int
	reputation            int
	votesHarmless         int
	votesMalicious        int
}

// verdictFor draws a verdict for an object scanned by nEngines engines.
func (d digest) verdict(nEngines int) verdict {
	var v verdict
	switch d.band() {
	case bandClean:
		v.reputation = int(d[5] % 20)
		v.votesHarmless = int(d[6] % 4)
	case bandLow:
		v.malicious = int(d[2] % 3)
		if v.malicious == 0 {
			v.suspicious = 1 + int(d[3]%2)
		} else {
			v.suspicious = int(d[3] % 2)
		}
		v.reputation = -int(d[5] % 3)
		v.votesHarmless = int(d[6] % 2)
	case bandMedium:
		v.malicious = 3 + int(d[2]%7)
		v.suspicious = int(d[3] % 3)
		v.reputation = -(2 + int(d[5]%20))
		v.votesMalicious = 1 + int(d[6]%3)
	default:
		maxM := nEngines * 3 / 4
		if maxM < 11 {
			maxM = 11
		}
		v.malicious = 10 + int(d[2])%(maxM-10)
		v.suspicious = int(d[3] % 3)
		v.reputation = -(10 + int(d[5]%90))
		v.votesMalicious = 2 + int(d[6]%8)
	}
	return v
}

// Epoch bounds for generated dates: everything happens between 2014 and 2025, so the
// same id always shows the same dates whatever the clock says.
const (
	epochStart = 1388534400 // 2014-01-01
	epochSpan  = 11 * 365 * 86400
)

// dates returns deterministic first-seen and last-analysis Unix times.
func (d digest) dates() (first, last int64) {
	r := binary.LittleEndian.Uint64(d[8:16])
	first = epochStart + int64(r%uint64(epochSpan/2))
	last = first + int64((r>>32)%uint64(epochSpan/2))
	return first, last
}

func ymd(unix int64) string { return time.Unix(unix, 0).UTC().Format("20060102") }

// deriveHash derives a hash of the given kind from another hash with a keyed digest, so
// that a file first seen by md5 has stable sha1 and sha256 aliases.
func deriveHash(kind, from string) string {
	key := "vtsim-alias:" + kind + ":" + from
	switch kind {
	case "md5":
		s := md5.Sum([]byte(key))
		return hex.EncodeToString(s[:])
	case "sha1":
		s := sha1.Sum([]byte(key))
		return hex.EncodeToString(s[:])
	default:
		s := sha256.Sum256([]byte(key))
		return hex.EncodeToString(s[:])
	}
}

// The EICAR test file, a fixed High object.
const (
	eicarMD5    = "44d88612fea8a8f36de82e1278abb02f"
	eicarSHA1   = "3395856ce81f2b7382dee72602f798b642f14140"
	eicarSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	eicarSize   = 68
	// eicarMalicious is how many file engines flag EICAR.
	eicarMalicious = 62
)

// engine is one scanning engine of the emulated universe.
type engine struct {
	name    string
	version string
	style   int // how it names threats
	mobile  bool
	peOnly  bool // answers type-unsupported for non-PE files
	rank    int  // the engine's place in its table's name order
}

// fileEngineNames are the antivirus engines VirusTotal runs on files.
var fileEngineNames = []string{
	"Bkav", "Lionic", "Elastic", "MicroWorld-eScan", "CMC", "CAT-QuickHeal", "ALYac", "Cylance",
	"Zillya", "Sangfor", "K7AntiVirus", "Alibaba", "K7GW", "Cybereason", "BitDefenderTheta",
	"VirIT", "Cyren", "SymantecMobileInsight", "Symantec", "tehtris", "ESET-NOD32", "APEX",
	"Paloalto", "ClamAV", "Kaspersky", "BitDefender", "NANO-Antivirus", "SUPERAntiSpyware",
	"Avast", "Tencent", "Trustlook", "TACHYON", "Emsisoft", "F-Secure", "DrWeb", "VIPRE",
	"TrendMicro", "McAfeeD", "Trapmine", "FireEye", "Sophos", "SentinelOne", "Avast-Mobile",
	"Jiangmin", "Webroot", "Google", "Avira", "Antiy-AVL", "Kingsoft", "Gridinsoft", "Xcitium",
	"Arcabit", "ViRobot", "ZoneAlarm", "GData", "Varist", "AhnLab-V3", "Acronis", "McAfee",
	"MAX", "VBA32", "Malwarebytes", "Panda", "Zoner", "TrendMicro-HouseCall", "Rising",
	"Yandex", "Ikarus", "MaxSecure", "Fortinet", "AVG", "DeepInstinct", "CrowdStrike",
	"BitDefenderFalx", "Microsoft", "Skyhigh",
}

// networkEngineNames are the URL/domain/IP scanners VirusTotal runs.
var networkEngineNames = []string{
	"Acronis", "0xSI_f33d", "Abusix", "ADMINUSLabs", "Criminal IP", "AILabs (MONITORAPP)",
	"AlienVault", "alphaMountain.ai", "Antiy-AVL", "ArcSight Threat Intelligence", "AutoShun",
	"Bfore.Ai PreCrime", "BitDefender", "Bkav", "BlockList", "Blueliv", "Certego",
	"Chong Lua Dao", "CINS Army", "Cluster25", "CRDF", "CSIS Security Group", "Cyan",
	"Cyble", "CyRadar", "desenmascara.me", "DNS8", "Dr.Web", "EmergingThreats", "Emsisoft",
	"Ermes", "ESET", "ESTsecurity", "Feodo Tracker", "Forcepoint ThreatSeeker", "Fortinet",
	"G-Data", "GCP Abuse Intelligence", "Google Safebrowsing", "GreenSnow", "Gridinsoft",
	"Heimdal Security", "IPsum", "Juniper Networks", "Kaspersky", "Lionic", "Lumu",
	"MalwarePatrol", "MalwareURL", "Malwared", "Mimecast", "Netcraft", "OpenPhish",
	"Phishing Database", "PhishFort", "PhishLabs", "Phishtank", "PREBYTES", "PrecisionSec",
	"Quick Heal", "Quttera", "Rising", "SafeToOpen", "Sangfor", "Scantitan", "SCUMWARE.org",
	"Seclookup", "SecureBrain", "Segasec", "SOCRadar", "Sophos", "Spam404", "StopForumSpam",
	"Sucuri SiteCheck", "ThreatHive", "Threatsourcing", "Trustwave", "Underworld", "URLhaus",
	"URLQuery", "Viettel Threat Intelligence", "VIPRE", "VX Vault", "ViriBack", "Webroot",
	"Xcitium Verdict Cloud", "Yandex Safebrowsing", "ZeroCERT", "ZeroFox",
}

var (
	fileEngines    = buildEngines(fileEngineNames, true)
	networkEngines = buildEngines(networkEngineNames, false)
)

func buildEngines(names []string, file bool) []engine {
	out := make([]engine, len(names))
	for i, n := range names {
		d := digestOf("engine:" + n)
		e := engine{name: n, style: int(d[0] % 8)}
		switch d[1] % 4 {
		case 0:
			e.version = fmt.Sprintf("%d.%d.%d.%d", 1+d[2]%20, d[3]%10, d[4]%100, 1000+int(d[5])*37)
		case 1:
			e.version = fmt.Sprintf("%d.%d", 1+d[2]%30, d[3]%100)
		case 2:
			e.version = fmt.Sprintf("%d.%d.%d", d[2]%25, d[3]%40, d[4]%200)
		default:
			e.version = fmt.Sprintf("%d", 10000+int(binary.LittleEndian.Uint16(d[2:4])))
		}
		if file {
			switch n {
			case "Avast-Mobile", "BitDefenderFalx", "SymantecMobileInsight", "Trustlook":
				e.mobile = true
			case "APEX", "Cylance", "Paloalto", "SentinelOne", "Trapmine", "CrowdStrike",
				"Cybereason", "DeepInstinct", "Elastic", "McAfeeD", "tehtris":
				e.peOnly = true
			}
		}
		out[i] = e
	}
	byName := slices.Clone(names)
	slices.Sort(byName)
	for i := range out {
		out[i].rank, _ = slices.BinarySearch(byName, out[i].name)
	}
	return out
}

// threatFamilies name the malware a detecting engine reports.
var threatFamilies = []string{
	"Agent", "Emotet", "AgentTesla", "Qakbot", "Dridex", "Zbot", "RedLine", "Formbook",
	"Lokibot", "Remcos", "CobaltStrike", "AsyncRAT", "Njrat", "TrickBot", "IcedID", "Ursnif",
	"Glupteba", "Vidar", "Raccoon", "SmokeLoader",
}

var threatCategories = []string{"trojan", "downloader", "ransomware", "spyware", "dropper", "backdoor"}

// threatName renders a detection name in the style of an engine.
func threatName(e engine, family, category string, n int) string {
	cat := strings.ToUpper(category[:1]) + category[1:]
	switch e.style {
	case 0:
		return fmt.Sprintf("%s.GenericKD.%d", cat, 40000000+n%9000000)
	case 1:
		return fmt.Sprintf("HEUR:%s.Win32.%s.gen", cat, family)
	case 2:
		return fmt.Sprintf("a variant of Win32/%s.%c", family, 'A'+rune(n%26))
	case 3:
		return fmt.Sprintf("%s:Win32/%s!ml", cat, family)
	case 4:
		return fmt.Sprintf("Win.%s.%s-%d", cat, family, 9000000+n%999999)
	case 5:
		return fmt.Sprintf("W32/%s.%c!tr", family, 'A'+rune(n%26))
	case 6:
		return fmt.Sprintf("Win32:%s-%c [Trj]", family, 'A'+rune(n%26))
	default:
		return fmt.Sprintf("%s.Win32.%s", cat, family)
	}
}

func eicarName(e engine) string {
	switch e.style {
	case 1:
		return "EICAR-Test-File"
	case 2:
		return "Eicar test file"
	case 3:
		return "Virus:DOS/EICAR_Test_File"
	case 4:
		return "Win.Test.EICAR_HDB-1"
	case 5:
		return "EICAR_TEST_FILE"
	case 6:
		return "EICAR Test-NOT virus!!!"
	default:
		return "EICAR-Test-File (not a virus)"
	}
}

// scan is the result of one engine.
type scan struct {
	engine   *engine // in fileEngines or networkEngines
	category string
	result   any // string or nil
}

// fileScans draws per-engine results for a file. Every engine appears once, in a stable
// order; the malicious and suspicious counts are exactly those of v.
func fileScans(d digest, v verdict, pe bool, eicar bool, family, category string) []scan {
	r := d.rng("engines")
	out := make([]scan, len(fileEngines))
	var open []int // engines free to take a verdict
	for i := range fileEngines {
		e := &fileEngines[i]
		out[i] = scan{engine: e, category: "undetected"}
		switch {
		case e.mobile:
			out[i].category = "type-unsupported"
		case e.peOnly && !pe && !eicar:
			out[i].category = "type-unsupported"
		default:
			open = append(open, i)
		}
	}
	r.Shuffle(len(open), func(i, j int) { open[i], open[j] = open[j], open[i] })
	k := 0
	for ; k < v.malicious && k < len(open); k++ {
		i := open[k]
		out[i].category = "malicious"
		if eicar {
			out[i].result = eicarName(*out[i].engine)
		} else {
			out[i].result = threatName(*out[i].engine, family, category, r.IntN(1<<30))
		}
	}
	for s := 0; s < v.suspicious && k < len(open); s, k = s+1, k+1 {
		i := open[k]
		out[i].category = "suspicious"
		out[i].result = "Suspicious." + family
	}
	// An occasional timeout, as real scans have.
	if k < len(open) && d[7]%5 == 0 {
		out[open[len(open)-1]].category = "timeout"
	}
	return out
}

// networkScans draws per-engine results for a URL, domain or IP address.
func networkScans(d digest, v verdict) []scan {
	r := d.rng("net-engines")
	out := make([]scan, len(networkEngines))
	idx := make([]int, len(networkEngines))
	for i := range networkEngines {
		out[i] = scan{engine: &networkEngines[i], category: "harmless", result: "clean"}
		idx[i] = i
	}
	r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	k := 0
	bad := []string{"malicious", "malware", "phishing"}
	for ; k < v.malicious && k < len(idx); k++ {
		out[idx[k]].category = "malicious"
		out[idx[k]].result = bad[r.IntN(len(bad))]
	}
	for s := 0; s < v.suspicious && k < len(idx); s, k = s+1, k+1 {
		out[idx[k]].category = "suspicious"
		out[idx[k]].result = "suspicious"
	}
	nUndetected := 7 + int(d[4]%6)
	for s := 0; s < nUndetected && k < len(idx); s, k = s+1, k+1 {
		out[idx[k]].category = "undetected"
		out[idx[k]].result = "unrated"
	}
	return out
}

var fileStatKeys = []string{"harmless", "type-unsupported", "suspicious", "confirmed-timeout", "timeout", "failure", "malicious", "undetected"}
var networkStatKeys = []string{"harmless", "malicious", "suspicious", "undetected", "timeout"}

// statsOf counts categories into VirusTotal's last_analysis_stats shape.
func statsOf(scans []scan, keys []string) map[string]any {
	st := make(map[string]any, len(keys))
	for _, k := range keys {
		st[k] = 0
	}
	for _, s := range scans {
		if n, ok := st[s.category].(int); ok {
			st[s.category] = n + 1
		}
	}
	return st
}

// resultsOf renders scans as last_analysis_results (file engines carry version and
// update date, network engines do not, as on VirusTotal): an object keyed by engine
// name, in name order, each engine's fields in the order of their names, so that it
// encodes as the map of maps it stands for would (encoding/json sorts a map's keys),
// at a fraction of the cost: building and sorting 70-odd maps per report was most of
// the emulator's CPU per request.
func resultsOf(scans []scan, file bool, updated int64) engineResults {
	res := engineResults{file: file, scans: make([]scan, len(scans))}
	if file {
		res.days = [2]string{ymd(updated), ymd(updated - 86400)}
	}
	// Scans hold each engine of a table once (fileScans, networkScans): each goes to
	// its engine's rank. Anything else (which nothing makes) is sorted.
	placed := 0
	for _, s := range scans {
		if s.engine.rank >= len(scans) || res.scans[s.engine.rank].engine != nil {
			break
		}
		res.scans[s.engine.rank] = s
		placed++
	}
	if placed < len(scans) || !slices.IsSortedFunc(res.scans, byEngineName) {
		copy(res.scans, scans)
		slices.SortStableFunc(res.scans, byEngineName)
	}
	return res
}

func byEngineName(a, b scan) int { return strings.Compare(a.engine.name, b.engine.name) }

// engineResults is a last_analysis_results (or an analysis's results) object: scans
// in engine name order, of file engines or network ones. Engine names are unique
// within each table (TestEngineNamesUnique).
type engineResults struct {
	file  bool
	days  [2]string // the file engines' update dates: the analysis day, or the day before
	scans []scan
}

// MarshalJSON implements json.Marshaler, for encoding/json.
func (r engineResults) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// AppendJSON implements jsonenc.Appender.
func (r engineResults) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, s := range r.scans {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonenc.AppendString(dst, s.engine.name)
		dst = append(dst, `:{"category":`...)
		dst = jsonenc.AppendString(dst, s.category)
		dst = append(dst, `,"engine_name":`...)
		dst = jsonenc.AppendString(dst, s.engine.name)
		if r.file {
			dst = append(dst, `,"engine_update":`...)
			dst = jsonenc.AppendString(dst, r.days[len(s.engine.name)%2])
			dst = append(dst, `,"engine_version":`...)
			dst = jsonenc.AppendString(dst, s.engine.version)
		}
		dst = append(dst, `,"method":"blacklist","result":`...)
		if str, ok := s.result.(string); ok {
			dst = jsonenc.AppendString(dst, str)
		} else {
			dst = append(dst, "null"...) // scan.result is a string or nil
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
