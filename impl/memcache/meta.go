package memcache

import (
	"encoding/base64"
	"strconv"
)

// The meta commands (memcached 1.6): mn, mg, ms, md, ma, me. A meta command
// is "<cmd> <key> [<datalen>] <flag>*", each flag one letter with an optional
// token glued to it ("T30", "Oabc"). Return flags are written in the order the
// request gave them.
//
// Stale items and win tokens (mg N, R; ms I; md I; the W, X and Z return
// flags) are memcached's (Store.MetaGet, Store.Invalidate). Not implemented:
// explicit CAS values (E), accepted with no effect, because the store's
// uniques name its items (a client's could repeat one).

// metaValid lists the flags each meta command accepts.
var metaValid = map[string]string{
	"mg": "bcfhklOqstuvNRT",
	"ms": "bcCEFIkOqsSTM",
	"md": "bCEIkOqT",
	"ma": "bCENJDTMqOtcvk",
}

// metaReq is a parsed meta command line.
type metaReq struct {
	key    []byte // decoded when b is set
	rawKey []byte // as sent, for the k return flag
	order  []byte // flags in request order
	tok    [128][]byte
	has    [128]bool
}

func (m *metaReq) flag(f byte) bool { return m.has[f] }

// reset readies m for a new command on key, clearing only the flags the last
// command set.
func (m *metaReq) reset(key []byte) {
	for _, f := range m.order {
		m.has[f], m.tok[f] = false, nil
	}
	m.order = m.order[:0]
	m.key, m.rawKey = key, key
}

// parseFlags reads flag words into m; it returns the error reply or "".
func (m *metaReq) parseFlags(cmd string, words [][]byte) string {
	valid := metaValid[cmd]
	for _, w := range words {
		f := w[0]
		ok := false
		for i := 0; i < len(valid); i++ {
			if valid[i] == f {
				ok = true
			}
		}
		switch {
		case !ok && (cmd == "md" || cmd == "ma"):
			return "CLIENT_ERROR invalid or duplicate flag\r\n"
		case !ok:
			return "CLIENT_ERROR invalid flag\r\n"
		case m.has[f] && (cmd == "md" || cmd == "ma"):
			return "CLIENT_ERROR invalid or duplicate flag\r\n"
		case m.has[f]:
			return "CLIENT_ERROR duplicate flag\r\n"
		}
		m.has[f] = true
		m.tok[f] = w[1:]
		m.order = append(m.order, f)
		if f == 'O' && len(w)-1 > 32 {
			return "CLIENT_ERROR opaque token too long\r\n"
		}
	}
	if m.has['b'] {
		k := make([]byte, base64.StdEncoding.DecodedLen(len(m.rawKey)))
		n, err := base64.StdEncoding.Decode(k, m.rawKey)
		if err != nil || n == 0 {
			return "CLIENT_ERROR error decoding key\r\n"
		}
		m.key = k[:n]
	}
	return ""
}

// appendRet appends " <flag><value>" for the return flags in request order;
// val gives the value of a flag that returns one and reports whether it does.
func (m *metaReq) appendRet(out []byte, val func(f byte, out []byte) ([]byte, bool)) []byte {
	for _, f := range m.order {
		switch f {
		case 'O':
			out = append(out, " O"...)
			out = append(out, m.tok['O']...)
		case 'k':
			out = append(out, " k"...)
			out = append(out, m.rawKey...)
			if m.has['b'] {
				out = append(out, " b"...)
			}
		default:
			if val == nil {
				continue
			}
			mark := len(out)
			out = append(out, ' ', f)
			var ok bool
			if out, ok = val(f, out); !ok {
				out = out[:mark]
			}
		}
	}
	return append(out, "\r\n"...)
}

