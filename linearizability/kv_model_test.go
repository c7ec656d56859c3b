package linearizability

import (
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvCall is one command of a hand-written history and its reply.
type kvCall struct {
	in  KVInput
	out KVOutput
}

func set(k, v string) kvCall {
	return kvCall{KVInput{Cmd: KVSet, Key: k, Value: v}, KVOutput{Reply: KVStored}}
}
func get(k string, r KVReply, v string) kvCall {
	return kvCall{KVInput{Cmd: KVGet, Key: k}, KVOutput{Reply: r, Value: v}}
}
func gets(k, v string, u uint64) kvCall {
	return kvCall{KVInput{Cmd: KVGets, Key: k}, KVOutput{Reply: KVHit, Value: v, Unique: u}}
}
func cas(k, v string, u uint64, r KVReply) kvCall {
	return kvCall{KVInput{Cmd: KVCas, Key: k, Value: v, Unique: u}, KVOutput{Reply: r}}
}
func del(k string, r KVReply) kvCall {
	return kvCall{KVInput{Cmd: KVDelete, Key: k}, KVOutput{Reply: r}}
}
func appendTo(k, v string, r KVReply) kvCall {
	return kvCall{KVInput{Cmd: KVAppend, Key: k, Value: v}, KVOutput{Reply: r}}
}
func incr(k string, d uint64, r KVReply, v string) kvCall {
	return kvCall{KVInput{Cmd: KVIncr, Key: k, Delta: d}, KVOutput{Reply: r, Value: v}}
}

// sequential is calls made one after the other by one client.
func sequential(calls ...kvCall) []porcupine.Operation {
	h := make([]porcupine.Operation, len(calls))
	for i, c := range calls {
		h[i] = porcupine.Operation{Input: c.in, Output: c.out, Call: int64(10 * i), Return: int64(10*i + 5)}
	}
	return h
}

// TestKVSpecification checks every rule of KV on small histories, each
// once right and once wrong (spec/DESIGN.md §4: the cache's semantics, as
// memcached's protocol.txt gives them).
func TestKVSpecification(t *testing.T) {
	const max64 = "18446744073709551615"
	type kvCase struct {
		name string
		h    []porcupine.Operation
		want porcupine.CheckResult
	}
	cases := []kvCase{
		{"get sees the set", sequential(set("k0", "100001"), get("k0", KVHit, "100001")), porcupine.Ok},
		{"get misses a set key", sequential(set("k0", "100001"), get("k0", KVMiss, "")), porcupine.Illegal},
		{"get sees an older value", sequential(set("k0", "100001"), set("k0", "100002"), get("k0", KVHit, "100001")), porcupine.Illegal},
		{"delete removes", sequential(set("k0", "100001"), del("k0", KVDeleted), get("k0", KVMiss, ""), del("k0", KVNotFound)), porcupine.Ok},
		{"deleted key still hits", sequential(set("k0", "100001"), del("k0", KVDeleted), get("k0", KVHit, "100001")), porcupine.Illegal},
		{"delete of an absent key deletes", sequential(del("k0", KVDeleted)), porcupine.Illegal},
		{"append grows a present value", sequential(appendTo("k0", "1", KVNotStored), set("k0", "100001"), appendTo("k0", "x", KVStored), get("k0", KVHit, "100001x")), porcupine.Ok},
		{"append to an absent key stores", sequential(appendTo("k0", "1", KVStored)), porcupine.Illegal},
		{"cas with the unique gets read", sequential(set("k0", "100001"), gets("k0", "100001", 7), cas("k0", "100002", 7, KVStored), get("k0", KVHit, "100002")), porcupine.Ok},
		{"cas twice with one unique", sequential(set("k0", "100001"), gets("k0", "100001", 7), cas("k0", "100002", 7, KVStored), cas("k0", "100003", 7, KVStored)), porcupine.Illegal},
		{"cas after a set fails", sequential(set("k0", "100001"), gets("k0", "100001", 7), set("k0", "100002"), cas("k0", "100003", 7, KVExists)), porcupine.Ok},
		{"cas after a set stores", sequential(set("k0", "100001"), gets("k0", "100001", 7), set("k0", "100002"), cas("k0", "100003", 7, KVStored)), porcupine.Illegal},
		{"cas after an incr stores", sequential(set("k0", "100001"), gets("k0", "100001", 7), incr("k0", 1, KVNumber, "100002"), cas("k0", "100003", 7, KVStored)), porcupine.Illegal},
		{"cas with a newer unique", sequential(set("k0", "100001"), gets("k0", "100001", 7), set("k0", "100002"), gets("k0", "100002", 9), cas("k0", "100003", 7, KVExists), cas("k0", "100003", 9, KVStored)), porcupine.Ok},
		{"cas with a wrong unique stores", sequential(set("k0", "100001"), gets("k0", "100001", 7), cas("k0", "100002", 6, KVStored)), porcupine.Illegal},
		{"cas on an absent key", sequential(set("k0", "100001"), gets("k0", "100001", 7), del("k0", KVDeleted), cas("k0", "100002", 7, KVNotFound)), porcupine.Ok},
		{"cas on an absent key exists", sequential(cas("k0", "100002", 7, KVExists)), porcupine.Illegal},
		{"gets repeats the unique", sequential(set("k0", "100001"), gets("k0", "100001", 7), gets("k0", "100001", 7)), porcupine.Ok},
		{"unique changes without a store", sequential(set("k0", "100001"), gets("k0", "100001", 7), gets("k0", "100001", 8)), porcupine.Illegal},
		{"unique kept across a store", sequential(set("k0", "100001"), gets("k0", "100001", 7), set("k0", "100002"), gets("k0", "100002", 7)), porcupine.Illegal},
		{"unique goes down", sequential(set("k0", "100001"), gets("k0", "100001", 7), set("k0", "100002"), gets("k0", "100002", 5)), porcupine.Illegal},
		{"unique stays up after a delete", sequential(set("k0", "100001"), gets("k0", "100001", 7), del("k0", KVDeleted), set("k0", "100002"), gets("k0", "100002", 3)), porcupine.Illegal},
		{"incr adds", sequential(incr("k0", 1, KVNotFound, ""), set("k0", "100001"), incr("k0", 5, KVNumber, "100006"), get("k0", KVHit, "100006")), porcupine.Ok},
		{"incr adds wrong", sequential(set("k0", "100001"), incr("k0", 5, KVNumber, "100007")), porcupine.Illegal},
		{"incr of a non-number", sequential(set("k0", "100001"), appendTo("k0", "x", KVStored), incr("k0", 1, KVNonNumeric, "")), porcupine.Ok},
		{"incr of a non-number adds", sequential(set("k0", "100001"), appendTo("k0", "x", KVStored), incr("k0", 1, KVNumber, "100002")), porcupine.Illegal},
		{"incr past 64 bits is non-numeric", sequential(set("k0", max64), appendTo("k0", "0", KVStored), incr("k0", 1, KVNonNumeric, "")), porcupine.Ok},
		{"incr wraps and pads", sequential(set("k0", max64), incr("k0", 2, KVNumber, "1"), get("k0", KVHit, "1"+strings.Repeat(" ", 19)), incr("k0", 1, KVNumber, "2")), porcupine.Ok},
		{"incr wraps without padding", sequential(set("k0", max64), incr("k0", 2, KVNumber, "1"), get("k0", KVHit, "1")), porcupine.Illegal},
		{"incr absent finds", sequential(incr("k0", 1, KVNumber, "1")), porcupine.Illegal},
		{"keys are independent", sequential(set("k0", "100001"), get("k1", KVMiss, ""), set("k1", "100002"), get("k0", KVHit, "100001")), porcupine.Ok},
		{"a set of one key shows in another", sequential(set("k0", "100001"), get("k1", KVHit, "100001")), porcupine.Illegal},
	}
	// Concurrent sets may take effect in either order; once both returned,
	// reads agree on one.
	a, b := set("k0", "100001"), set("k0", "100002")
	concurrent := func(r1, r2 string) []porcupine.Operation {
		return []porcupine.Operation{
			{ClientId: 0, Input: a.in, Output: a.out, Call: 0, Return: 100},
			{ClientId: 1, Input: b.in, Output: b.out, Call: 10, Return: 90},
			{ClientId: 0, Input: get("k0", 0, "").in, Output: KVOutput{Reply: KVHit, Value: r1}, Call: 110, Return: 120},
			{ClientId: 1, Input: get("k0", 0, "").in, Output: KVOutput{Reply: KVHit, Value: r2}, Call: 130, Return: 140},
		}
	}
	cases = append(cases,
		kvCase{"concurrent sets, either order", concurrent("100001", "100001"), porcupine.Ok},
		kvCase{"concurrent sets, either order", concurrent("100002", "100002"), porcupine.Ok},
		kvCase{"concurrent sets, reads disagree", concurrent("100001", "100002"), porcupine.Illegal},
	)
	for _, c := range cases {
		if got := porcupine.CheckOperationsTimeout(KV(), c.h, 10*time.Second); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestKVTwinsNeedRoom: a twin is not seeded where its defect has no
// witness, so a refutation is never claimed of an unchanged history.
func TestKVTwinsNeedRoom(t *testing.T) {
	h := sequential(set("k0", "100001"), gets("k0", "100001", 7), get("k0", KVHit, "100001"), cas("k0", "100002", 7, KVStored))
	if _, ok := StaleRead(h); ok {
		t.Error("StaleRead seeded with only one store")
	}
	if _, ok := StaleCAS(h); ok {
		t.Error("StaleCAS seeded without a cas that answered EXISTS")
	}
	h = sequential(set("k0", "100001"), gets("k0", "100001", 7), set("k0", "100002"), get("k0", KVHit, "100002"), cas("k0", "100003", 7, KVExists))
	read, ok := StaleRead(h)
	if !ok || read[3].Output.(KVOutput).Value != "100001" {
		t.Errorf("StaleRead: %v, %v", ok, read)
	}
	stale, ok := StaleCAS(h)
	if !ok || stale[4].Output.(KVOutput).Reply != KVStored {
		t.Errorf("StaleCAS: %v, %v", ok, stale)
	}
	for _, tw := range [][]porcupine.Operation{read, stale} {
		if got := porcupine.CheckOperationsTimeout(KV(), tw, 10*time.Second); got != porcupine.Illegal {
			t.Errorf("twin %v: %v, want Illegal", tw, got)
		}
	}
}
