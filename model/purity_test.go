package model

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbidden are the imports that would tie the model to the machine it runs
// on: the model is a pure state machine (spec/SPEC.md), time arrives as
// steps and results leave as values.
var forbidden = []string{"syscall", "golang.org/x/sys", "net", "os", "time", "unsafe"}

// TestPure checks that no non-test file of package model imports syscall,
// golang.org/x/sys, net, os, time or unsafe, or a package below them.
func TestPure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, path := range forbiddenImports(f) {
			t.Errorf("%s imports %q: package model must stay pure", name, path)
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d files; is the test running in model/?", checked)
	}
}

// TestPureCatches shows the check would see a forbidden import.
func TestPureCatches(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", "package x\nimport (\n\t\"fmt\"\n\t\"net/netip\"\n)\n", parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	if got := forbiddenImports(f); len(got) != 1 || got[0] != "net/netip" {
		t.Fatalf("forbiddenImports = %q, want [net/netip]", got)
	}
}

// forbiddenImports returns f's imports that are forbidden or below one.
func forbiddenImports(f *ast.File) []string {
	var out []string
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		for _, bad := range forbidden {
			if path == bad || strings.HasPrefix(path, bad+"/") {
				out = append(out, path)
			}
		}
	}
	return out
}
