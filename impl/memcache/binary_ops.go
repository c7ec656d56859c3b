package memcache

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
)

// The binary protocol's commands, each as memcached 1.6.18 answers it.

// binStore runs set, add, replace, append and prepend. A CAS unique in the
// header makes set, add and replace a cas (memcached's NREAD_CAS, whatever
// the opcode); append and prepend then store only onto that unique.
func (s *Session) binStore(r *binReq, after []byte, valueLen int64, out []byte) ([]byte, int, status) {
	var req SetReq
	switch r.cmd {
	case binSet:
		req.Mode = ModeSet
	case binAdd:
		req.Mode = ModeAdd
	case binReplace:
		req.Mode = ModeReplace
	case binAppend:
		req.Mode = ModeAppend
	case binPrepend:
		req.Mode = ModePrepend
	}
	joining := req.Mode == ModeAppend || req.Mode == ModePrepend
	if !joining {
		req.Flags = r.flags()
		req.Exptime = int64(binary.BigEndian.Uint32(r.ext[4:]))
	}
	if s.verbose() {
		if joining {
			s.logf("Value len is %d\n", valueLen)
		} else {
			name := map[uint8]string{binSet: "SET", binAdd: "ADD", binReplace: "REPLACE"}[r.cmd]
			s.logf("<%d %s %s Value len is %d\n", s.fd, name, r.key, valueLen)
		}
	}
	s.cache.recordSet(r.key)
	if !s.cache.store.Fits(r.key, int(valueLen), req.Flags) {
		s.cache.storeTooLarge.Add(1)
		if r.cmd == binSet {
			s.cache.store.Drop(r.key)
		}
		s.swallow = valueLen
		return s.binError(out, r, binE2BIG, ""), 0, done
	}
	isCAS := false
	if r.cas != 0 {
		req.HasCAS, req.CAS = true, r.cas
		if !joining {
			isCAS, req.Mode = true, ModeSet
		}
	}
	n := int(valueLen)
	s.logFetchOf(r.key)
	res, cas := s.cache.store.Set(r.key, after[:n], req)
	s.cache.countFailure(res)
	s.logStore(storeCmd(req), r.key, res, req.Exptime, n)
	switch res {
	case Stored:
		return s.binResponse(out, r, cas, nil, nil, nil), n, done
	case Exists:
		return s.binError(out, r, binKeyEEXISTS, ""), n, done
	case NotFound:
		return s.binError(out, r, binKeyENOENT, ""), n, done
	case NoMemory:
		return s.binError(out, r, binENOMEM, "Out of memory allocating item"), n, done
	}
	// Not stored: memcached names the reason by the command.
	switch {
	case isCAS:
		return s.binError(out, r, binNotStored, ""), n, done
	case r.cmd == binAdd:
		return s.binError(out, r, binKeyEEXISTS, ""), n, done
	case r.cmd == binReplace:
		return s.binError(out, r, binKeyENOENT, ""), n, done
	}
	return s.binError(out, r, binNotStored, ""), n, done
}

// binGet runs get, getk, touch, gat and gatk and their quiet forms. A hit is
// always answered; quiet withholds a miss.
func (s *Session) binGet(r *binReq, out []byte) []byte {
	touch := r.cmd == binTouch || r.cmd == binGat || r.cmd == binGatK
	withKey := r.cmd == binGetK || r.cmd == binGatK
	if s.verbose() {
		what := "GET"
		if touch {
			what = "TOUCH"
		}
		s.logf("<%d %s %s\n", s.fd, what, r.key)
	}
	var exptime int64
	if touch {
		exptime = int64(binary.BigEndian.Uint32(r.ext))
	}
	v, ok := s.cache.store.Get(r.key, touch, exptime, s.sc.value)
	s.cache.recordGet(r.key, ok)
	s.logFetch(r.key, ok, len(v.Value))
	if !ok {
		switch {
		case r.quiet:
			return out
		case withKey:
			out = s.binHeader(out, r, binKeyENOENT, 0, len(r.key), len(r.key), 0)
			return append(out, r.key...)
		}
		return s.binError(out, r, binKeyENOENT, "")
	}
	s.sc.value = v.Value
	var key, value []byte
	if withKey {
		key = r.key
	}
	if r.cmd != binTouch {
		value = v.Value
	}
	// The header is logged with no unique and then given the item's, as
	// memcached logs it.
	start := len(out)
	out = s.binHeader(out, r, binOK, binFlagsExtLen, len(key), binFlagsExtLen+len(key)+len(value), 0)
	binary.BigEndian.PutUint64(out[start+16:], v.CAS)
	out = binary.BigEndian.AppendUint32(out, v.Flags)
	out = append(out, key...)
	return append(out, value...)
}

