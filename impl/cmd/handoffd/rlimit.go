package main

// fdLimit is the open-file limit before and after raiseFDLimit.
type fdLimit struct {
	needed, cur, max uint64
	// short: even at the hard limit the process cannot hold needed fds.
	short bool
}

// planFDLimit decides the new soft limit: needed if the hard limit allows
// it, else the hard limit, and short when that is still less than needed. A
// soft limit already at or above needed is left alone.
func planFDLimit(needed, cur, hard uint64) fdLimit {
	l := fdLimit{needed: needed, cur: cur, max: hard}
	if cur >= needed {
		return l
	}
	l.cur = min(needed, hard)
	l.short = l.cur < needed
	return l
}
