package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// keyLists returns the lists of keys the decoder accepts (the package's
// variables named *Keys) and the string constants of its case clauses,
// read from the package's source: a list added with a new section is
// checked without being named here.
func keyLists(t *testing.T) (lists map[string][]string, cases map[string]bool) {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lists, cases = map[string][]string{}, map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if !strings.HasSuffix(id.Name, "Keys") || i >= len(n.Values) {
						continue
					}
					if cl, ok := n.Values[i].(*ast.CompositeLit); ok {
						for _, e := range cl.Elts {
							if s, ok := stringLit(e); ok {
								lists[id.Name] = append(lists[id.Name], s)
							}
						}
					}
				}
			case *ast.CaseClause:
				for _, e := range n.List {
					if s, ok := stringLit(e); ok {
						cases[s] = true
					}
				}
			}
			return true
		})
	}
	return lists, cases
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// TestEveryKeyDecodedAndDocumented checks that every key the decoder
// lists has a case of its own in a decoder and appears in the shipped
// config.yaml, with a comment on its line or just above: adding a
// setting means its decoder, its validation and its documentation.
func TestEveryKeyDecodedAndDocumented(t *testing.T) {
	lists, cases := keyLists(t)
	if len(lists) < 10 {
		t.Fatalf("found %d key lists in the source; the scan is broken", len(lists))
	}
	yml, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(yml), "\n")
	keyRE := regexp.MustCompile(`(?:^|[\s{,#-])([a-z_][a-z0-9_]*):`)
	documented := map[string]bool{}
	present := map[string]bool{}
	for i, l := range lines {
		for _, m := range keyRE.FindAllStringSubmatch(l, -1) {
			k := m[1]
			present[k] = true
			if commented(lines, i) {
				documented[k] = true
			}
		}
	}
	names := make([]string, 0, len(lists))
	for n := range lists {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, k := range lists[n] {
			if !cases[k] {
				t.Errorf("%s: key %q has no case in any decoder", n, k)
			}
			switch {
			case !present[k]:
				t.Errorf("%s: key %q does not appear in config.yaml", n, k)
			case !documented[k]:
				t.Errorf("%s: key %q appears in config.yaml without a comment on its line or above", n, k)
			}
		}
	}
}

// commented reports whether line i of a YAML file has a comment, or the
// nearest line above it that is not a plain key line (a group of keys
// under one comment) is a comment. A blank line ends the group.
func commented(lines []string, i int) bool {
	if strings.Contains(lines[i], "#") {
		return true
	}
	for j := i - 1; j >= 0; j-- {
		l := strings.TrimSpace(lines[j])
		switch {
		case l == "":
			return false
		case strings.HasPrefix(l, "#"):
			return true
		}
	}
	return false
}
