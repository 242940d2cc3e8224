package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

func testConnections(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "conn", store.Options{Now: clk.Now})
	if _, err := s.GetConnection(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(missing) err = %v, want ErrNotFound", err)
	}
	if list, err := s.ListConnections(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List on empty store = %v, %v", list, err)
	}
	full := store.Connection{
		Name:                         "vt-prod",
		SealedAPIKey:                 []byte{1, 0xde, 0xad, 0, 0xbe, 0xef},
		ServerURL:                    "https://vt.example",
		Quota:                        "4/min,500/day",
		Proxy:                        "http://ops:xxxxx@proxy:3128",
		SealedProxy:                  []byte{2, 0, 0xca, 0xfe},
		ReputationChecks:             []ioc.Kind{ioc.KindFile, ioc.KindURL},
		HealthCheckMinutes:           15,
		Sites:                        []string{"paris", "lyon"},
		Users:                        []string{"alice"},
		RiskPolicy:                   testPolicy(),
		Description:                  "SOC's key — Paris",
		Inactive:                     true,
		APIVersion:                   "v3",
		IncludePrivate:               true,
		NotifyEmails:                 []string{"soc@example.org", "Oncall <oncall@example.org>"},
		NotifyWebhookURL:             "https://hooks.example.org/vt",
		SealedNotifyWebhookSecretRef: []byte{3, 1},
	}
	bad := full
	bad.Name, bad.RiskPolicy.PreferredVendorsThreshold = "bad-policy", 3
	if err := s.CreateConnection(ctx, bad); err == nil {
		t.Fatal("a connection with an invalid risk policy was stored")
	}
	if err := s.CreateConnection(ctx, full); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx, store.Connection{Name: "vt-prod", SealedAPIKey: []byte{1}}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate Create err = %v, want ErrExists", err)
	}
	if err := s.CreateConnection(ctx, store.Connection{Name: "a-min", SealedAPIKey: []byte{2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx, store.Connection{Name: "nokey"}); err == nil {
		t.Fatal("a connection without a sealed key was stored")
	}
	if err := s.CreateConnection(ctx, store.Connection{Name: "both", SealedAPIKey: []byte{1}, SealedAPIKeyRef: []byte{2}}); err == nil {
		t.Fatal("a connection with a sealed key and a sealed reference was stored")
	}
	for _, c := range []store.Connection{
		{Name: "bad-text", SealedAPIKey: []byte{1}, Description: "a\x1b[2Jb"},
		{Name: "bad-long", SealedAPIKey: []byte{1}, Description: strings.Repeat("é", store.MaxDescriptionLen+1)},
		{Name: "bad-version", SealedAPIKey: []byte{1}, APIVersion: "v2"},
	} {
		if err := s.CreateConnection(ctx, c); err == nil {
			t.Errorf("%s was stored: %+v", c.Name, c)
		}
	}
	// The key as a reference resolved at each use: stored sealed, no key beside it.
	if err := s.CreateConnection(ctx, store.Connection{Name: "by-ref", SealedAPIKeyRef: []byte{7, 7}}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.GetConnection(ctx, "by-ref"); err != nil || c.SealedAPIKey != nil || !bytes.Equal(c.SealedAPIKeyRef, []byte{7, 7}) ||
		!c.View().APIKeySet || !c.View().APIKeyRefSet {
		t.Errorf("by reference: %+v, %v", c, err)
	}
	if err := s.DeleteConnection(ctx, "by-ref"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "vt-prod")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0) {
		t.Errorf("timestamps created=%v updated=%v", got.CreatedAt, got.UpdatedAt)
	}
	want := full
	want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Get = %+v\nwant %+v", got, want)
	}
	min, err := s.GetConnection(ctx, "a-min")
	if err != nil {
		t.Fatal(err)
	}
	if min.ReputationChecks != nil || min.SealedProxy != nil || min.Sites != nil || min.Users != nil || min.HealthCheckMinutes != 0 || !min.RiskPolicy.IsZero() ||
		min.Inactive || min.IncludePrivate || min.Description != "" || min.APIVersion != "" || min.NotifyEmails != nil ||
		min.NotifyWebhookURL != "" || min.SealedNotifyWebhookSecretRef != nil || min.SealedAPIKeyRef != nil {
		t.Errorf("minimal connection came back as %+v", min)
	}
	if v := min.View(); !v.Active || v.APIVersion != "v3" || v.APIKeyRefSet || v.NotifyEmails == nil {
		t.Errorf("minimal connection's view %+v", v)
	}

	upd := full
	upd.Quota, upd.Sites, upd.ReputationChecks, upd.SealedAPIKey = "premium", nil, []ioc.Kind{ioc.KindIP}, []byte{9, 9}
	upd.RiskPolicy = risk.Policy{}
	upd.Proxy, upd.SealedProxy = "http://proxy:3128", nil
	upd.Inactive, upd.IncludePrivate, upd.Description, upd.NotifyEmails = false, false, "", nil
	upd.NotifyWebhookURL, upd.SealedNotifyWebhookSecretRef = "", nil
	clk.Advance(time.Minute)
	if err := s.UpdateConnection(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got2, _ := s.GetConnection(ctx, "vt-prod")
	if got2.Quota != "premium" || got2.Sites != nil || !reflect.DeepEqual(got2.ReputationChecks, []ioc.Kind{ioc.KindIP}) ||
		!bytes.Equal(got2.SealedAPIKey, []byte{9, 9}) || !got2.RiskPolicy.IsZero() || got2.Proxy != "http://proxy:3128" || got2.SealedProxy != nil ||
		got2.Inactive || got2.IncludePrivate || got2.Description != "" || got2.NotifyEmails != nil || got2.NotifyWebhookURL != "" ||
		got2.SealedNotifyWebhookSecretRef != nil {
		t.Errorf("after Update: %+v", got2)
	}
	if !got2.CreatedAt.Equal(t0) || !got2.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Update timestamps: created %v->%v updated %v->%v", got.CreatedAt, got2.CreatedAt, got.UpdatedAt, got2.UpdatedAt)
	}
	if err := s.UpdateConnection(ctx, store.Connection{Name: "ghost", SealedAPIKey: []byte{1}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update(missing) err = %v", err)
	}

	list, err := s.ListConnections(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "a-min" || list[1].Name != "vt-prod" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := s.DeleteConnection(ctx, "a-min"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, "a-min"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Delete err = %v", err)
	}
	if list, _ := s.ListConnections(ctx); len(list) != 1 {
		t.Fatalf("after Delete, List = %+v", list)
	}
	// Another handle sees the same data.
	other := open(t, "conn", store.Options{})
	if c, err := other.GetConnection(ctx, "vt-prod"); err != nil || c.Quota != "premium" {
		t.Fatalf("second handle: %+v, %v", c, err)
	}
}

// testPolicy uses every option of a risk policy, with its defaults written out (as
// the store gives policies back).
func testPolicy() risk.Policy {
	def := risk.DefaultThresholds()
	def.Suspicious = 3
	url := def
	url.HighMalicious, url.Suspicious = 5, 0
	return risk.Policy{Default: def, ByKind: map[ioc.Kind]risk.Thresholds{ioc.KindURL: url},
		PreferredVendors: []string{"Kaspersky", "ESET-NOD32"}, PreferredVendorsThreshold: 1,
		Crowdsourced: &risk.Crowdsourced{YARA: 1, Sigma: 2, IDS: 0}}
}
