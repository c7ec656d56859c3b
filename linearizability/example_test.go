package linearizability_test

import (
	"fmt"

	"github.com/anishathalye/porcupine"

	"github.com/handoffd/handoff/linearizability"
)

// Two clients on one key: a set that overlaps a get may or may not be seen
// by it, but a get that starts after the set returned must see it.
func ExampleKV() {
	set := linearizability.KVInput{Cmd: linearizability.KVSet, Key: "k", Value: "v"}
	get := linearizability.KVInput{Cmd: linearizability.KVGet, Key: "k"}
	stored := linearizability.KVOutput{Reply: linearizability.KVStored}
	miss := linearizability.KVOutput{Reply: linearizability.KVMiss}
	hit := linearizability.KVOutput{Reply: linearizability.KVHit, Value: "v"}
	history := func(lateGet linearizability.KVOutput) []porcupine.Operation {
		return []porcupine.Operation{
			{ClientId: 0, Input: set, Call: 0, Output: stored, Return: 10},
			{ClientId: 1, Input: get, Call: 5, Output: miss, Return: 6},      // overlaps the set
			{ClientId: 1, Input: get, Call: 20, Output: lateGet, Return: 30}, // after it
		}
	}
	fmt.Println(porcupine.CheckOperations(linearizability.KV(), history(hit)))
	fmt.Println(porcupine.CheckOperations(linearizability.KV(), history(miss)))
	// Output:
	// true
	// false
}
