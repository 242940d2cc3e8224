package connection_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/vtsim"
)

const testKey = "c0nnect10nk3y0123456789abcdef0123456789abcdef0123456789abcdef01"

type result struct {
	code        int
	out, errOut string
}

// vtsoar runs the CLI in this process on a database in dir.
func vtsoar(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	code := cli.Main(context.Background(), append([]string{"--db", filepath.Join(dir, "vtsoar.db")}, args...), ios)
	r := result{code: code, out: out.String(), errOut: errOut.String()}
	if strings.Contains(r.out+r.errOut, testKey) {
		t.Fatalf("vtsoar %v printed the API key:\n%s%s", args, r.out, r.errOut)
	}
	return r
}

func setup(t *testing.T) string {
	t.Setenv("VTSOAR_MASTER_KEY", "")
	t.Setenv("VT_API_KEY", "")
	t.Setenv("VT_SERVER_URL", "")
	t.Setenv("VTSOAR_QUOTA", "")
	return t.TempDir()
}

type view struct {
	Name             string   `json:"name"`
	ServerURL        string   `json:"server_url"`
	Quota            string   `json:"quota"`
	Proxy            string   `json:"proxy"`
	ReputationChecks []string `json:"reputation_checks"`
	HealthCheck      int      `json:"health_check_minutes"`
	Sites            []string `json:"sites"`
}

func list(t *testing.T, dir string) []view {
	t.Helper()
	r := vtsoar(t, dir, "", "connection", "list", "-o", "json")
	if r.code != 0 {
		t.Fatalf("list: exit %d: %s", r.code, r.errOut)
	}
	var vs []view
	if err := json.Unmarshal([]byte(r.out), &vs); err != nil {
		t.Fatalf("list output: %v\n%s", err, r.out)
	}
	return vs
}

func TestAddListRemove(t *testing.T) {
	dir := setup(t)
	if vs := list(t, dir); len(vs) != 0 {
		t.Fatalf("new database lists %v", vs)
	}
	r := vtsoar(t, dir, testKey+"\n", "connection", "add", "prod", "--api-key-stdin")
	if r.code != 0 {
		t.Fatalf("add: exit %d: %s", r.code, r.errOut)
	}
	t.Setenv("EMU_KEY", "emulator-key")
	r = vtsoar(t, dir, "", "connection", "add", "emu", "--api-key", "env:EMU_KEY", "--server-url", "http://127.0.0.1:8089/",
		"--quota", "10/min,100/day", "--proxy", "http://ops:hunter2@proxy:3128", "--reputation-checks", "file,url",
		"--health-check-minutes", "30", "--site", "paris", "--site", "lyon")
	if r.code != 0 {
		t.Fatalf("add emu: exit %d: %s", r.code, r.errOut)
	}
	vs := list(t, dir)
	if len(vs) != 2 || vs[0].Name != "emu" || vs[1].Name != "prod" {
		t.Fatalf("list = %+v", vs)
	}
	emu, prod := vs[0], vs[1]
	if prod.ServerURL != "https://www.virustotal.com" || prod.Quota != "4/min,500/day,15500/month" ||
		strings.Join(prod.ReputationChecks, ",") != "file,ip,url,domain" {
		t.Errorf("prod = %+v", prod)
	}
	if emu.ServerURL != "http://127.0.0.1:8089" || emu.Quota != "10/min,100/day" || strings.Join(emu.ReputationChecks, ",") != "file,url" ||
		emu.HealthCheck != 30 || strings.Join(emu.Sites, ",") != "paris,lyon" {
		t.Errorf("emu = %+v", emu)
	}
	if strings.Contains(emu.Proxy, "hunter2") || !strings.Contains(emu.Proxy, "proxy:3128") {
		t.Errorf("proxy shown as %q: its password must be hidden", emu.Proxy)
	}
	// The database holds the proxy's password sealed only.
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "vtsoar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rawProxy, rawSealed string
	if err := st.(store.SQLDB).DB().QueryRow(`SELECT proxy, sealed_proxy FROM connections WHERE name = 'emu'`).Scan(&rawProxy, &rawSealed); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if strings.Contains(rawProxy+rawSealed, "hunter2") || rawSealed == "" {
		t.Errorf("stored proxy %q, sealed %d bytes: the password must be sealed", rawProxy, len(rawSealed))
	}
	table := vtsoar(t, dir, "", "connection", "list", "-o", "table")
	if !strings.Contains(table.out, "NAME") || !strings.Contains(table.out, "prod") || strings.Contains(table.out, "hunter2") {
		t.Errorf("table:\n%s", table.out)
	}

	// Duplicates need --replace.
	if r := vtsoar(t, dir, "other-key", "connection", "add", "prod", "--api-key-stdin"); r.code != 2 || !strings.Contains(r.errOut, "--replace") {
		t.Fatalf("duplicate add: exit %d: %s", r.code, r.errOut)
	}
	if r := vtsoar(t, dir, "other-key", "connection", "add", "prod", "--api-key-stdin", "--quota", "premium", "--replace"); r.code != 0 {
		t.Fatalf("replace: exit %d: %s", r.code, r.errOut)
	}
	if vs := list(t, dir); vs[1].Quota != "premium" {
		t.Fatalf("after --replace: %+v", vs[1])
	}

	if r := vtsoar(t, dir, "", "connection", "remove", "emu"); r.code != 0 {
		t.Fatalf("remove: exit %d: %s", r.code, r.errOut)
	}
	if r := vtsoar(t, dir, "", "connection", "remove", "emu"); r.code != 2 {
		t.Fatalf("second remove: exit %d", r.code)
	}
	if vs := list(t, dir); len(vs) != 1 || vs[0].Name != "prod" {
		t.Fatalf("after remove: %+v", vs)
	}
	// The key file was created beside the database, private.
	info, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v %v", info, err)
	}
}

