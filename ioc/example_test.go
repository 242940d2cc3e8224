package ioc_test

import (
	"errors"
	"fmt"

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
