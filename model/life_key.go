package model

// The lifecycle explorer keys its visited set, as the hand-off's does, by a
// compact encoding of the state: one byte per field, only the parts of the
// arrays in use (the bounds fix how many peers and fd numbers there are; the
// state says how many connections, tasks and events). One function, code,
// lays the fields out for both directions, so that encoding and decoding
// cannot drift apart.

// lifeCodec encodes into b, or, with dec set, decodes from it.
type lifeCodec struct {
	b   []byte
	dec bool
	bad bool
}

func (c *lifeCodec) u8(p *uint8) {
	if !c.dec {
		c.b = append(c.b, *p)
		return
	}
	if len(c.b) == 0 {
		c.bad = true
		return
	}
	*p, c.b = c.b[0], c.b[1:]
}

func (c *lifeCodec) i8(p *int8) {
	v := uint8(*p)
	c.u8(&v)
	*p = int8(v)
}

// flags packs up to eight booleans into one byte.
func (c *lifeCodec) flags(ps ...*bool) {
	var v uint8
	for i, p := range ps {
		if *p {
			v |= 1 << i
		}
	}
	c.u8(&v)
	for i, p := range ps {
		*p = v&(1<<i) != 0
	}
}

// count codes a length, refusing one over max when decoding.
func (c *lifeCodec) count(p *int8, max int) {
	c.i8(p)
	if *p < 0 || int(*p) > max {
		c.bad = true
		*p = 0
	}
}

func (e *LifeEvent) code(c *lifeCodec) {
	c.u8((*uint8)(&e.Src))
	c.i8(&e.Fd)
	c.i8(&e.Gen)
	c.flags(&e.In, &e.Out, &e.ErrOrHup)
}

func (t *LifeTask) code(c *lifeCodec) {
	c.i8(&t.ID)
	c.i8(&t.Conn)
	c.i8(&t.Gen)
	c.flags(&t.Wake)
}

// code lays s out for a system of b's size.
func (s *LifeState) code(c *lifeCodec, b *LifeBounds) {
	for i := range b.Fds {
		c.i8(&s.Fds[i])
	}
	for i := range b.Conns {
		p := &s.Peers[i]
		c.u8((*uint8)(&p.Phase))
		c.i8(&p.Sent)
		c.i8(&p.Rx)
		c.i8(&p.Tx)
		c.i8(&p.Got)
		c.i8(&p.Conn)
		c.flags(&p.Quit, &p.Fin, &p.Rst, &p.Closed, &p.Killed)
	}
	c.i8(&s.Connected)
	c.i8(&s.Taken)
	c.u8((*uint8)(&s.Acceptor.PC))
	c.flags(&s.Acceptor.Paused)
	c.i8(&s.Open)
	c.count(&s.NConns, lifeMaxConns)
	for i := range s.NConns {
		k := &s.Conns[i]
		c.u8((*uint8)(&k.Phase))
		c.i8(&k.Peer)
		c.i8(&k.Fd)
		c.i8(&k.Gen)
		c.u8((*uint8)(&k.Err))
		c.i8(&k.Held)
		c.i8(&k.Out)
		c.i8(&k.Recv)
		c.i8(&k.Used)
		c.i8(&k.Wrote)
		c.i8(&k.OnClose)
		c.u8((*uint8)(&k.Why))
		c.flags(&k.ReadOn, &k.WriteOn, &k.Closing, &k.RdClosed, &k.FdClosed, &k.Lost, &k.Shown)
	}
	c.count(&s.QLen, lifeMaxConns)
	for i := range s.QLen {
		c.i8(&s.Queue[i])
	}
	c.i8(&s.Tokens)
	w := &s.Worker
	c.u8((*uint8)(&w.PC))
	c.count(&w.NBatch, len(w.Batch))
	for i := range w.NBatch {
		w.Batch[i].code(c)
	}
	w.Ev.code(c)
	c.u8((*uint8)(&w.Ctx))
	c.i8(&w.Conn)
	c.i8(&w.Tokens)
	c.i8(&w.Fresh)
	c.u8((*uint8)(&w.After))
	c.i8(&w.Mark)
	c.u8((*uint8)(&w.Why))
	c.count(&w.NTaken, lifeMaxTasks)
	for i := range w.NTaken {
		w.Taken[i].code(c)
	}
	c.i8(&w.Next)
	c.flags(&w.Shut)
	c.i8(&s.Gen)
	c.count(&s.NList, lifeMaxTasks)
	for i := range s.NList {
		s.List[i].code(c)
	}
	c.flags(&s.Pending, &s.Closed, &s.Kicked, &s.Locked, &s.Async.Wake, &s.Stopped, &s.StopFlag)
	c.u8((*uint8)(&s.Async.PC))
	c.i8(&s.Async.Conn)
	c.i8(&s.Async.Gen)
	c.i8(&s.Made)
	for i := range b.Tasks {
		c.u8((*uint8)(&s.Fate[i]))
	}
	c.u8((*uint8)(&s.Server))
}

// appendLifeKey appends s's encoding to k.
func (s *LifeState) appendKey(k []byte, b *LifeBounds) []byte {
	c := lifeCodec{b: k}
	s.code(&c, b)
	return c.b
}

// Key returns s's encoding for a system of b's size, usable as a map key.
func (s LifeState) Key(b LifeBounds) string { return string(s.appendKey(nil, &b)) }

// decodeLifeKey is the inverse of appendKey.
func decodeLifeKey(k []byte, b *LifeBounds) (LifeState, error) {
	var s LifeState
	c := lifeCodec{b: k, dec: true}
	s.code(&c, b)
	if c.bad || len(c.b) != 0 {
		return LifeState{}, errKey
	}
	return s, nil
}