// meta runs one meta command.
func (s *Session) meta(toks [][]byte, after, out []byte) ([]byte, int, status) {
	cmd := string(toks[0])
	if cmd == "mn" {
		out = append(out, "MN\r\n"...)
		s.flushed = len(out) // mn flushes, as memcached's does
		return out, 0, done
	}
	s.cache.cmdMeta.Add(1)
	if len(toks) < 2 {
		return append(out, replyError...), 0, done
	}
	if len(toks[1]) > keyMax {
		return append(out, replyBadFormat...), 0, done
	}
	m := &s.sc.mreq
	m.reset(toks[1])
	words := toks[2:]
	if cmd == "ms" {
		if len(toks) < 3 {
			return append(out, replyBadFormat...), 0, done
		}
		n, ok := parseInt32(toks[2])
		if !ok || n < 0 {
			return append(out, replyBadFormat...), 0, done
		}
		return s.metaSet(m, n, toks[3:], after, out)
	}
	if cmd == "me" {
		return s.metaDebug(m, out), 0, done
	}
	if e := m.parseFlags(cmd, words); e != "" {
		return append(out, e...), 0, done
	}
	switch cmd {
	case "mg":
		return s.metaGet(m, out), 0, done
	case "md":
		return s.metaDelete(m, out), 0, done
	}
	return s.metaArith(m, out), 0, done
}

// metaGet runs mg: VA <size> <flags>\r\n<data>\r\n with v, else HD <flags>;
// EN on a miss (q: nothing).
func (s *Session) metaGet(m *metaReq, out []byte) []byte {
	req := MetaGetReq{Touch: m.flag('T'), Vivify: m.flag('N'), Recache: m.flag('R'), NoBump: m.flag('u')}
	for _, t := range []struct {
		on  bool
		f   byte
		dst *int64
	}{{req.Touch, 'T', &req.Exptime}, {req.Vivify, 'N', &req.VivifyExptime}, {req.Recache, 'R', &req.RecacheExptime}} {
		if !t.on {
			continue
		}
		var ok bool
		if *t.dst, ok = parseExptime(m.tok[t.f]); !ok {
			return append(out, "CLIENT_ERROR bad token in command line format\r\n"...)
		}
	}
	exptime := req.Exptime
	st := s.cache.store
	mv, ok := st.MetaGet(m.key, req, s.sc.value)
	v := mv.View
	s.logFetch(m.key, ok, len(v.Value))
	if !ok {
		if m.flag('q') {
			return out
		}
		out = append(out, "EN"...)
		return m.appendRet(out, nil)
	}
	s.sc.value = v.Value
	now := st.Now()
	if m.flag('v') {
		out = append(out, "VA "...)
		out = strconv.AppendInt(out, int64(len(v.Value)), 10)
	} else {
		out = append(out, "HD"...)
	}
	// memcached applies the flags in order: a t before T reports the TTL
	// the item had, a t after it the TTL T gave.
	out = m.appendRet(out, func(f byte, out []byte) ([]byte, bool) {
		switch f {
		case 'T':
			v.Exptime = st.absExptime(exptime, now)
			return out, false
		case 'c':
			return strconv.AppendUint(out, v.CAS, 10), true
		case 'f':
			return strconv.AppendUint(out, uint64(v.Flags), 10), true
		case 'h':
			if v.Fetched {
				return append(out, '1'), true
			}
			return append(out, '0'), true
		case 'l':
			return strconv.AppendInt(out, max(0, now-v.Access), 10), true
		case 's':
			return strconv.AppendInt(out, int64(len(v.Value)), 10), true
		case 't':
			return appendTTL(out, v.Exptime, now), true
		}
		return out, false
	})
	// The marks follow the flags, in memcached's order: Z before W, so
	// that a client is never told both.
	out = out[:len(out)-2]
	if mv.TokenSent {
		out = append(out, " Z"...)
	}
	if mv.Stale {
		out = append(out, " X"...)
	}
	if mv.Won {
		out = append(out, " W"...)
	}
	out = append(out, "\r\n"...)
	if m.flag('v') {
		out = append(out, v.Value...)
		out = append(out, "\r\n"...)
	}
	return out
}

func appendTTL(out []byte, exptime, now int64) []byte {
	if exptime == 0 {
		return append(out, "-1"...)
	}
	return strconv.AppendInt(out, max(0, exptime-now), 10)
}