// binDelete runs delete; a CAS unique in the header deletes only that
// version of the item.
func (s *Session) binDelete(r *binReq, out []byte) []byte {
	if s.verbose() {
		s.logf("Deleting %s\n", r.key)
	}
	s.cache.recordDelete(r.key)
	s.logFetchOf(r.key)
	switch s.cache.store.Delete(r.key, r.cas != 0, r.cas) {
	case Stored:
		return s.binResponse(out, r, 0, nil, nil, nil)
	case Exists:
		return s.binError(out, r, binKeyEEXISTS, "")
	}
	return s.binError(out, r, binKeyENOENT, "")
}

// binDelta runs increment and decrement. A missing item is created holding
// the initial value, unless the expiration is binNoExptime; the reply is
// the number after the change, 8 bytes.
func (s *Session) binDelta(r *binReq, out []byte) []byte {
	delta := binary.BigEndian.Uint64(r.ext)
	initial := binary.BigEndian.Uint64(r.ext[8:])
	expiration := binary.BigEndian.Uint32(r.ext[16:])
	if s.verbose() {
		s.logf("incr %s %d, %d, %d\n", r.key, int64(delta), initial, int32(expiration))
	}
	req := DeltaReq{Incr: r.cmd == binIncrement, Delta: delta, HasCAS: r.cas != 0, CAS: r.cas}
	if expiration != binNoExptime {
		req.Vivify, req.Initial, req.Exptime = true, initial, int64(expiration)
	}
	s.logFetchOf(r.key)
	res, v := s.cache.store.Delta(r.key, req)
	switch res {
	case Stored, Created:
		n, _ := strconv.ParseUint(string(bytes.TrimRight(v.Value, " ")), 10, 64)
		return s.binResponse(out, r, v.CAS, nil, nil, binary.BigEndian.AppendUint64(nil, n))
	case NonNumeric:
		return s.binError(out, r, binDeltaBadval, "")
	case NotFound:
		return s.binError(out, r, binKeyENOENT, "")
	case Exists:
		return s.binError(out, r, binKeyEEXISTS, "")
	case TooLarge:
		return s.binError(out, r, binENOMEM, "Out of memory allocating new item")
	}
	return s.binError(out, r, binENOMEM, "Out of memory incrementing value")
}

// binFlush runs flush, with an optional delay in its extras.
func (s *Session) binFlush(r *binReq, out []byte) []byte {
	if s.cache.settings.FlushOff {
		return s.binError(out, r, binAuthError, "")
	}
	var delay int64
	if len(r.ext) == binFlushExtLen {
		delay = int64(binary.BigEndian.Uint32(r.ext))
	}
	s.cache.store.Flush(delay)
	return s.binResponse(out, r, 0, nil, nil, nil)
}

// binStats runs stat: the key names the group as the text command's
// argument does. Each stat is a response of its own, key the name and value
// the figure, and an empty one ends them; none is logged, as memcached logs
// none.
func (s *Session) binStats(r *binReq, out []byte) []byte {
	if s.verbose() {
		s.logf("<%d STATS %s\n", s.fd, r.key)
	}
	sub := string(r.key)
	text := s.sc.stats[:0]
	// memcached matches reset, settings and detail by prefix, the others
	// whole.
	switch {
	case sub == "":
		text = s.generalStats(text)
	case strings.HasPrefix(sub, "reset"):
		s.resetStats()
	case strings.HasPrefix(sub, "settings"):
		text = s.settingsStats(text)
	case strings.HasPrefix(sub, "detail"):
		switch arg := sub[len("detail"):]; {
		case strings.HasPrefix(arg, " dump"):
			s.sc.stats = s.detailDump(text)
			out = appendBinStat(out, r.opaque, []byte("detailed"), s.sc.stats)
			return appendBinStat(out, r.opaque, nil, nil)
		case strings.HasPrefix(arg, " on"):
			s.cache.detail.on.Store(true)
		case strings.HasPrefix(arg, " off"):
			s.cache.detail.on.Store(false)
		default:
			return s.binError(out, r, binKeyENOENT, "")
		}
	case sub == "items", sub == "slabs", sub == "sizes":
		text = s.stats([][]byte{r.key}, text)
	default:
		return s.binError(out, r, binKeyENOENT, "")
	}
	s.sc.stats = text
	for len(text) > 0 {
		line, rest, _ := bytes.Cut(text, []byte("\r\n"))
		text = rest
		name, value, ok := bytes.Cut(bytes.TrimPrefix(line, []byte("STAT ")), []byte(" "))
		if !ok || !bytes.HasPrefix(line, []byte("STAT ")) {
			continue
		}
		out = appendBinStat(out, r.opaque, name, value)
	}
	return appendBinStat(out, r.opaque, nil, nil)
}

// appendBinStat appends one stat's response; no name ends the list.
func appendBinStat(out []byte, opaque uint32, name, value []byte) []byte {
	out = append(out, binResMagic, binStat)
	out = binary.BigEndian.AppendUint16(out, uint16(len(name)))
	out = append(out, 0, 0, 0, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(name)+len(value)))
	out = binary.BigEndian.AppendUint32(out, opaque)
	out = binary.BigEndian.AppendUint64(out, 0)
	out = append(out, name...)
	return append(out, value...)
}
