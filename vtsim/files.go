package vtsim

import (
	"fmt"
	"strings"
	"time"
)

// fileRec is one file of the universe: its three hashes and the digest its attributes
// are drawn from.
type fileRec struct {
	md5, sha1, sha256 string
	seed              digest
	size              int64
	name              string // the uploaded file name, if any
	content           []byte // an upload's bytes, when small enough to keep
	eicar             bool
	// uploaded files exist only once their first analysis completes (availableAt),
	// unless the digest rule already makes them exist.
	uploaded    bool
	availableAt time.Time
	// analysedAt overrides the generated last_analysis_date once an analysis of the file
	// completes.
	analysedAt time.Time
}

// fileProfile is a kind of file with its VirusTotal type attributes.
type fileProfile struct {
	tag, description, extension, magic, magika string
	typeTags                                   []string
	trid                                       []any
	pe, dll                                    bool
	minSize, maxSize                           int64
}

var fileProfiles = []fileProfile{
	{tag: "peexe", description: "Win32 EXE", extension: "exe", magic: "PE32 executable for MS Windows (GUI) Intel 80386 32-bit", magika: "PEBIN",
		typeTags: []string{"executable", "windows", "win32", "pe", "peexe"}, pe: true, minSize: 40_000, maxSize: 4_000_000,
		trid: []any{tridEntry("Win32 Executable MS Visual C++ (generic)", 47.3), tridEntry("Win64 Executable (generic)", 15.9), tridEntry("Win32 Dynamic Link Library (generic)", 9.9), tridEntry("Win16 NE executable (generic)", 7.6)}},
	{tag: "pedll", description: "Win32 DLL", extension: "dll", magic: "PE32 executable for MS Windows (DLL) (GUI) Intel 80386 32-bit", magika: "PEBIN",
		typeTags: []string{"executable", "windows", "win32", "pe", "pedll"}, pe: true, dll: true, minSize: 20_000, maxSize: 2_000_000,
		trid: []any{tridEntry("Win64 Executable (generic)", 32.2), tridEntry("Win32 Dynamic Link Library (generic)", 20.1), tridEntry("Win16 NE executable (generic)", 15.4), tridEntry("Win32 Executable (generic)", 13.7)}},
	{tag: "pdf", description: "PDF", extension: "pdf", magic: "PDF document, version 1.7", magika: "PDF",
		typeTags: []string{"document", "pdf"}, minSize: 10_000, maxSize: 3_000_000,
		trid: []any{tridEntry("Adobe Portable Document Format", 100)}},
	{tag: "elf", description: "ELF", extension: "", magic: "ELF 64-bit LSB executable, x86-64, version 1 (SYSV), statically linked, stripped", magika: "ELF",
		typeTags: []string{"executable", "linux", "elf"}, minSize: 30_000, maxSize: 3_000_000,
		trid: []any{tridEntry("ELF Executable and Linkable format (Linux)", 50.1), tridEntry("ELF Executable and Linkable format (generic)", 49.8)}},
	{tag: "zip", description: "ZIP", extension: "zip", magic: "Zip archive data, at least v2.0 to extract", magika: "ZIP",
		typeTags: []string{"compressed", "zip"}, minSize: 1_000, maxSize: 5_000_000,
		trid: []any{tridEntry("ZIP compressed archive", 100)}},
	{tag: "javascript", description: "JavaScript", extension: "js", magic: "ASCII text, with very long lines", magika: "JAVASCRIPT",
		typeTags: []string{"source", "javascript"}, minSize: 500, maxSize: 300_000,
		trid: []any{tridEntry("HyperText Markup Language", 100)}},
	{tag: "doc", description: "MS Word Document", extension: "doc", magic: "CDF V2 Document, Little Endian, Os: Windows, Version 10.0, Code page: 1252", magika: "DOC",
		typeTags: []string{"document", "msoffice", "text", "doc"}, minSize: 20_000, maxSize: 1_000_000,
		trid: []any{tridEntry("Microsoft Word document", 58), tridEntry("Microsoft Word document (old ver.)", 34.5), tridEntry("Generic OLE2 / Multistream Compound", 7.4)}},
	{tag: "text", description: "Text", extension: "txt", magic: "ASCII text, with no line terminators", magika: "TXT",
		typeTags: []string{"text"}, minSize: 10, maxSize: 20_000,
		trid: []any{}},
}

