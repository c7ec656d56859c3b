package uring

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufRing is a group of provided buffers: count buffers of size bytes that
// the kernel picks from as a multishot receive needs one (RecvMultishot),
// so that a Worker's idle connections hold no buffer of their own. The
// kernel takes buffers from the ring's head; the process hands each back,
// once it is done with the bytes a completion named, at the tail.
//
// Memory ordering. The ring is an array of struct io_uring_buf shared with
// the kernel, whose 16-bit tail overlays the first entry's last two bytes.
// The process writes entries, then publishes them by storing the tail (a
// release: the kernel must see an entry before the tail that covers it);
// the kernel consumes from a head it keeps to itself. Go has no 16-bit
// atomic store, so Publish stores the aligned 32 bits that hold the tail
// and the first entry's buffer id, whose value the process wrote and
// keeps, so the store changes nothing but the tail. A buffer id is handed
// back only after its completion was reaped, so the tail never passes the
// kernel's head by more than count entries.
type BufRing struct {
	ring  *Ring
	group uint16
	size  int
	// ents is the shared array (mmap'd, page-aligned as the kernel asks);
	// bufs the buffers themselves, size bytes each, in id order.
	ents []byte
	bufs []byte
	mask uint16
	// tail is the next entry to fill; published is the tail the kernel
	// sees. Invariant: tail - published <= count.
	tail, published uint16
	// bid0 is the buffer id last written into entry 0, which shares the
	// 32 bits Publish stores.
	bid0 uint16
}

// bufRegister is struct io_uring_buf_reg, IORING_REGISTER_PBUF_RING's
// argument.
type bufRegister struct {
	ringAddr    uint64
	ringEntries uint32
	bgid, flags uint16
	resv        [3]uint64
}

const (
	registerPbufRing   = 22 // IORING_REGISTER_PBUF_RING
	unregisterPbufRing = 23 // IORING_UNREGISTER_PBUF_RING
	bufEntrySize       = 16 // sizeof(struct io_uring_buf)
)

// RegisterBufRing registers group: count buffers (a power of two, at most
// 32768) of size bytes, all handed to the kernel. Linux 5.19.
func (r *Ring) RegisterBufRing(group uint16, count, size int) (*BufRing, error) {
	if count < 1 || count > 1<<15 || count&(count-1) != 0 || size < 1 {
		return nil, fmt.Errorf("uring: a buffer ring of %d buffers of %d bytes: want a power of two up to 32768, size >= 1", count, size)
	}
	b := &BufRing{ring: r, group: group, size: size, mask: uint16(count - 1)}
	var err error
	if b.ents, err = unix.Mmap(-1, 0, count*bufEntrySize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE); err != nil {
		return nil, os.NewSyscallError("mmap buffer ring", err)
	}
	if b.bufs, err = unix.Mmap(-1, 0, count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE); err != nil {
		b.unmap()
		return nil, os.NewSyscallError("mmap buffers", err)
	}
	reg := bufRegister{ringAddr: uint64(uintptr(unsafe.Pointer(&b.ents[0]))), ringEntries: uint32(count), bgid: group}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	if errno != 0 {
		// EINVAL: a kernel before 5.19, or the group already registered;
		// EEXIST the latter on some kernels; ENOMEM.
		b.unmap()
		return nil, os.NewSyscallError("io_uring_register pbuf ring", errno)
	}
	for id := range count {
		b.Provide(uint16(id))
	}
	b.Publish()
	return b, nil
}

// Size is each buffer's size in bytes.
func (b *BufRing) Size() int { return b.size }

// Buf is buffer id's first n bytes, valid until it is handed back.
func (b *BufRing) Buf(id uint16, n int) []byte {
	off := int(id) * b.size
	return b.bufs[off : off+n : off+b.size]
}

// BufferID is the provided buffer a completion filled, if it names one.
func BufferID(c CQE) (uint16, bool) {
	return uint16(c.Flags >> CQEBufferShift), c.Flags&CQEFBuffer != 0
}

// Provide hands buffer id back to the kernel, from the next Publish on.
func (b *BufRing) Provide(id uint16) {
	i := b.tail & b.mask
	e := b.ents[int(i)*bufEntrySize:][:bufEntrySize]
	binary.NativeEndian.PutUint64(e[0:], uint64(uintptr(unsafe.Pointer(&b.bufs[int(id)*b.size]))))
	binary.NativeEndian.PutUint32(e[8:], uint32(b.size))
	binary.NativeEndian.PutUint16(e[12:], id)
	if i == 0 {
		b.bid0 = id
	}
	b.tail++
}

// Publish makes the buffers provided since the last Publish the kernel's.
func (b *BufRing) Publish() {
	if b.tail == b.published {
		return
	}
	var w [4]byte
	binary.NativeEndian.PutUint16(w[0:], b.bid0)
	binary.NativeEndian.PutUint16(w[2:], b.tail)
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b.ents[12])), binary.NativeEndian.Uint32(w[:]))
	b.published = b.tail
}

// Close unregisters the group and unmaps its memory. Every receive that
// could pick from it must have completed first.
func (b *BufRing) Close() error {
	if b.ents == nil {
		return nil
	}
	reg := bufRegister{bgid: b.group}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(b.ring.fd), unregisterPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	b.unmap()
	if errno != 0 {
		// EINVAL: the group is not registered (the ring was closed).
		return os.NewSyscallError("io_uring_register unregister pbuf ring", errno)
	}
	return nil
}

func (b *BufRing) unmap() {
	for _, m := range [][]byte{b.ents, b.bufs} {
		if m != nil {
			// EINVAL only for a mapping that is not one: never here.
			_ = unix.Munmap(m)
		}
	}
	b.ents, b.bufs = nil, nil
}
