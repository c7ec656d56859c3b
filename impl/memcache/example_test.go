package memcache_test

import (
	"fmt"

	"github.com/handoffd/handoff/impl/memcache"
)

// A Session turns the bytes a client sent into the replies memcached would
// send, without any I/O: the Protocol feeds it on a reactor, and so can a
// test.
func Example() {
	st, err := memcache.NewStore(memcache.StoreConfig{MaxBytes: 64 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := memcache.NewCache(st, memcache.Settings{}, nil).NewSession()
	in := []byte("set greeting 0 0 5\r\nhello\r\nget greeting\r\nincr greeting 1\r\nset n 0 0 1\r\n")
	n, out, closeConn := s.Process(in, nil, 1<<20)
	fmt.Printf("%q\n", out)
	// The last set waits for its data block: it is left unconsumed.
	fmt.Println("consumed", n, "of", len(in), "close:", closeConn)
	// Output:
	// "STORED\r\nVALUE greeting 0 5\r\nhello\r\nEND\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
	// consumed 58 of 71 close: false
}
