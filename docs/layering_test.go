// Package docs_test holds the documents of this folder true to the code: DESIGN.md's
// package layering table to the module's imports, README.md's command blocks to what
// they do when run.
package docs_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// module is the module's path.
const module = "github.com/vtsoar/vtsoar"

// layer is a row of DESIGN.md's package layering table.
type layer struct {
	name string
	// entries are the packages of the row, relative to the module ("internal/store");
	// an entry "X/..." is X and every package under it.
	entries []string
	// mayImport are the packages the row names; its words may add every row above
	// (everyAbove) or the rows above the named ones (aboveNamed), or say it imports
	// nothing of the module (nothing).
	mayImport                       []string
	everyAbove, aboveNamed, nothing bool
}

var (
	backticked  = regexp.MustCompile("`([^`]+)`")
	parenthesis = regexp.MustCompile(`\([^)]*\)`)
)

// layeringTable reads the package layering table of DESIGN.md.
func layeringTable(t *testing.T) []layer {
	t.Helper()
	b, err := os.ReadFile("DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Package layering\n")
	if !ok {
		t.Fatal(`DESIGN.md has no "## Package layering" section`)
	}
	var rows []layer
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 3 || cells[0] == "layer" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		l := layer{name: cells[0]}
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			l.entries = append(l.entries, m[1])
		}
		words := parenthesis.ReplaceAllString(cells[2], "")
		for _, m := range backticked.FindAllStringSubmatch(words, -1) {
			l.mayImport = append(l.mayImport, m[1])
		}
		l.nothing = strings.Contains(words, "nothing of this module")
		l.everyAbove = strings.Contains(words, "every row above")
		l.aboveNamed = strings.Contains(words, "and the rows above")
		if len(l.entries) == 0 || !l.nothing && !l.everyAbove && len(l.mayImport) == 0 {
			t.Fatalf("DESIGN.md's layering table: row %q names no package, or says nothing of what it may import", line)
		}
		rows = append(rows, l)
	}
	if len(rows) < 5 {
		t.Fatalf("DESIGN.md's layering table has %d rows", len(rows))
	}
	return rows
}

// matches reports whether entry (a package, or "X/...") names pkg.
func matches(entry, pkg string) bool {
	if base, ok := strings.CutSuffix(entry, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == entry
}

// rowOf returns the index of the row that names pkg, or -1.
func rowOf(rows []layer, pkg string) int {
	for i, l := range rows {
		for _, e := range l.entries {
			if matches(e, pkg) {
				return i
			}
		}
	}
	return -1
}

// modulePackages returns the module's packages that have non-test files, each with
// the module's packages it imports, with and without the vtsoar_testknobs tag.
func modulePackages(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	for _, tags := range []string{"", "vtsoar_testknobs"} {
		cmd := exec.Command("go", "list", "-tags", tags, "-f", "{{.ImportPath}}\t{{len .GoFiles}}\t{{join .Imports \" \"}}", module+"/...")
		cmd.Dir = ".."
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, stderr.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 || f[1] == "0" {
				continue // a folder of tests only (this one)
			}
			p := rel(f[0])
			for _, imp := range strings.Fields(f[2]) {
				if imp == module || strings.HasPrefix(imp, module+"/") {
					if r := rel(imp); !slices.Contains(pkgs[p], r) {
						pkgs[p] = append(pkgs[p], r)
					}
				}
			}
			if _, ok := pkgs[p]; !ok {
				pkgs[p] = nil
			}
		}
	}
	return pkgs
}

func rel(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, module), "/")
}

// family reports whether a and b, of one row, are one family: one contains the other,
// or one "X/..." entry of the row names both.
func family(l layer, a, b string) bool {
	if strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/") {
		return true
	}
	for _, e := range l.entries {
		if strings.HasSuffix(e, "/...") && matches(e, a) && matches(e, b) {
			return true
		}
	}
	return false
}

// allowed reports whether a package of row i may import imp (of row j), and, when it
// may not, what row i allows.
func allowed(rows []layer, i, j int, pkg, imp string) (bool, string) {
	l := rows[i]
	if i == j {
		return family(l, pkg, imp), "in its own row only its parent, its subpackages or its \"/...\" siblings"
	}
	if l.nothing {
		return false, "nothing of this module"
	}
	above := -1 // rows above this one are all allowed
	if l.everyAbove {
		above = i
	}
	for _, m := range l.mayImport {
		if matches(m, imp) {
			return true, ""
		}
		if k := rowOf(rows, m); l.aboveNamed && k > above {
			above = k
		}
	}
	if j < above {
		return true, ""
	}
	allows := strings.Join(l.mayImport, ", ")
	switch {
	case l.everyAbove:
		allows = "every row above"
	case l.aboveNamed:
		allows += " and the rows above them"
	}
	return false, allows
}

