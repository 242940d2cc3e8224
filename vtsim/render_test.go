package vtsim

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/jsonenc/jsonenctest"
)

// The emulator's answers, as it builds them for every kind of object, encode to the
// bytes json.Marshal gives them: what a client receives did not change when the
// emulator stopped encoding them with encoding/json (jsonenc).
func TestAnswersEncodeAsMarshal(t *testing.T) {
	s := MustNew(Options{})
	c := &call{base: "http://127.0.0.1:8089"}
	files := 0
	for i := range 400 {
		for _, id := range []string{sha256Hex(fmt.Sprint("enc-", i)), fmt.Sprintf("%032x", i*7919), eicarSHA256} {
			rec, _ := s.lookupFile(id)
			if rec == nil {
				continue
			}
			files++
			jsonenctest.CheckAsMarshal(t, "file "+id, map[string]any{"data": s.fileObject(c, rec)})
			jsonenctest.CheckAsMarshal(t, "behaviour "+id, map[string]any{"data": behaviourSummary(rec)})
		}
		text := fmt.Sprintf("http://host-%d.example.com/path?q=<%d>&x=\u2028\"", i, i)
		sid := sha256Hex(text)
		jsonenctest.CheckAsMarshal(t, "url "+text, map[string]any{"data": s.urlObject(c, sid, text, time.Now())})
		d := fmt.Sprintf("d%d.example.org", i)
		jsonenctest.CheckAsMarshal(t, "domain "+d, map[string]any{"data": objectEnvelope(c, "domain", "domains", d, domainAttributes(d, digestOf(d)))})
		a := netip.AddrFrom4([4]byte{byte(i), byte(i >> 3), 7, byte(i * 13)})
		jsonenctest.CheckAsMarshal(t, "ip "+a.String(), map[string]any{"data": objectEnvelope(c, "ip_address", "ip_addresses", a.String(), ipAttributes(a, digestOf(a.String())))})
	}
	if files < 300 {
		t.Fatalf("only %d files rendered: the universe changed and the test covers too little", files)
	}
}