func TestAddRejects(t *testing.T) {
	dir := setup(t)
	keyFile := filepath.Join(dir, "key.txt")
	os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"connection", "add", "x"}, "exactly one of"},
		{[]string{"connection", "add", "x", "--api-key", testKey}, "reference"},
		{[]string{"connection", "add", "x", "--api-key-file", keyFile, "--api-key-stdin"}, "exactly one of"},
		{[]string{"connection", "add", "x", "--api-key", "env:VTSOAR_TEST_UNSET_VAR"}, "not set"},
		{[]string{"connection", "add", "x", "--api-key-file", keyFile, "--quota", "4/hour"}, "window"},
		{[]string{"connection", "add", "x", "--api-key-file", keyFile, "--reputation-checks", "file,hash"}, "hash"},
		{[]string{"connection", "add", "x", "--api-key-file", keyFile, "--proxy", "ftp://p"}, "--proxy"},
		{[]string{"connection", "add", "x", "--api-key-file", keyFile, "--server-url", "not a url"}, "--server-url"},
		{[]string{"connection", "add", "x y", "--api-key-file", keyFile}, "name"},
	} {
		r := vtsoar(t, dir, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q (want 2 and %q)", tc.args[2:], r.code, r.errOut, tc.want)
		}
	}
	if vs := list(t, dir); len(vs) != 0 {
		t.Fatalf("a rejected add stored %+v", vs)
	}
	// The file form works, without its newline.
	if r := vtsoar(t, dir, "", "connection", "add", "x", "--api-key-file", keyFile); r.code != 0 {
		t.Fatalf("add from file: exit %d: %s", r.code, r.errOut)
	}
}

