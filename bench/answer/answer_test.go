package answer

import "testing"

// The peers must answer the bench's requests as memcached does, or the
// client would count errors instead of requests.
func TestAnswer(t *testing.T) {
	s := NewStore()
	for _, tc := range []struct {
		in, out  string
		consumed int
		closed   bool
	}{
		{"get a\r\n", "END\r\n", 7, false},
		{"set a 5 0 3\r\nabc\r\n", "STORED\r\n", 18, false},
		{"get a b\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n", 9, false},
		{"set b 0 0 3 noreply\r\nxyz\r\nget b\r\n", "VALUE b 0 3\r\nxyz\r\nEND\r\n", 33, false},
		{"set c 0 0 5\r\nab", "", 0, false},                        // data block incomplete: nothing consumed
		{"get a\r\nge", "VALUE a 5 3\r\nabc\r\nEND\r\n", 7, false}, // second line incomplete
		{"stats\r\n", "ERROR\r\n", 7, false},
		{"set d 0 0 3\r\nabcd\r\n", "CLIENT_ERROR bad data chunk\r\n", 19, true},
		{"set d 0 0 x\r\n", "CLIENT_ERROR bad command line format\r\n", 13, true},
	} {
		n, out, closed := s.Answer([]byte(tc.in), nil)
		if n != tc.consumed || string(out) != tc.out || closed != tc.closed {
			t.Errorf("Answer(%q) = %d, %q, %v; want %d, %q, %v", tc.in, n, out, closed, tc.consumed, tc.out, tc.closed)
		}
	}
	long := make([]byte, MaxLine+1)
	if _, out, closed := s.Answer(long, nil); !closed || string(out) != "CLIENT_ERROR line too long\r\n" {
		t.Errorf("a line over MaxLine: %q, closed=%v", out, closed)
	}
}
