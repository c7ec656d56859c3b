package reactor

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// layers is the order the package's files read in, top-down, as the package
// doc says: each file may use only what is declared in itself, in a file of
// its own layer or in one below it. A layer is one role, split across the
// files of its backends (epoll's, io_uring's, the stubs off Linux). A file
// of the package that is not listed fails the test, so a new file takes its
// place here on purpose.
var layers = []string{
	"doc.go",
	"server.go",
	"config.go",
	"acceptor.go uring_acceptor_linux.go",
	"balancer.go",
	"worker.go uring_worker_linux.go uring_other.go",
	"notify.go",
	"queue.go",
	"handler.go",
	"conn.go",
	"listener.go",
	"shared.go",
	"admission.go",
	"stats.go",
	"trace.go",
	"errors.go",
}

// TestFilesReadDown type-checks the package's shipped files and fails on
// every use of a name (type, function, method, field, constant) declared in
// a file above the one using it: a reader who follows the code top-down
// never has to turn back.
func TestFilesReadDown(t *testing.T) {
	fset, files := parsePackage(t)
	ups, err := upReferences(fset, files, layers)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		t.Error(u)
	}
}

// parsePackage parses the package's shipped files for this system, its
// tests left out.
func parsePackage(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	bp, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

// TestUpReferencesRefusesASeededOne is the checker's broken twin: a lower
// file that calls a function of an upper one is named, and the same files in
// the other order pass.
func TestUpReferencesRefusesASeededOne(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	for name, src := range map[string]string{
		"top.go":    "package p\n\nfunc Top() { bottom() }\n",
		"bottom.go": "package p\n\ntype b struct{ n int }\n\nfunc bottom() { _ = b{}.n; Top() }\n",
	} {
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	ups, err := upReferences(fset, files, []string{"top.go", "bottom.go"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || !strings.Contains(ups[0], "bottom.go:5:") || !strings.Contains(ups[0], "uses Top") {
		t.Errorf("up-references = %q, want bottom.go's call of Top alone", ups)
	}
	if _, err := upReferences(fset, files, []string{"bottom.go"}); err == nil {
		t.Error("a file missing from the order was not refused")
	}
}

// upReferences type-checks files as one package and returns, for every use
// of a package-level name or a field or method declared in a file above the
// using one in order, where it is and what it uses.
func upReferences(fset *token.FileSet, files []*ast.File, order []string) ([]string, error) {
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	pkg, err := conf.Check(files[0].Name.Name, fset, files, info)
	if err != nil {
		return nil, err
	}
	rank := map[string]int{}
	for _, f := range files {
		name := filepath.Base(fset.Position(f.Pos()).Filename)
		i := slices.IndexFunc(order, func(layer string) bool { return slices.Contains(strings.Fields(layer), name) })
		if i < 0 {
			return nil, fmt.Errorf("%s is not in the order: give it its place", name)
		}
		rank[name] = i
	}
	var ups []string
	for id, obj := range info.Uses {
		if obj == nil || obj.Pkg() != pkg || !obj.Pos().IsValid() || (obj.Parent() != nil && obj.Parent() != pkg.Scope()) {
			continue // another package's, built in, or local
		}
		use, decl := fset.Position(id.Pos()), fset.Position(obj.Pos())
		if rank[filepath.Base(decl.Filename)] < rank[filepath.Base(use.Filename)] {
			ups = append(ups, fmt.Sprintf("%s:%d: uses %s, declared above it in %s", filepath.Base(use.Filename), use.Line, obj.Name(), filepath.Base(decl.Filename)))
		}
	}
	slices.Sort(ups)
	return ups, nil
}
