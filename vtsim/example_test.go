package vtsim_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/vtsoar/vtsoar/vtsim"
)

// The emulator is an http.Handler: serve it (here with httptest) and point a
// VirusTotal client at its URL, or ask it as VirusTotal is asked, with x-apikey.
func Example() {
	start := time.Now() // a clock that stands still, so the minute does not turn mid-way
	emu := httptest.NewServer(vtsim.MustNew(vtsim.Options{QuotaMinute: 4, Now: func() time.Time { return start }}))
	defer emu.Close()

	get := func(path, key string) {
		req, _ := http.NewRequest("GET", emu.URL+"/api/v3"+path, nil)
		if key != "" {
			req.Header.Set("x-apikey", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var answer struct {
			Data  struct{ Type, ID string }
			Error struct{ Code string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			log.Fatal(err)
		}
		fmt.Println(resp.StatusCode, answer.Data.Type+answer.Error.Code)
	}
	get("/files/44d88612fea8a8f36de82e1278abb02f", "k") // EICAR exists, and is High
	get("/files/00000000000000000000000000000000", "k") // an all-zero hash never does
	get("/domains/nothing.invalid", "k")                // nor a name under .invalid
	get("/files/44d88612fea8a8f36de82e1278abb02f", "bad-key")
	get("/files/44d88612fea8a8f36de82e1278abb02f", "")
	get("/ip_addresses/8.8.8.8", "k")
	get("/ip_addresses/8.8.4.4", "k") // the fifth request of k this minute
	// Output:
	// 200 file
	// 404 NotFoundError
	// 404 NotFoundError
	// 401 WrongCredentialsError
	// 401 AuthenticationRequiredError
	// 200 ip_address
	// 429 QuotaExceededError
}

func ExampleServer_Stats() {
	sim := vtsim.MustNew(vtsim.Options{})
	emu := httptest.NewServer(sim)
	defer emu.Close()
	for _, id := range []string{"8.8.8.8", "1.1.1.1"} {
		req, _ := http.NewRequest("GET", emu.URL+"/api/v3/ip_addresses/"+id, nil)
		req.Header.Set("x-apikey", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
	}
	st := sim.Stats()
	fmt.Println(st.Requests, st.ByEndpoint["GET /ip_addresses/{id}"], st.ByStatus["200"])
	// Output:
	// 2 2 2
}

func ExampleParseFailMix() {
	mix, err := vtsim.ParseFailMix("503=0.1,504=0.05,429=0.05,502html=0.05")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range vtsim.Faults() {
		fmt.Println(f, mix[f])
	}
	_, err = vtsim.ParseFailMix("503=0.8,504=0.4")
	fmt.Println(err)
	// Output:
	// 503 0.1
	// 504 0.05
	// 429 0.05
	// 502html 0.05
	// 403html 0
	// 404 0
	// failure mix "503=0.8,504=0.4": the shares add up to 1.2, more than 1
}