// TestPackageLayering holds every package of the module to DESIGN.md's package
// layering table: each package is in a row, imports only what its row allows, and
// each name of the table is a package.
func TestPackageLayering(t *testing.T) {
	rows := layeringTable(t)
	pkgs := modulePackages(t)
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	slices.Sort(names)

	for _, l := range rows {
		for _, e := range append(slices.Clone(l.entries), l.mayImport...) {
			if !slices.ContainsFunc(names, func(p string) bool { return matches(e, p) }) {
				t.Errorf("DESIGN.md's layering table names %s (row %q), which is no package of the module: "+
					"remove it, or write the package's new path (and in ARCHITECTURE.md)", e, l.name)
			}
		}
	}
	importers := map[string][]string{}
	for _, p := range names {
		for _, imp := range pkgs[p] {
			importers[imp] = append(importers[imp], p)
		}
	}
	for _, p := range names {
		i := rowOf(rows, p)
		if i < 0 {
			t.Errorf("package %s is in no row of DESIGN.md's package layering table (it imports %s; it is imported by %s): "+
				"add it to the row of its layer, or add a row for it below the rows of what it imports and above "+
				"those of its importers, and to ARCHITECTURE.md's table", p, orNone(pkgs[p]), orNone(importers[p]))
			continue
		}
		for _, imp := range pkgs[p] {
			j := rowOf(rows, imp)
			if j < 0 {
				continue // reported as a package of no row
			}
			if ok, allows := allowed(rows, i, j, p, imp); !ok {
				t.Errorf("%s (row %q) imports %s (row %q), which DESIGN.md's layering table does not allow: the row "+
					"may import %s. Drop the import, or, if the layering really changed, change the table "+
					"(and ARCHITECTURE.md)", p, rows[i].name, imp, rows[j].name, allows)
			}
		}
	}
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "nothing of the module"
	}
	return strings.Join(list, ", ")
}

// TestLayeringRules: the reading of the table that TestPackageLayering relies on.
func TestLayeringRules(t *testing.T) {
	rows := []layer{
		{name: "lib", entries: []string{"ioc", "vt"}, nothing: true},
		{name: "blocks", entries: []string{"internal/cache", "internal/risk"}, mayImport: []string{"ioc"}},
		{name: "store", entries: []string{"internal/store"}, mayImport: []string{"internal/cache"}, aboveNamed: true},
		{name: "exports", entries: []string{"internal/export", "internal/export/stix"}, mayImport: []string{"internal/store"}},
		{name: "cli", entries: []string{"internal/cli/..."}, everyAbove: true},
	}
	for _, tc := range []struct {
		pkg, imp string
		want     bool
	}{
		{"vt", "ioc", false},                       // nothing of this module, not even its row
		{"internal/risk", "ioc", true},             // named
		{"internal/risk", "vt", false},             // not named
		{"internal/risk", "internal/cache", false}, // same row, not its family
		{"internal/store", "ioc", true},            // above the named row
		{"internal/store", "internal/risk", false}, // the named row itself: only what is named
		{"internal/store", "internal/cache", true},
		{"internal/export/stix", "internal/export", true}, // its parent
		{"internal/export", "internal/export/stix", true}, // its child
		{"internal/export", "internal/store", true},
		{"internal/export", "internal/cache", false},
		{"internal/cli/a", "internal/cli/b", true}, // one "/..." entry
		{"internal/cli/a", "internal/export/stix", true},
		{"internal/cache", "internal/store", false}, // a row below
	} {
		if got, why := allowed(rows, rowOf(rows, tc.pkg), rowOf(rows, tc.imp), tc.pkg, tc.imp); got != tc.want {
			t.Errorf("%s imports %s: allowed %v (%s), want %v", tc.pkg, tc.imp, got, why, tc.want)
		}
	}
	if rowOf(rows, "internal/cli") != 4 || rowOf(rows, "internal/clix") != -1 {
		t.Error(`"internal/cli/..." names internal/cli and nothing beside it`)
	}
}
