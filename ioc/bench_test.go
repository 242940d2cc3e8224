package ioc

import "testing"

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
