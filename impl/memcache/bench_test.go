package memcache

import (
	"fmt"
	"testing"
)

// BenchmarkProcessGetHit is the protocol cost of one pipelined get hit of a
// 100-byte value: parse, lookup, reply.
func BenchmarkProcessGetHit(b *testing.B) {
	s := newTestCache(b, &fakeClock{now: transcriptEpoch}).NewSession()
	s.Process([]byte("set key:12345 0 0 100\r\n"+string(make([]byte, 100))+"\r\n"), nil, 1<<20)
	in := []byte("get key:12345\r\n")
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if n, o, _ := s.Process(in, out[:0], 1<<20); n != len(in) || len(o) < 100 {
			b.Fatal("get failed")
		}
	}
}

// BenchmarkProcessSet is the cost of one set of a 100-byte value.
func BenchmarkProcessSet(b *testing.B) {
	s := newTestCache(b, &fakeClock{now: transcriptEpoch}).NewSession()
	in := []byte("set key:12345 0 0 100\r\n" + string(make([]byte, 100)) + "\r\n")
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if n, _, _ := s.Process(in, out[:0], 1<<20); n != len(in) {
			b.Fatal("set failed")
		}
	}
}

// BenchmarkStoreGetParallel measures lookups from all Ps at once over 10,000
// keys: the shards' mutexes, not one lock, take the contention.
func BenchmarkStoreGetParallel(b *testing.B) {
	st, _ := newStore(b, StoreConfig{})
	keys := make([][]byte, 10000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%d", i)
		st.Set(keys[i], []byte("value"), SetReq{})
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		var buf []byte
		for pb.Next() {
			v, _ := st.Get(keys[i%len(keys)], false, 0, buf)
			buf = v.Value
			i += 7
		}
	})
}
