package linearizability

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Connect is the output of a connect operation: the Worker that served the
// connection and its accept sequence number, as the server reported them.
type Connect struct {
	Worker int
	Conn   int64
}

// RoundRobin is the sequential specification of the round-robin balancer
// over n Workers (P2 round-robin): its state is the number k of connects so
// far, so the next Worker is k mod n, and a connect must return worker
// k mod n with sequence number k. The input is ignored.
//
// The number is part of the output for the search's sake, not the
// property's: with the Worker alone, every connect of the same Worker in
// flight at once could be linearized in any order, and refuting a wrong
// history under 64 concurrent clients is a search over subsets of them
// that porcupine does not finish (measured: Unknown after 60s on 10,240
// operations). The number fixes each connect's place, so a right history is
// checked and a wrong one refuted in one pass. The server takes the number
// and the Worker in one atomic step (the balancer's pick), inside the
// connect's interval, so a correct server's histories satisfy it.
func RoundRobin(n int) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return int64(0) },
		Step: func(state, _, output any) (bool, any) {
			k := state.(int64)
			o := output.(Connect)
			if o.Conn != k || int64(o.Worker) != k%int64(n) {
				return false, state
			}
			return true, k + 1
		},
		Hash: func(state any) uint64 { return uint64(state.(int64)) },
		DescribeOperation: func(_, output any) string {
			o := output.(Connect)
			return fmt.Sprintf("connect() -> w%d c%d", o.Worker, o.Conn)
		},
		DescribeState: func(state any) string {
			k := state.(int64)
			return fmt.Sprintf("next: w%d c%d", k%int64(n), k)
		},
	}
}

// QueueOp is the input of an operation on a Worker's queue.
type QueueOp struct {
	// Worker owns the queue; the history is partitioned by it.
	Worker int
	// Enqueue is true for a Dispatch, false for a Pop.
	Enqueue bool
	// Conn is the connection enqueued; unused for a dequeue, whose output
	// is the connection it took.
	Conn int64
}

// fifo is a queue's state; it is never changed in place.
type fifo []int64

// Queue is the sequential specification of the Workers' connection queues:
// one FIFO queue per Worker, partitioned by QueueOp.Worker (P3 per-worker
// FIFO). An enqueue's output is ignored; a dequeue must return the head, as
// an int64, and an empty queue cannot be dequeued (P1: nothing is popped
// that was not pushed, nothing twice).
func Queue() porcupine.Model {
	return porcupine.Model{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			by := map[int][]porcupine.Operation{}
			var ws []int
			for _, op := range h {
				w := op.Input.(QueueOp).Worker
				if _, ok := by[w]; !ok {
					ws = append(ws, w)
				}
				by[w] = append(by[w], op)
			}
			slices.Sort(ws)
			out := make([][]porcupine.Operation, 0, len(ws))
			for _, w := range ws {
				out = append(out, by[w])
			}
			return out
		},
		Init: func() any { return fifo(nil) },
		Step: func(state, input, output any) (bool, any) {
			q := state.(fifo)
			in := input.(QueueOp)
			if in.Enqueue {
				n := make(fifo, len(q)+1)
				copy(n, q)
				n[len(q)] = in.Conn
				return true, n
			}
			if len(q) == 0 || q[0] != output.(int64) {
				return false, state
			}
			return true, q[1:]
		},
		Equal: func(a, b any) bool { return slices.Equal(a.(fifo), b.(fifo)) },
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			for _, c := range state.(fifo) {
				fmt.Fprintf(h, "%d,", c)
			}
			return h.Sum64()
		},
		DescribeOperation: func(input, output any) string {
			in := input.(QueueOp)
			if in.Enqueue {
				return fmt.Sprintf("w%d.enqueue(c%d)", in.Worker, in.Conn)
			}
			return fmt.Sprintf("w%d.dequeue() -> c%d", in.Worker, output.(int64))
		},
		DescribeState: func(state any) string {
			var b strings.Builder
			b.WriteString("[")
			for i, c := range state.(fifo) {
				if i > 0 {
					b.WriteString(" ")
				}
				fmt.Fprintf(&b, "c%d", c)
			}
			b.WriteString("]")
			return b.String()
		},
	}
}