// metaSet runs "ms <key> <datalen> <flag>*" followed by a data block. Once
// datalen is known every error discards the data block.
func (s *Session) metaSet(m *metaReq, n int64, words [][]byte, after, out []byte) ([]byte, int, status) {
	fail := func(e string) ([]byte, int, status) {
		s.swallow = n + 2
		return append(out, e...), 0, done
	}
	if e := m.parseFlags("ms", words); e != "" {
		return fail(e)
	}
	req := SetReq{Mode: ModeSet, Invalidate: m.flag('I')}
	if m.flag('F') {
		f, ok := parseUint(m.tok['F'], 32)
		if !ok {
			return fail(replyBadFormat)
		}
		req.Flags = uint32(f)
	}
	for _, f := range []byte{'T', 'C'} {
		if !m.flag(f) {
			continue
		}
		v, ok := parseUint(m.tok[f], 64)
		if f == 'T' {
			var t int64
			t, ok = parseExptime(m.tok[f])
			req.Exptime = t
		} else {
			req.HasCAS, req.CAS = true, v
		}
		if !ok {
			return fail("CLIENT_ERROR bad token in command line format\r\n")
		}
	}
	if m.flag('M') {
		mode := m.tok['M']
		if len(mode) != 1 {
			return fail("CLIENT_ERROR invalid mode for ms M token\r\n")
		}
		switch mode[0] {
		case 'S':
			req.Mode = ModeSet
		case 'E':
			req.Mode = ModeAdd
		case 'R':
			req.Mode = ModeReplace
		case 'A':
			req.Mode = ModeAppend
		case 'P':
			req.Mode = ModePrepend
		default:
			return fail("CLIENT_ERROR invalid mode for ms M token\r\n")
		}
	}
	st := s.cache.store
	if !st.Fits(m.key, int(n), req.Flags) {
		s.cache.storeTooLarge.Add(1)
		if req.Mode == ModeSet {
			st.Drop(m.key)
		}
		return fail(replyTooLarge)
	}
	if int64(len(after)) < n+2 {
		return out, 0, needMore
	}
	if after[n] != '\r' || after[n+1] != '\n' {
		return append(out, replyBadChunk...), int(n) + 2, done
	}
	s.logFetchOf(m.key)
	res, cas := st.Set(m.key, after[:n], req)
	s.cache.countFailure(res)
	s.logStore(storeCmd(req), m.key, res, req.Exptime, int(n))
	var code string
	switch res {
	case Stored:
		if m.flag('q') {
			return out, int(n) + 2, done
		}
		code = "HD"
	case NotStored:
		code = "NS"
	case Exists:
		code = "EX"
	case NotFound:
		code = "NF"
	case TooLarge:
		return append(out, replyTooLarge...), int(n) + 2, done
	default:
		return append(out, replyNoMemory...), int(n) + 2, done
	}
	out = append(out, code...)
	// c reports the new unique, or 0 when nothing was stored, as memcached.
	out = m.appendRet(out, func(f byte, out []byte) ([]byte, bool) {
		if f != 'c' {
			return out, false
		}
		if res != Stored {
			cas = 0
		}
		return strconv.AppendUint(out, cas, 10), true
	})
	return out, int(n) + 2, done
}

// metaDelete runs md: HD, NF or EX (q: no HD).
func (s *Session) metaDelete(m *metaReq, out []byte) []byte {
	var cas uint64
	if m.flag('C') {
		var ok bool
		if cas, ok = parseUint(m.tok['C'], 64); !ok {
			return append(out, "CLIENT_ERROR bad token in command line format\r\n"...)
		}
	}
	var exptime int64
	if m.flag('T') {
		var ok bool
		if exptime, ok = parseExptime(m.tok['T']); !ok {
			return append(out, "CLIENT_ERROR bad token in command line format\r\n"...)
		}
	}
	var code string
	s.logFetchOf(m.key)
	var res Result
	if m.flag('I') {
		res = s.cache.store.Invalidate(m.key, m.flag('C'), cas, m.flag('T'), exptime)
	} else {
		res = s.cache.store.Delete(m.key, m.flag('C'), cas)
	}
	switch res {
	case Stored:
		if m.flag('q') {
			return out
		}
		code = "HD"
	case Exists:
		code = "EX"
	default:
		code = "NF"
	}
	out = append(out, code...)
	return m.appendRet(out, nil)
}

