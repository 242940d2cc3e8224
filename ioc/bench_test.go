package ioc

import (
	"strconv"
	"testing"
)

// BenchmarkParse parses a mix of the inputs a SOAR playbook sends: hashes, IPs, URLs
// (plain, defanged, internationalised) and domains, valid and not.
func BenchmarkParse(b *testing.B) {
	inputs := []string{
		"44d88612fea8a8f36de82e1278abb02f",
		"275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F",
		"8.8.8.8",
		"2001:db8::1",
		"1[.]2[.]3[.]4",
		"http://soclosebutyetqq.com/69.exe",
		"hxxps://www.Example[.]com:443/path/to/file?x=1#frag",
		"http://bücher.de/straße",
		"example.com",
		"sub.example.co.uk",
		"1.2.3.04",
		"not an observable",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, _ = Parse(inputs[i%len(inputs)])
	}
}

// BenchmarkExtract finds the observables of a 1 MiB proxy log with the notes around
// it: the incident text of the tests, repeated with varying addresses.
func BenchmarkExtract(b *testing.B) {
	var sb []byte
	for i := 0; len(sb) < 1<<20; i++ {
		sb = append(sb, incident...)
		sb = append(sb, []byte("2024-06-11T09:42:13Z src=10.20.30.40 dst=45.61."+strconv.Itoa(i%250)+".22 dport=443 host=c2-"+strconv.Itoa(i)+".example-evil.net action=allowed\n")...)
	}
	text := string(sb)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(Extract(text))
	}
	b.ReportMetric(float64(n), "observables")
}