// tridEntry is one TrID guess. VirusTotal named the type "file_type" until 2023 and
// "file_format_legacy" since; both are given so that clients of either era read it.
func tridEntry(t string, p float64) map[string]any {
	return map[string]any{"file_type": t, "file_format_legacy": t, "probability": p}
}

// profileFor picks a file profile from digest byte 12 (weights: exe 30%, dll 15%,
// pdf 15%, elf 10%, zip 10%, js 10%, doc 10%; EICAR and uploads of text are "text").
func profileFor(r *fileRec) fileProfile {
	if r.eicar {
		return fileProfiles[7]
	}
	switch b := int(r.seed[12]) * 100 / 256; {
	case b < 30:
		return fileProfiles[0]
	case b < 45:
		return fileProfiles[1]
	case b < 60:
		return fileProfiles[2]
	case b < 70:
		return fileProfiles[3]
	case b < 80:
		return fileProfiles[4]
	case b < 90:
		return fileProfiles[5]
	default:
		return fileProfiles[6]
	}
}

// fileVerdict is the verdict of a file; EICAR is fixed at High.
func fileVerdict(r *fileRec) verdict {
	if r.eicar {
		return verdict{malicious: eicarMalicious, reputation: 3540, votesMalicious: 61, votesHarmless: 14}
	}
	return r.seed.verdict(len(fileEngines))
}

func familyOf(d digest) (family, category string) {
	return threatFamilies[int(d[13])%len(threatFamilies)], threatCategories[int(d[14])%len(threatCategories)]
}

// fileScansOf returns the engine results of a file's last analysis.
func fileScansOf(r *fileRec) []scan {
	p := profileFor(r)
	fam, cat := familyOf(r.seed)
	return fileScans(r.seed, fileVerdict(r), p.pe, r.eicar, fam, cat)
}

// fileDates returns first_submission_date and last_analysis_date.
func fileDates(r *fileRec) (first, last int64) {
	first, last = r.seed.dates()
	if r.eicar {
		first = 1148301722
	}
	if !r.availableAt.IsZero() && !r.seed.exists() {
		first = r.availableAt.Unix()
	}
	if !r.analysedAt.IsZero() {
		last = r.analysedAt.Unix()
	}
	if first > last {
		first = last
	}
	return first, last
}

