package memcache

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// checkBinResponses reports the first malformed response in out: a
// response magic, extras and key within the body, a status memcached sends,
// and an opcode that was asked (the stat list's frames are stat).
func checkBinResponses(out []byte, asked map[uint8]bool) string {
	for len(out) > 0 {
		if len(out) < binHeaderLen {
			return fmt.Sprintf("%d bytes left, less than a header", len(out))
		}
		if out[0] != binResMagic {
			return fmt.Sprintf("magic 0x%02x", out[0])
		}
		op, keyLen, extLen := out[1], int(binary.BigEndian.Uint16(out[2:])), int(out[4])
		status := binary.BigEndian.Uint16(out[6:])
		bodyLen := int(binary.BigEndian.Uint32(out[8:]))
		if keyLen+extLen > bodyLen {
			return fmt.Sprintf("op 0x%02x: extras %d and key %d over the body %d", op, extLen, keyLen, bodyLen)
		}
		if _, ok := binStatusText[status]; !ok && status != binOK {
			return fmt.Sprintf("op 0x%02x: status 0x%x", op, status)
		}
		if !asked[op] {
			return fmt.Sprintf("a response to op 0x%02x, which was not asked", op)
		}
		if len(out) < binHeaderLen+bodyLen {
			return fmt.Sprintf("op 0x%02x: body of %d cut at %d", op, bodyLen, len(out)-binHeaderLen)
		}
		out = out[binHeaderLen+bodyLen:]
	}
	return ""
}

// FuzzBinary feeds arbitrary input, cut into reads of arbitrary sizes, to
// a connection bound to the binary protocol: Process must not panic, must
// make progress or wait for more, hold no more than a frame's header, key
// and largest value, and send only well-formed responses. The seeds are the
// frames of the binary transcripts.
func FuzzBinary(f *testing.F) {
	for _, tr := range loadBinTranscripts(f) {
		var in []byte
		for _, s := range tr.steps {
			if s.fields != nil {
				b, _ := s.frame(1)
				in = append(in, b...)
			}
		}
		f.Add(in, uint16(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint16) {
		clock := &fakeClock{now: transcriptEpoch}
		st, err := NewStore(StoreConfig{MaxBytes: 1 << 20, ItemMax: 4096, Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		cache := NewCache(st, Settings{ReqsPerEvent: 3, Binding: BindBinary}, nil)
		s := cache.NewSession()
		// Every byte after a request magic may be an opcode asked.
		asked := map[uint8]bool{binStat: true}
		for i := 0; i+1 < len(in); i++ {
			if in[i] == binReqMagic {
				asked[in[i+1]] = true
			}
		}
		all := feedChunks(t, s, in, int(chunk%257)+1, binHeaderLen+255+65535+4096)
		if msg := checkBinResponses(all, asked); msg != "" {
			t.Fatalf("%s\ninput %x", msg, in)
		}
	})
}

// TestCheckBinResponsesCatches shows the check fails on broken responses,
// so FuzzBinary can fail.
func TestCheckBinResponsesCatches(t *testing.T) {
	ok := []byte{binResMagic, binGet, 0, 1, 4, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 'k', 'v'}
	asked := map[uint8]bool{binGet: true}
	if msg := checkBinResponses(ok, asked); msg != "" {
		t.Fatal(msg)
	}
	for name, mutate := range map[string]func([]byte){
		"magic":     func(b []byte) { b[0] = binReqMagic },
		"key":       func(b []byte) { b[3] = 9 },
		"status":    func(b []byte) { b[7] = 0x77 },
		"not asked": func(b []byte) { b[1] = binSet },
		"cut":       func(b []byte) { b[11] = 60 },
	} {
		b := append([]byte(nil), ok...)
		mutate(b)
		if checkBinResponses(b, asked) == "" {
			t.Errorf("%s: a broken response passed", name)
		}
	}
}
