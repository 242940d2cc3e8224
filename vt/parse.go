package vt

// ParseFile decodes a file report ({"data": {...}}), as GetFile does VirusTotal's
// answer: for answers kept elsewhere (a cache) and read again. opts may hold
// WithoutEngineResults; the other options have no effect here.
func ParseFile(body []byte, opts ...GetOption) (*File, error) {
	return decodeFileBody(body, decodeOptions(opts)...)
}

// ParseURL decodes a URL report, as GetURL does (see ParseFile).
func ParseURL(body []byte, opts ...GetOption) (*URL, error) {
	return decodeURLBody(body, decodeOptions(opts)...)
}

// ParseDomain decodes a domain report, as GetDomain does (see ParseFile).
func ParseDomain(body []byte, opts ...GetOption) (*Domain, error) {
	return decodeDomainBody(body, decodeOptions(opts)...)
}

// ParseIPAddress decodes an IP address report, as GetIPAddress does (see ParseFile).
func ParseIPAddress(body []byte, opts ...GetOption) (*IPAddress, error) {
	return decodeIPBody(body, decodeOptions(opts)...)
}
