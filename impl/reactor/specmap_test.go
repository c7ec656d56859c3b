package reactor

import (
	"go/importer"
	"go/types"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/handoffd/handoff/internal/kernel"
)

// TestSpecMapNamesExist reads the map from spec actions to impl functions in
// spec/SPEC.md and fails on every Type.method named in its impl and trace
// columns that the package (or the kernel boundary, Kernel.X) does not have:
// a rename in the code must be a rename in the spec's map too.
func TestSpecMapNamesExist(t *testing.T) {
	spec, err := os.ReadFile("../../spec/SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	names := specMapNames(string(spec))
	if len(names) < 20 {
		t.Fatalf("found %d names in SPEC.md's map; has its table moved?", len(names))
	}
	fset, files := parsePackage(t)
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("reactor", fset, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	kern := reflect.TypeFor[kernel.Kernel]()
	for _, n := range names {
		typ, method, _ := strings.Cut(n, ".")
		if typ == "Kernel" {
			if _, ok := kern.MethodByName(method); !ok {
				t.Errorf("SPEC.md's map names %s; kernel.Kernel has no %s", n, method)
			}
			continue
		}
		obj := pkg.Scope().Lookup(typ)
		if obj == nil {
			t.Errorf("SPEC.md's map names %s; the reactor has no type %s", n, typ)
			continue
		}
		if m, _, _ := types.LookupFieldOrMethod(types.NewPointer(obj.Type()), true, pkg, method); m == nil {
			t.Errorf("SPEC.md's map names %s; %s has no %s", n, typ, method)
		}
	}
}

// specMapNames returns the `type.method` names in the impl and trace
// columns of the map's tables, those whose header starts "| step |
// `model/` |": the epoll backend's and msgring's.
func specMapNames(spec string) []string {
	var out []string
	for _, table := range strings.Split(spec, "| step | `model/` |")[1:] {
		table, _, _ = strings.Cut(table, "\n\n")
		out = append(out, tableNames(table)...)
	}
	return out
}

// tableNames returns the `type.method` names in a map table's impl and
// trace columns.
func tableNames(table string) []string {
	name := regexp.MustCompile("`([A-Za-z]+\\.[A-Za-z]+)`")
	var out []string
	for _, row := range strings.Split(table, "\n")[2:] {
		cols := strings.Split(row, "|")
		if len(cols) < 6 {
			continue
		}
		for _, col := range cols[4:6] {
			for _, m := range name.FindAllStringSubmatch(col, -1) {
				out = append(out, m[1])
			}
		}
	}
	return out
}
