package fuzz

import (
	"fmt"
)

// One input of FuzzModelSchedule, decoded: its first five bytes size the
// system (here the memcached design, 2 Workers, 2 connections, a pipe of 1,
// 1 Acceptor), the rest choose the steps; a correct design ends with every
// connection registered and nothing broken.
func Example_modelSchedule() {
	d, b, sched := scheduleSystem(correctDesigns(), []byte{0, 1, 1, 0, 0, 3, 1, 4, 1, 5})
	v, steps, err := runSchedule(d, b, sched)
	fmt.Println(d.Name, b.Workers, "workers", b.Conns, "conns:", len(steps), "steps, violation:", v, err)
	// Output: memcached 2 workers 2 conns: 12 steps, violation: <nil> <nil>
}
