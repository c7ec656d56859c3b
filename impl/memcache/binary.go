package memcache

import (
	"encoding/binary"
)

// memcached's binary protocol, as memcached 1.6.18 speaks it: a 24-byte
// header, then extras, key and value. A connection speaks it when its first
// byte is the request magic (Settings.Binding auto, memcached's default) or
// when the server binds binary only; it then speaks nothing else.

const (
	binHeaderLen = 24
	binReqMagic  = 0x80
	binResMagic  = 0x81
)

// Binary opcodes; the quiet forms answer only what a client must see.
const (
	binGet        = 0x00
	binSet        = 0x01
	binAdd        = 0x02
	binReplace    = 0x03
	binDelete     = 0x04
	binIncrement  = 0x05
	binDecrement  = 0x06
	binQuit       = 0x07
	binFlush      = 0x08
	binGetQ       = 0x09
	binNoop       = 0x0a
	binVersion    = 0x0b
	binGetK       = 0x0c
	binGetKQ      = 0x0d
	binAppend     = 0x0e
	binPrepend    = 0x0f
	binStat       = 0x10
	binSetQ       = 0x11
	binAddQ       = 0x12
	binReplaceQ   = 0x13
	binDeleteQ    = 0x14
	binIncrementQ = 0x15
	binDecrementQ = 0x16
	binQuitQ      = 0x17
	binFlushQ     = 0x18
	binAppendQ    = 0x19
	binPrependQ   = 0x1a
	binTouch      = 0x1c
	binGat        = 0x1d
	binGatQ       = 0x1e
	binSASLList   = 0x20
	binSASLAuth   = 0x21
	binSASLStep   = 0x22
	binGatK       = 0x23
	binGatKQ      = 0x24
)

// binQuiet maps each quiet opcode to its loud form.
var binQuiet = map[uint8]uint8{
	binSetQ: binSet, binAddQ: binAdd, binReplaceQ: binReplace, binDeleteQ: binDelete,
	binIncrementQ: binIncrement, binDecrementQ: binDecrement, binQuitQ: binQuit,
	binFlushQ: binFlush, binAppendQ: binAppend, binPrependQ: binPrepend, binGetQ: binGet,
	binGetKQ: binGetK, binGatQ: binGat, binGatKQ: binGatK,
}

// Binary response statuses.
const (
	binOK          = 0x00
	binKeyENOENT   = 0x01
	binKeyEEXISTS  = 0x02
	binE2BIG       = 0x03
	binEINVAL      = 0x04
	binNotStored   = 0x05
	binDeltaBadval = 0x06
	binAuthError   = 0x20
	binUnknownCmd  = 0x81
	binENOMEM      = 0x82
	binIncrExtLen  = 20
	binSetExtLen   = 8
	binTouchExtLen = 4
	binNoExptime   = 0xffffffff // an incr's expiration that forbids creating the item
	binFlagsExtLen = 4
	binFlushExtLen = 4
)

// binStatusText is the body memcached sends with each error status.
var binStatusText = map[uint16]string{
	binENOMEM:      "Out of memory",
	binUnknownCmd:  "Unknown command",
	binKeyENOENT:   "Not found",
	binEINVAL:      "Invalid arguments",
	binKeyEEXISTS:  "Data exists for key.",
	binE2BIG:       "Too large.",
	binDeltaBadval: "Non-numeric server-side value for incr or decr",
	binNotStored:   "Not stored.",
	binAuthError:   "Auth failure.",
}

// binReq is one request frame, its header decoded. ext and key alias the
// input.
type binReq struct {
	header  []byte // the 24 bytes as received, for the verbose log
	opcode  uint8  // as received: the reply carries it back
	cmd     uint8  // opcode with a quiet form mapped to its loud one
	quiet   bool
	bodyLen uint32
	opaque  uint32
	cas     uint64
	ext     []byte
	key     []byte
}

// Binding is which protocols a server's connections may speak (memcached's
// -B).
type Binding uint8

