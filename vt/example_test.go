package vt_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

// The examples talk to the emulator of package vtsim, served in-process: they run
// offline and spend no quota. Against VirusTotal, leave WithServerURL out.

func Example() {
	emu := httptest.NewServer(vtsim.MustNew(vtsim.Options{}))
	defer emu.Close()

	c, err := vt.New("any-key", vt.WithServerURL(emu.URL))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	f, err := c.GetFile(ctx, "44d88612fea8a8f36de82e1278abb02f") // the EICAR test file, by its md5
	if err != nil {
		log.Fatal(err)
	}
	s := f.Attributes.LastAnalysisStats
	fmt.Println(f.ID)
	fmt.Printf("%d of %d engines say malicious\n", s.Malicious, s.Total())

	_, err = c.GetFile(ctx, "00000000000000000000000000000000")
	fmt.Println(vt.IsNotFound(err))
	fmt.Println(err)
	// Output:
	// 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f
	// 62 of 76 engines say malicious
	// true
	// virustotal: GET /files/{id}: 404 NotFoundError: File "00000000000000000000000000000000" not found
}

func ExampleClient_CurrentUser() {
	emu := httptest.NewServer(vtsim.MustNew(vtsim.Options{QuotaDay: 500}))
	defer emu.Close()
	c, err := vt.New("my-secret-key", vt.WithServerURL(emu.URL))
	if err != nil {
		log.Fatal(err)
	}
	u, err := c.CurrentUser(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	d := u.Quotas["api_requests_daily"]
	fmt.Printf("daily quota: %d allowed, %d used\n", d.Allowed, d.Used) // this request counts
	fmt.Println(u.ID != "" && u.ID != "my-secret-key")                  // the emulator's user id, never the key
	// Output:
	// daily quota: 500 allowed, 1 used
	// true
}

func ExampleClient_RelationshipPage() {
	emu := httptest.NewServer(vtsim.MustNew(vtsim.Options{}))
	defer emu.Close()
	c, err := vt.New("any-key", vt.WithServerURL(emu.URL))
	if err != nil {
		log.Fatal(err)
	}
	rel, ok := vt.LookupRelationship(vt.CollectionDomains, "Subdomains") // names are case-insensitive
	if !ok {
		log.Fatal("no such relationship")
	}
	fmt.Println(rel, rel.Premium())
	p, err := c.RelationshipPage(context.Background(), rel, "example.org", vt.ListOptions{Limit: 3})
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range p.Objects {
		fmt.Println(o.Type, o.ID)
	}
	// Output:
	// domains/subdomains false
	// domain data0.example.org
	// domain api1.example.org
	// domain account2.example.org
}

func ExampleIsNotFound() {
	emu := httptest.NewServer(vtsim.MustNew(vtsim.Options{}))
	defer emu.Close()
	c, _ := vt.New("any-key", vt.WithServerURL(emu.URL))
	// The emulator knows no domain under .invalid, as VirusTotal would not.
	_, err := c.GetDomain(context.Background(), "nothing.invalid")
	switch {
	case vt.IsNotFound(err):
		fmt.Println("not found: N/A")
	case err != nil:
		log.Fatal(err)
	}
	// Output:
	// not found: N/A
}

func ExampleParseProxyURL() {
	_, err := vt.ParseProxyURL("ftp://ops:hunter2@proxy.example:21")
	fmt.Println(err)
	u, _ := vt.ParseProxyURL("socks5h://proxy.example:1080")
	fmt.Println(u.Scheme, u.Host)
	// Output:
	// invalid proxy URL "ftp://ops:xxxxx@proxy.example:21": the scheme must be http, https, socks5 or socks5h
	// socks5h proxy.example:1080
}