func TestConnectionTestAndUse(t *testing.T) {
	dir := setup(t)
	sim, err := vtsim.New(vtsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	if r := vtsoar(t, dir, testKey, "connection", "add", "emu", "--api-key-stdin", "--server-url", srv.URL, "--quota", "premium"); r.code != 0 {
		t.Fatalf("add: %s", r.errOut)
	}
	if r := vtsoar(t, dir, "bad-key", "connection", "add", "bad", "--api-key-stdin", "--server-url", srv.URL); r.code != 0 {
		t.Fatalf("add: %s", r.errOut)
	}
	r := vtsoar(t, dir, "", "connection", "test", "emu", "-o", "json")
	var env struct {
		ReturnData string         `json:"return_data"`
		KeyFields  map[string]any `json:"key_fields"`
	}
	if err := json.Unmarshal([]byte(r.out), &env); err != nil || r.code != 0 || env.KeyFields["Connected"] != true {
		t.Fatalf("test emu: exit %d %v\n%s%s", r.code, err, r.out, r.errOut)
	}
	if r := vtsoar(t, dir, "", "connection", "test", "bad", "-o", "json"); r.code != 1 || !strings.Contains(r.out, "WrongCredentialsError") {
		t.Fatalf("test bad: exit %d\n%s", r.code, r.out)
	}
	if r := vtsoar(t, dir, "", "connection", "test", "ghost"); r.code != 2 {
		t.Fatalf("test ghost: exit %d", r.code)
	}
	// --connection on an integration command uses the stored key and server.
	r = vtsoar(t, dir, "", "check-domain-reputation", "example.com", "--connection", "emu", "-o", "json")
	if r.code != 0 || sim.Stats().Requests == 0 {
		t.Fatalf("check with --connection: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if r := vtsoar(t, dir, "", "check-domain-reputation", "example.com", "--connection", "emu", "--api-key", "k"); r.code != 2 {
		t.Fatalf("--connection with --api-key: exit %d", r.code)
	}

	// Under another master key the stored key cannot be opened: a clear error.
	t.Setenv("VTSOAR_MASTER_KEY", hex.EncodeToString(make([]byte, 32)))
	r = vtsoar(t, dir, "", "connection", "test", "emu")
	if r.code != 2 || !strings.Contains(r.errOut, "another master key") {
		t.Fatalf("wrong master key: exit %d: %s", r.code, r.errOut)
	}
}

func TestLooseKeyFileRefused(t *testing.T) {
	dir := setup(t)
	if r := vtsoar(t, dir, testKey, "connection", "add", "prod", "--api-key-stdin"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	os.Chmod(filepath.Join(dir, "master.key"), 0o644)
	r := vtsoar(t, dir, "", "check-file-reputation", "44d88612fea8a8f36de82e1278abb02f", "--connection", "prod")
	if r.code != 2 || !strings.Contains(r.errOut, "chmod 600") {
		t.Fatalf("loose key file: exit %d: %s", r.code, r.errOut)
	}
}

// A database made before proxies were sealed keeps a proxy's password in clear; the
// first command that opens it seals it (SQLite and PostgreSQL): the connections table
// read raw no longer holds it, and the sealed URL opens to the proxy as it was.
func TestClearProxySealedOnOpen(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dir := setup(t)
			master := make([]byte, secret.KeySize)
			rand.Read(master)
			t.Setenv("VTSOAR_MASTER_KEY", hex.EncodeToString(master))
			c, err := secret.NewCipher(master)
			if err != nil {
				t.Fatal(err)
			}
			dsn := filepath.Join(dir, "vtsoar.db")
			if db == "postgres" {
				dsn = pgtest.DSN(t)
			}
			ctx := context.Background()
			st, err := store.Open(ctx, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			sealed, _ := connclient.SealKey(c, "old", testKey)
			const clear = "http://ops:hunter2-clear@proxy.example:3128"
			// As a row of a database made before proxies were sealed: in clear.
			if err := st.CreateConnection(ctx, store.Connection{Name: "old", SealedAPIKey: sealed, Proxy: clear, Quota: "public"}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateConnection(ctx, store.Connection{Name: "nopass", SealedAPIKey: sealed, Proxy: "http://proxy.example:3128", Quota: "public"}); err != nil {
				t.Fatal(err)
			}
			ios, _, out, errOut := iostreams.Test()
			if code := cli.Main(ctx, []string{"--db", dsn, "connection", "list", "-o", "json"}, ios); code != 0 {
				t.Fatalf("connection list: exit %d %s", code, errOut)
			}
			if strings.Contains(out.String()+errOut.String(), "hunter2") {
				t.Fatalf("the password was printed: %s%s", out, errOut)
			}
			rows, err := st.(store.SQLDB).DB().QueryContext(ctx, `SELECT name, proxy, sealed_proxy FROM connections ORDER BY name`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var name, proxy string
				var sealedProxy []byte
				if err := rows.Scan(&name, &proxy, &sealedProxy); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(proxy, "hunter2") || strings.Contains(string(sealedProxy), "hunter2") {
					t.Errorf("%s: the proxy's password is stored in clear: %q", name, proxy)
				}
				if name == "nopass" && (proxy != "http://proxy.example:3128" || len(sealedProxy) != 0) {
					t.Errorf("nopass: proxy %q, %d sealed bytes; want it as it was", proxy, len(sealedProxy))
				}
			}
			got, err := st.GetConnection(ctx, "old")
			if err != nil {
				t.Fatal(err)
			}
			if p, err := connclient.OpenProxy(c, got); err != nil || p != clear || got.Proxy != "http://ops:xxxxx@proxy.example:3128" {
				t.Fatalf("sealed proxy opens to %q (%v), shown %q", p, err, got.Proxy)
			}
		})
	}
}

// TestAddTakesTheServerAsEveryCommandDoes: connection add stores --server-url, else
// VT_SERVER_URL, as the global flags' table says: a reader who exported VT_SERVER_URL
// for the emulator stores a connection to the emulator, not to VirusTotal.
func TestAddTakesTheServerAsEveryCommandDoes(t *testing.T) {
	dir := setup(t)
	t.Setenv("VT_SERVER_URL", "http://127.0.0.1:8089")
	if r := vtsoar(t, dir, testKey, "connection", "add", "env", "--api-key-stdin"); r.code != 0 || !strings.Contains(r.errOut, "http://127.0.0.1:8089") {
		t.Fatalf("add: exit %d: %s", r.code, r.errOut)
	}
	if r := vtsoar(t, dir, testKey, "connection", "add", "flag", "--api-key-stdin", "--server-url", "http://127.0.0.1:9999"); r.code != 0 {
		t.Fatalf("add --server-url: exit %d: %s", r.code, r.errOut)
	}
	t.Setenv("VT_SERVER_URL", "ftp://nowhere")
	if r := vtsoar(t, dir, testKey, "connection", "add", "bad", "--api-key-stdin"); r.code != 2 || !strings.Contains(r.errOut, "VT_SERVER_URL") {
		t.Errorf("a bad VT_SERVER_URL: exit %d: %s", r.code, r.errOut)
	}
	vs := list(t, dir)
	if len(vs) != 2 || vs[0].Name != "env" || vs[0].ServerURL != "http://127.0.0.1:8089" || vs[1].ServerURL != "http://127.0.0.1:9999" {
		t.Errorf("stored %+v, want env on VT_SERVER_URL's server and flag on --server-url's", vs)
	}
}
