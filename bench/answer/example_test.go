package answer_test

import (
	"fmt"

	"github.com/handoffd/handoff/bench/answer"
)

// A set and a get in one read, as a pipelining client sends them, answered
// as memcached would; the half-sent request after them waits for its rest.
func ExampleStore_Answer() {
	s := answer.NewStore()
	in := []byte("set k 0 0 2\r\nhi\r\nget k\r\nget")
	n, out, closeConn := s.Answer(in, nil)
	fmt.Printf("%q\nconsumed %d of %d, close %v\n", out, n, len(in), closeConn)
	// Output:
	// "STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n"
	// consumed 24 of 27, close false
}
