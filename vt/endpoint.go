package vt

import "strings"

// Endpoint returns the route pattern of a request to VirusTotal's API, as this
// package's calls name their requests (Request.Endpoint): "GET /files/{id}",
// "GET /ip_addresses/{id}/{relationship}", "POST /urls/{id}/analyse",
// "GET /users/{id}/overall_quotas". path is the request's path, with or without the
// server and /api/v3 in front; a path that is not under /api/v3 is an upload URL
// ("POST {upload_url}") or a widget page, and one this package does not know is
// "METHOD other". The patterns never hold an id, so that they suit labels and logs.
func Endpoint(method, path string) string {
	if strings.Contains(path, "/ui/widget/html/") {
		return method + " /ui/widget/html/{token}"
	}
	i := strings.Index(path, "/api/"+APIVersion+"/")
	if i < 0 {
		return method + " {upload_url}"
	}
	segs := strings.Split(strings.Trim(path[i+len("/api/"+APIVersion+"/"):], "/"), "/")
	switch segs[0] {
	case "files", "urls", "domains", "ip_addresses", "analyses", "users":
	case "search", "metadata":
		if len(segs) == 1 {
			return method + " /" + segs[0]
		}
		return method + " other"
	case "intelligence", "widget":
		if len(segs) == 2 {
			return method + " /" + segs[0] + "/" + segs[1]
		}
		return method + " other"
	default:
		return method + " other"
	}
	out := method + " /" + segs[0]
	if len(segs) == 1 {
		return out
	}
	if segs[0] == "files" && segs[1] == "upload_url" && len(segs) == 2 {
		return out + "/upload_url"
	}
	out += "/{id}"
	switch {
	case len(segs) == 2:
		return out
	case len(segs) == 3 && endpointLiterals[segs[2]]:
		return out + "/" + segs[2]
	case len(segs) == 3:
		return out + "/{relationship}"
	case len(segs) == 4 && segs[2] == "relationships":
		return out + "/relationships/{relationship}"
	}
	return method + " other"
}

// endpointLiterals are the last path segments of Endpoint's patterns that are not a
// relationship's name.
var endpointLiterals = map[string]bool{
	"analyse": true, "behaviour_summary": true, "download": true, "download_url": true,
	"overall_quotas": true, "comments": true, "votes": true,
}