const (
	// BindAuto, memcached's default: a connection whose first byte is the
	// binary request magic speaks binary, any other text.
	BindAuto Binding = iota
	BindASCII
	BindBinary
)

// String is the binding's name in stats settings' binding_protocol.
func (b Binding) String() string {
	switch b {
	case BindASCII:
		return "ascii"
	case BindBinary:
		return "binary"
	}
	return "auto-negotiate"
}

// binaryStep runs the binary frame at the start of rest, as textStep runs
// a text command.
func (s *Session) binaryStep(rest, out []byte) ([]byte, int, status) {
	if len(rest) < binHeaderLen {
		return out, 0, needMore
	}
	if rest[0] != binReqMagic {
		// Not a frame: memcached closes without a reply.
		return out, 0, closeNow
	}
	var r binReq
	r.header = rest[:binHeaderLen]
	r.opcode = rest[1]
	keyLen := int(binary.BigEndian.Uint16(rest[2:]))
	extLen := int(rest[4])
	r.bodyLen = binary.BigEndian.Uint32(rest[8:])
	r.opaque = binary.BigEndian.Uint32(rest[12:])
	r.cas = binary.BigEndian.Uint64(rest[16:])
	head := binHeaderLen + extLen + keyLen
	if len(rest) < head {
		return out, 0, needMore
	}
	r.ext = rest[binHeaderLen : binHeaderLen+extLen]
	r.key = rest[binHeaderLen+extLen : head]
	// The value, when the frame has one, follows the key; it is taken
	// (and waited for) only by the commands that store it.
	var valueLen int64
	if int64(r.bodyLen) >= int64(extLen+keyLen) {
		valueLen = int64(r.bodyLen) - int64(extLen+keyLen)
	}
	out, data, st := s.binCommand(&r, rest[head:], valueLen, out)
	return out, head + data, st
}

// binCommand checks a frame's shape as memcached does and runs it; after
// is the input that follows the key. It returns what command returns: the
// extended out, the bytes of after consumed, and what the loop does next.
func (s *Session) binCommand(r *binReq, after []byte, valueLen int64, out []byte) ([]byte, int, status) {
	extLen, keyLen, bodyLen := len(r.ext), len(r.key), int64(r.bodyLen)
	storing := false
	switch r.opcode {
	case binSet, binSetQ, binAdd, binAddQ, binReplace, binReplaceQ, binAppend, binAppendQ, binPrepend, binPrependQ:
		storing = true
	}
	// A storing command is handled once its value has all arrived (a value
	// over the item size limit is refused at once and discarded as it
	// arrives, as a text one is).
	if storing && int64(keyLen+extLen) <= bodyLen && int64(len(after)) < valueLen &&
		s.cache.store.Fits(r.key, int(valueLen), r.flags()) && keyLen <= keyMax {
		return out, 0, needMore
	}
	verbose := s.verbose()
	if verbose {
		s.logBinHeader(r)
	}
	if int64(keyLen) > bodyLen || int64(keyLen+extLen) > bodyLen {
		return s.binError(out, r, binUnknownCmd, ""), 0, closeNow
	}
	r.cmd = r.opcode
	if loud, ok := binQuiet[r.opcode]; ok {
		r.cmd, r.quiet = loud, true
	}
	if keyLen > keyMax {
		return s.binProtocolError(out, r), 0, closeNow
	}
	ok := true
	switch r.cmd {
	case binVersion, binNoop, binQuit, binSASLList:
		ok = extLen == 0 && keyLen == 0 && bodyLen == 0
	case binFlush:
		ok = keyLen == 0 && bodyLen == int64(extLen) && (extLen == 0 || extLen == binFlushExtLen)
	case binSet, binAdd, binReplace:
		ok = extLen == binSetExtLen && keyLen != 0
	case binGet, binGetK:
		ok = extLen == 0 && bodyLen == int64(keyLen) && keyLen > 0
	case binDelete:
		ok = keyLen > 0 && extLen == 0 && bodyLen == int64(keyLen)
	case binIncrement, binDecrement:
		ok = keyLen > 0 && extLen == binIncrExtLen && bodyLen == int64(keyLen+extLen)
	case binAppend, binPrepend:
		ok = keyLen > 0 && extLen == 0
	case binStat:
		ok = extLen == 0
	case binSASLAuth, binSASLStep:
		ok = extLen == 0 && keyLen != 0
	case binTouch, binGat, binGatK:
		ok = extLen == binTouchExtLen && keyLen != 0
	default:
		// An unknown opcode's frame is discarded whole, and the connection
		// goes on.
		s.swallow = valueLen
		return s.binError(out, r, binUnknownCmd, ""), 0, done
	}
	if !ok {
		return s.binProtocolError(out, r), 0, closeNow
	}
	switch r.cmd {
	case binVersion:
		return s.binResponse(out, r, 0, nil, nil, []byte(s.cache.settings.Version)), 0, done
	case binNoop:
		return s.binResponse(out, r, 0, nil, nil, nil), 0, done
	case binQuit:
		s.quit = true
		return s.binResponse(out, r, 0, nil, nil, nil), 0, closeNow
	case binFlush:
		return s.binFlush(r, out), 0, done
	case binSet, binAdd, binReplace, binAppend, binPrepend:
		return s.binStore(r, after, valueLen, out)
	case binGet, binGetK, binTouch, binGat, binGatK:
		return s.binGet(r, out), 0, done
	case binDelete:
		return s.binDelete(r, out), 0, done
	case binIncrement, binDecrement:
		return s.binDelta(r, out), 0, done
	case binStat:
		// The frame's value, which memcached would read as the next frame,
		// is discarded.
		s.swallow = valueLen
		return s.binStats(r, out), 0, done
	}
	// SASL, with no SASL configured: memcached's reply, the value
	// discarded.
	s.swallow = valueLen
	return s.binError(out, r, binUnknownCmd, ""), 0, done
}

