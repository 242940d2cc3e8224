package cache

import (
	"fmt"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/ioc"
)

// Recent holds answers of at most its size, the least recently used leaving first.
func TestRecentIsBounded(t *testing.T) {
	rc := NewRecent(64 << 10)
	body := make([]byte, 4<<10)
	for i := range 100 {
		id := fmt.Sprint("f", i)
		rc.add("s", Entry{Kind: ioc.KindFile, ID: id, Aliases: []string{"alias-" + id}, Body: body, FetchedAt: time.Now(), Decoded: i}, time.Now())
		if rc.size > rc.max {
			t.Fatalf("after %d answers: %d bytes kept, more than %d", i+1, rc.size, rc.max)
		}
	}
	if _, ok := rc.names[recentKey("s", ioc.KindFile, "f99")]; !ok {
		t.Fatal("the last answer is not kept")
	}
	if _, ok := rc.names[recentKey("s", ioc.KindFile, "alias-f0")]; ok {
		t.Fatal("the first answer is still kept under an alias")
	}
	if rc.lru.Len()*2 != len(rc.names) {
		t.Fatalf("%d answers kept under %d names, want two names each", rc.lru.Len(), len(rc.names))
	}
}
