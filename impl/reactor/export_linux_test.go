package reactor

// OneShotRecv makes the io_uring Workers of servers created until the test
// ends arm one receive at a time, as on a kernel without a multishot
// receive's limit.
func OneShotRecv(t interface{ Cleanup(func()) }) {
	old := recvLimit
	recvLimit = func() bool { return false }
	t.Cleanup(func() { recvLimit = old })
}
