package memcache

import (
	"fmt"
	"testing"
)

// BenchmarkProcessMix is the protocol's share of handoff-bench's req load:
// 90% gets and 10% sets of 32-byte values over 1000 keys, every key set
// first so gets hit, sent one request at a time or 16 pipelined per call.
// ns/op is per request; compare with the server CPU per request that
// scripts/bench.sh measures to see what the reactor and the kernel add.
func BenchmarkProcessMix(b *testing.B) {
	for _, depth := range []int{1, 16} {
		b.Run(fmt.Sprintf("pipeline=%d", depth), func(b *testing.B) {
			st, err := NewStore(StoreConfig{})
			if err != nil {
				b.Fatal(err)
			}
			s := NewCache(st, Settings{}, nil).NewSession()
			value := make([]byte, 32)
			// calls holds 100 inputs of depth requests each, built once.
			calls := make([][]byte, 100)
			for i := range calls {
				var in []byte
				for j := range depth {
					k := (i*depth + j) * 7919 % 1000
					if (i*depth+j)%10 == 9 {
						in = fmt.Appendf(in, "set bench:%d 0 0 %d\r\n%s\r\n", k, len(value), value)
					} else {
						in = fmt.Appendf(in, "get bench:%d\r\n", k)
					}
				}
				calls[i] = in
			}
			for k := range 1000 {
				in := fmt.Appendf(nil, "set bench:%d 0 0 %d\r\n%s\r\n", k, len(value), value)
				if n, _, _ := s.Process(in, nil, 1<<20); n != len(in) {
					b.Fatalf("preload consumed %d of %d", n, len(in))
				}
			}
			out := make([]byte, 0, 64<<10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				in := calls[(i/depth)%len(calls)]
				n, o, closeNow := s.Process(in, out[:0], 1<<20)
				if n != len(in) || closeNow || len(o) == 0 {
					b.Fatalf("Process consumed %d of %d, close=%v, %d reply bytes", n, len(in), closeNow, len(o))
				}
			}
		})
	}
}