// fileAttributes renders the attributes of a file object.
func fileAttributes(r *fileRec) map[string]any {
	p := profileFor(r)
	v := fileVerdict(r)
	scans := fileScansOf(r)
	first, last := fileDates(r)
	rng := r.seed.rng("file-attrs")
	fam, cat := familyOf(r.seed)

	size := r.size
	if size == 0 {
		size = p.minSize + rng.Int64N(p.maxSize-p.minSize+1)
	}
	name := r.name
	if name == "" {
		name = r.seed.hexFrom("name", 8)
		if r.eicar {
			name = "eicar.com"
		}
		if p.extension != "" {
			name += "." + p.extension
		}
	}
	names := []any{name}
	if !r.eicar && rng.IntN(2) == 0 {
		names = append(names, r.sha256)
	} else if r.eicar {
		names = append(names, "eicar.com.txt", "eicar_com.zip", "EICAR.COM")
	}
	tags := []any{p.tag}
	if v.malicious >= 10 && p.pe {
		tags = append(tags, "detect-debug-environment", "long-sleeps")
	}
	submitted := 1 + rng.IntN(40)
	a := map[string]any{
		"md5":                    r.md5,
		"sha1":                   r.sha1,
		"sha256":                 r.sha256,
		"size":                   size,
		"names":                  names,
		"meaningful_name":        name,
		"type_description":       p.description,
		"type_tag":               p.tag,
		"type_tags":              stringsAny(p.typeTags),
		"magic":                  p.magic,
		"magika":                 p.magika,
		"trid":                   p.trid,
		"tags":                   tags,
		"downloadable":           true,
		"first_submission_date":  first,
		"last_submission_date":   last,
		"last_analysis_date":     last,
		"last_modification_date": last + int64(rng.IntN(86400*30)),
		"times_submitted":        submitted,
		"unique_sources":         1 + rng.IntN(submitted),
		"reputation":             v.reputation,
		"total_votes":            map[string]any{"harmless": v.votesHarmless, "malicious": v.votesMalicious},
		"last_analysis_stats":    statsOf(scans, fileStatKeys),
		"last_analysis_results":  resultsOf(scans, true, last),
		"ssdeep":                 fmt.Sprintf("%d:%s:%s", 48<<(rng.IntN(8)), b64ish(r.seed.hexFrom("ssdeep1", 40)), b64ish(r.seed.hexFrom("ssdeep2", 24))),
		"tlsh":                   "T1" + strings.ToUpper(r.seed.hexFrom("tlsh", 70)),
		"vhash":                  r.seed.hexFrom("vhash", 24),
		"exiftool":               exiftoolFor(p, r.seed, size),
	}
	if p.extension != "" {
		a["type_extension"] = p.extension
	}
	if p.pe || p.tag == "pdf" {
		a["creation_date"] = first - int64(rng.IntN(86400*200))
	}
	if p.pe {
		a["authentihash"] = r.seed.hexFrom("authentihash", 64)
		a["pe_info"] = peInfoFor(p, r.seed, first, size)
	}
	if p.pe || p.tag == "pdf" {
		a["main_icon"] = map[string]any{"raw_md5": r.seed.hexFrom("icon", 32), "dhash": r.seed.hexFrom("dhash", 16)}
	}
	switch p.tag {
	case "pdf":
		a["pdf_info"] = pdfInfoFor(r.seed)
	case "elf":
		a["elf_info"] = map[string]any{
			"header": map[string]any{
				"class": "ELF64", "data": "2's complement, little endian", "hdr_version": "1 (current)",
				"os_abi": "UNIX - System V", "abi_version": 0, "type": "EXEC (Executable file)",
				"machine": "Advanced Micro Devices X86-64", "obj_version": "0x1",
				"entrypoint": 4198400 + rng.IntN(1<<16), "num_prog_headers": 4 + rng.IntN(8), "num_section_headers": 10 + rng.IntN(20),
			},
		}
	case "zip":
		a["bundle_info"] = map[string]any{
			"type": "ZIP", "num_children": 1 + rng.IntN(30), "uncompressed_size": size * 3,
			"extensions": map[string]any{"exe": 1, "txt": 1},
			"file_types": map[string]any{"peexe": 1, "text": 1},
		}
	}
	if v.malicious >= 3 {
		a["popular_threat_classification"] = map[string]any{
			"suggested_threat_label": cat + "." + strings.ToLower(fam),
			"popular_threat_category": []any{
				map[string]any{"count": v.malicious / 2, "value": cat},
				map[string]any{"count": 1 + v.malicious/10, "value": "downloader"},
			},
			"popular_threat_name": []any{
				map[string]any{"count": 1 + v.malicious/3, "value": strings.ToLower(fam)},
			},
		}
		a["crowdsourced_yara_results"] = []any{map[string]any{
			"ruleset_id":   r.seed.hexFrom("yara", 10),
			"ruleset_name": "win." + strings.ToLower(fam) + "_auto",
			"rule_name":    "win_" + strings.ToLower(fam) + "_auto",
			"description":  "Detects win." + strings.ToLower(fam) + ".",
			"author":       "vtsim yara-signator",
			"source":       "https://malpedia.caad.fkie.fraunhofer.de/",
		}}
		a["capabilities_tags"] = []any{"win_files_operation"}
		a["threat_severity"] = map[string]any{
			"version": 5, "threat_severity_level": severityLevel(v), "last_analysis_date": fmt.Sprint(last),
			"threat_severity_data": map[string]any{"popular_threat_category": cat, "num_gav_detections": v.malicious / 10},
			"level_description":    "Severity " + strings.TrimPrefix(severityLevel(v), "SEVERITY_") + " because it was considered " + cat + ".",
		}
	}
	return a
}