// metaArith runs ma: HD, or VA <len> with v followed by the number; NF on a
// miss unless N vivifies it with J (default 0); EX on a CAS mismatch (q: no
// success reply at all).
func (s *Session) metaArith(m *metaReq, out []byte) []byte {
	req := DeltaReq{Incr: true, Delta: 1}
	for _, f := range []byte{'D', 'J', 'C'} {
		if !m.flag(f) {
			continue
		}
		v, ok := parseUint(m.tok[f], 64)
		if !ok {
			return append(out, "CLIENT_ERROR invalid or duplicate flag\r\n"...)
		}
		switch f {
		case 'D':
			req.Delta = v
		case 'J':
			req.Initial = v
		case 'C':
			// memcached compares a unique only when it is not 0.
			req.HasCAS, req.CAS = v != 0, v
		}
	}
	if m.flag('N') {
		t, ok := parseExptime(m.tok['N'])
		if !ok {
			return append(out, "CLIENT_ERROR invalid or duplicate flag\r\n"...)
		}
		req.Vivify, req.Exptime = true, t
	}
	if m.flag('M') {
		mode := m.tok['M']
		if len(mode) != 1 {
			return append(out, "CLIENT_ERROR invalid mode for ma M token\r\n"...)
		}
		switch mode[0] {
		case 'I', 'i', '+':
			req.Incr = true
		case 'D', 'd', '-':
			req.Incr = false
		default:
			return append(out, "CLIENT_ERROR invalid mode for ma M token\r\n"...)
		}
	}
	st := s.cache.store
	res, v := st.Delta(m.key, req)
	quiet := m.flag('q')
	if res == Created {
		// memcached answers an item ma created even under q.
		res, quiet = Stored, false
	}
	touched := v.Exptime
	if res == Stored && m.flag('T') {
		if t, ok := parseExptime(m.tok['T']); ok {
			st.Touch(m.key, t, false)
			touched = st.absExptime(t, st.Now())
		}
	}
	switch res {
	case NonNumeric:
		return append(out, replyNonNumeric...)
	case NotFound:
		out = append(out, "NF"...)
		return m.appendRet(out, nil)
	case Exists:
		out = append(out, "EX"...)
		return m.appendRet(out, nil)
	case Stored:
	default:
		out = append(out, "NS"...)
		return m.appendRet(out, nil)
	}
	if quiet {
		// memcached suppresses the whole success reply, value included.
		return out
	}
	if m.flag('v') {
		out = append(out, "VA "...)
		out = strconv.AppendInt(out, int64(len(v.Value)), 10)
	} else {
		out = append(out, "HD"...)
	}
	now := st.Now()
	out = m.appendRet(out, func(f byte, out []byte) ([]byte, bool) {
		switch f {
		case 'c':
			return strconv.AppendUint(out, v.CAS, 10), true
		case 'T':
			// As in mg: a t before T reports the TTL the item had.
			v.Exptime = touched
			return out, false
		case 't':
			return appendTTL(out, v.Exptime, now), true
		}
		return out, false
	})
	if m.flag('v') {
		out = append(out, v.Value...)
		out = append(out, "\r\n"...)
	}
	return out
}

// metaDebug runs me: one line of the item's metadata, or EN.
func (s *Session) metaDebug(m *metaReq, out []byte) []byte {
	st := s.cache.store
	v, ok := st.Peek(m.key, s.sc.value)
	if !ok {
		return append(out, "EN\r\n"...)
	}
	now := st.Now()
	out = append(out, "ME "...)
	out = append(out, m.key...)
	out = append(out, " exp="...)
	if v.Exptime == 0 {
		out = append(out, "-1"...)
	} else {
		out = strconv.AppendInt(out, v.Exptime-now, 10)
	}
	out = append(out, " la="...)
	out = strconv.AppendInt(out, max(0, now-v.Access), 10)
	out = append(out, " cas="...)
	out = strconv.AppendUint(out, v.CAS, 10)
	out = append(out, " fetch="...)
	if v.Fetched {
		out = append(out, "yes"...)
	} else {
		out = append(out, "no"...)
	}
	out = append(out, " cls=1 size="...)
	out = strconv.AppendInt(out, itemTotal(len(m.key), len(v.Value), v.Flags), 10)
	return append(out, "\r\n"...)
}
