package model

import (
	"bytes"
	"fmt"
	"testing"
)

// The visited set numbers each distinct key once, in the order added, finds
// it again after the table has grown, and returns its bytes unchanged.
func TestVisited(t *testing.T) {
	v := newVisited()
	const n = 5000
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			k := []byte(fmt.Sprintf("state-%d", i))
			got, added := v.add(k)
			if got != int32(i) || added != (round == 0) {
				t.Fatalf("round %d: add(%q) = %d, %v", round, k, got, added)
			}
			if !bytes.Equal(v.key(got), k) {
				t.Fatalf("key(%d) = %q, want %q", got, v.key(got), k)
			}
		}
	}
	if v.len() != n || len(v.table) < 2*n {
		t.Fatalf("len %d, table %d", v.len(), len(v.table))
	}
	if got, added := v.add(nil); got != n || !added {
		t.Fatalf("the empty key: %d, %v", got, added)
	}
}