func severityLevel(v verdict) string {
	switch {
	case v.malicious >= 10:
		return "SEVERITY_HIGH"
	case v.malicious >= 3:
		return "SEVERITY_MEDIUM"
	default:
		return "SEVERITY_LOW"
	}
}

func stringsAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// b64ish turns hex into ssdeep-looking base64 characters.
func b64ish(h string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b strings.Builder
	for i := 0; i+1 < len(h); i += 2 {
		b.WriteByte(alphabet[(int(h[i])*7+int(h[i+1]))%64])
	}
	return b.String()
}

func exiftoolFor(p fileProfile, d digest, size int64) map[string]any {
	switch {
	case p.pe:
		ft := "Win32 EXE"
		if p.dll {
			ft = "Win32 DLL"
		}
		return map[string]any{
			"MIMEType": "application/octet-stream", "FileType": ft, "FileTypeExtension": p.extension,
			"PEType": "PE32", "MachineType": "Intel 386 or later, and compatibles", "Subsystem": "Windows GUI",
			"CodeSize": fmt.Sprint(size / 2), "LinkerVersion": "14.0", "OSVersion": "6.0",
		}
	case p.tag == "pdf":
		return map[string]any{"MIMEType": "application/pdf", "FileType": "PDF", "FileTypeExtension": "pdf", "PDFVersion": "1.7", "PageCount": fmt.Sprint(1 + d[20]%30), "Linearized": "No"}
	default:
		return map[string]any{"MIMEType": "application/octet-stream", "FileType": p.description, "FileTypeExtension": p.extension}
	}
}

func peInfoFor(p fileProfile, d digest, ts, size int64) map[string]any {
	rng := d.rng("pe")
	sections := []any{}
	va := 4096
	for _, n := range []string{".text", ".rdata", ".data", ".rsrc", ".reloc"} {
		raw := 512 * (1 + rng.IntN(int(size/512/5+1)))
		sections = append(sections, map[string]any{
			"name": n, "virtual_address": va, "virtual_size": raw - rng.IntN(512), "raw_size": raw,
			"entropy": float64(rng.IntN(800)) / 100, "chi2": float64(rng.IntN(10_000_000)) / 100,
			"md5": d.hexFrom("section"+n, 32), "flags": map[bool]string{true: "rx", false: "rw"}[n == ".text"],
		})
		va += raw + 4096 - raw%4096
	}
	info := map[string]any{
		"imphash":             d.hexFrom("imphash", 32),
		"rich_pe_header_hash": d.hexFrom("rich", 32),
		"machine_type":        332,
		"timestamp":           ts,
		"entry_point":         4096 + rng.IntN(60000),
		"sections":            sections,
		"import_list": []any{
			map[string]any{"library_name": "KERNEL32.dll", "imported_functions": []any{"GetLastError", "HeapFree", "CreateFileW", "WriteFile", "GetProcAddress", "LoadLibraryW"}},
			map[string]any{"library_name": "ADVAPI32.dll", "imported_functions": []any{"RegOpenKeyExW", "RegSetValueExW"}},
		},
		"compiler_product_versions": []any{"id: 259, version: 24123 count=19", "id: 260, version: 24123 count=16", "id: 255, version: 24215 count=1"},
		"resource_details": []any{map[string]any{
			"lang": "ENGLISH US", "entropy": 4.91, "chi2": 4031.47, "filetype": "application/xml",
			"sha256": d.hexFrom("manifest", 64), "type": "RT_MANIFEST",
		}},
		"resource_langs": map[string]any{"ENGLISH US": 1},
		"resource_types": map[string]any{"RT_MANIFEST": 1},
		"debug": []any{map[string]any{
			"type": 13, "type_str": "IMAGE_DEBUG_TYPE_POGO", "size": 764, "offset": 71668,
			"timestamp": time.Unix(ts, 0).UTC().Format("Mon Jan _2 15:04:05 2006"),
		}},
	}
	if p.dll {
		info["exports"] = []any{"DllMain", "DllRegisterServer", "DllGetClassObject"}
	}
	return info
}