// flags is a set's client flags, 0 for any other frame.
func (r *binReq) flags() uint32 {
	if len(r.ext) == binSetExtLen {
		return binary.BigEndian.Uint32(r.ext)
	}
	return 0
}

// binProtocolError answers a frame whose shape its opcode forbids; the
// connection is closed after the reply, as memcached closes it.
func (s *Session) binProtocolError(out []byte, r *binReq) []byte {
	return s.binError(out, r, binEINVAL, "")
}

// binHeader appends a response header for r.
func (s *Session) binHeader(out []byte, r *binReq, status uint16, extLen, keyLen int, bodyLen int, cas uint64) []byte {
	start := len(out)
	out = append(out, binResMagic, r.opcode, 0, 0, uint8(extLen), 0, 0, 0)
	binary.BigEndian.PutUint16(out[start+2:], uint16(keyLen))
	binary.BigEndian.PutUint16(out[start+6:], status)
	out = binary.BigEndian.AppendUint32(out, uint32(bodyLen))
	out = binary.BigEndian.AppendUint32(out, r.opaque)
	out = binary.BigEndian.AppendUint64(out, cas)
	if s.verbose() {
		s.logBinResponse(out[start:])
	}
	return out
}

// binResponse appends a successful response, unless r is quiet. (A quiet
// get's hit is answered all the same: binGet writes it itself.)
func (s *Session) binResponse(out []byte, r *binReq, cas uint64, ext, key, value []byte) []byte {
	if r.quiet {
		return out
	}
	out = s.binHeader(out, r, binOK, len(ext), len(key), len(ext)+len(key)+len(value), cas)
	out = append(out, ext...)
	out = append(out, key...)
	return append(out, value...)
}

// binError appends an error response with msg, or the status's own text
// when msg is empty. Errors are sent for quiet commands too: quiet withholds
// only success.
func (s *Session) binError(out []byte, r *binReq, status uint16, msg string) []byte {
	if msg == "" {
		msg = binStatusText[status]
	}
	if s.verbose() {
		s.logf(">%d Writing an error: %s\n", s.fd, msg)
	}
	out = s.binHeader(out, r, status, 0, 0, len(msg), 0)
	return append(out, msg...)
}
