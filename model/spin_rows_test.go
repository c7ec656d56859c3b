package model

import (
	"os"
	"strings"
	"testing"
)

// Every design is checked by spin too (spec/SPEC.md §5): spec/check.sh has
// a row for it, expecting the outcome the explorer expects, and
// spec/dispatch.pml defines the row's macro. A design added to Designs
// without its Promela twin fails here.
func TestEveryDesignHasASpinRow(t *testing.T) {
	sh, err1 := os.ReadFile("../spec/check.sh")
	pml, err2 := os.ReadFile("../spec/dispatch.pml")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(string(sh), "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, `"`) || strings.Count(l, "|") != 6 {
			continue
		}
		f := strings.Split(strings.Trim(l, `"`), "|")
		rows[f[0]] = f
	}
	for _, d := range Designs() {
		f, ok := rows[d.Name]
		if !ok {
			t.Errorf("%s: no row in spec/check.sh", d.Name)
			continue
		}
		want := "holds"
		if !d.Correct() {
			want = strings.Fields(string(d.Expect))[0]
		}
		if f[3] != want {
			t.Errorf("%s: spec/check.sh expects %q, the explorer %q", d.Name, f[3], want)
		}
		if !strings.Contains(string(pml), "defined("+f[1]+")") {
			t.Errorf("%s: spec/dispatch.pml does not define %s", d.Name, f[1])
		}
	}
}
