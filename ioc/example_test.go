package ioc_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/vtsoar/vtsoar/ioc"
)

func ExampleParse() {
	for _, s := range []string{
		"44D88612FEA8A8F36DE82E1278ABB02F",
		"hxxps://Example[.]com:443/login#top",
		"1[.]2[.]3[.]4",
		"bücher.de",
	} {
		o, err := ioc.Parse(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(o.Kind, o.Value, o.ID)
	}
	// Output:
	// file 44d88612fea8a8f36de82e1278abb02f 44d88612fea8a8f36de82e1278abb02f
	// url https://example.com/login aHR0cHM6Ly9leGFtcGxlLmNvbS9sb2dpbg
	// ip 1.2.3.4 1.2.3.4
	// domain xn--bcher-kva.de xn--bcher-kva.de
}

func ExampleParseHash_error() {
	_, err := ioc.ParseHash("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0")
	var e *ioc.Error
	if errors.As(err, &e) {
		fmt.Println(e.Kind, "|", e.Reason)
	}
	fmt.Println(err)
	// Output:
	// file | sha256 must be 64 hex characters, got 63
	// invalid file: sha256 must be 64 hex characters, got 63
}

func ExampleKinds() {
	for _, k := range ioc.Kinds() {
		fmt.Printf("%s: %s\n", k, k.Noun())
	}
	// Output:
	// file: file hash
	// ip: IP address
	// url: URL
	// domain: domain
}

func ExampleParseKind() {
	k, err := ioc.ParseKind(" IP ")
	fmt.Println(k, err, k.Valid())
	_, err = ioc.ParseKind("email")
	fmt.Println(errors.Is(err, ioc.ErrUnknownKind), err)
	// Output:
	// ip <nil> true
	// true unknown observable kind "email" (file, ip, url or domain)
}

func ExampleExtract() {
	text := `Beacon to 45.61.136[.]22:443 from 10.0.0.5; the dropper (44D88612FEA8A8F36DE82E1278ABB02F)
came from hxxps://evil-login[.]net/x and wrote setup.py. Reported by soc@example.com;
see 45.61.136.22 again.`
	for _, f := range ioc.Extract(text) {
		if f.Ignored != "" {
			fmt.Printf("ignored %s: %s\n", f.Text, f.Ignored)
			continue
		}
		scope, reason := ioc.Classify(f.Observable)
		if scope != ioc.Public {
			fmt.Printf("%s %s x%d (not looked up: %s)\n", f.Kind, f.Value, f.Count, reason)
			continue
		}
		fmt.Printf("%s %s x%d\n", f.Kind, f.Value, f.Count)
	}
	// Output:
	// ip 45.61.136.22 x2
	// ip 10.0.0.5 x1 (not looked up: private address (RFC 1918))
	// file 44d88612fea8a8f36de82e1278abb02f x1
	// url https://evil-login.net/x x1
	// ignored soc@example.com: e-mail address (not an observable VirusTotal checks)
}

func ExampleURLHost() {
	o, err := ioc.Parse("hxxps://[2001:db8::1]:8443/a")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ioc.URLHost(o.Value))
	o, _ = ioc.Parse("HTTP://Login.Example.NET/x?y=1")
	fmt.Println(ioc.URLHost(o.Value))
	// Output:
	// 2001:db8::1
	// login.example.net
}