func pdfInfoFor(d digest) map[string]any {
	r := d.rng("pdf")
	objs := 10 + r.IntN(200)
	streams := r.IntN(objs / 2)
	return map[string]any{
		"header": "%PDF-1.7", "num_obj": objs, "num_endobj": objs, "num_stream": streams, "num_endstream": streams,
		"num_pages": 1 + r.IntN(40), "num_object_streams": r.IntN(3), "num_launch_actions": 0,
		"encrypted": 0, "openaction": r.IntN(2), "javascript": 0, "js": 0, "acroform": 0, "xfa": 0,
		"autoaction": 0, "embedded_file": 0, "flash": 0, "jbig2_compression": 0, "suspicious_colors": 0,
		"startxref": 1, "xref": 1, "trailer": 1,
	}
}

// behaviourSummary renders GET /files/{id}/behaviour_summary data for a file, in the
// shape of VirusTotal's documented example.
func behaviourSummary(r *fileRec) map[string]any {
	rng := r.seed.rng("behaviour")
	p := profileFor(r)
	exe := r.seed.hexFrom("name", 8) + ".exe"
	if r.name != "" {
		exe = r.name
	}
	pick := func(pool []string, n int) []any {
		out := []any{}
		perm := rng.Perm(len(pool))
		for i := 0; i < n && i < len(pool); i++ {
			out = append(out, pool[perm[i]])
		}
		return out
	}
	v := fileVerdict(r)
	d := map[string]any{
		"calls_highlighted": pick([]string{"GetTickCount", "IsDebuggerPresent", "VirtualAllocEx", "WriteProcessMemory", "CreateRemoteThread", "GetSystemTime"}, 1+rng.IntN(3)),
		"files_opened": pick([]string{
			`C:\WINDOWS\system32\ws2_32.dll`, `C:\WINDOWS\system32\psapi.dll`, `C:\WINDOWS\system32\imm32.dll`,
			`C:\WINDOWS\system32\winmm.dll`, `C:\WINDOWS\system32\shell32.dll`, `C:\WINDOWS\system32\MSCTF.dll`,
		}, 2+rng.IntN(4)),
		"modules_loaded":       pick([]string{"comctl32.dll", "version.dll", "USER32.dll", "IMM32.dll", `C:\WINDOWS\system32\ole32.dll`}, 2+rng.IntN(3)),
		"mutexes_created":      []any{fmt.Sprintf("Global\\%s", r.seed.hexFrom("mutex", 16))},
		"mutexes_opened":       []any{"ShimCacheMutex"},
		"processes_terminated": []any{`C:\Users\Administrator\AppData\Local\Temp\` + exe},
		"processes_tree": []any{
			map[string]any{"name": exe, "process_id": fmt.Sprint(1000 + rng.IntN(3000))},
		},
		"registry_keys_opened": []any{
			`\Registry\Machine\Software\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\` + exe,
			`\REGISTRY\MACHINE\SOFTWARE\Policies\Microsoft\Windows\Safer\CodeIdentifiers\TransparentEnabled`,
		},
		"tags":             []any{"DIRECT_CPU_CLOCK_ACCESS", "RUNTIME_MODULES"},
		"text_highlighted": pick([]string{"&Open", "&Cancel", "&About", "Connection type:", "&Port"}, 2),
	}
	if v.malicious >= 3 && p.pe {
		d["tags"] = append(d["tags"].([]any), "DETECT_DEBUG_ENVIRONMENT", "LONG_SLEEPS")
		d["processes_tree"] = append(d["processes_tree"].([]any), map[string]any{"name": `C:\Windows\System32\cmd.exe`, "process_id": fmt.Sprint(4000 + rng.IntN(3000))})
	}
	return d
}
