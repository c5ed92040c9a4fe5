// Package kmsg reads the kernel log through /dev/kmsg: it parses records,
// classifies the messages that matter for crash readiness (OOM kills, oopses,
// lockups, hung tasks, I/O, filesystem and dm-thin errors), follows the
// device across restarts with a small state file so that every event is
// counted once (Follower), and counts the events, per cgroup with
// retention and a cap (Tally), into snapshots a collector maps to metrics.
package kmsg

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// ErrMalformed is wrapped by every ParseRecord error.
var ErrMalformed = errors.New("malformed kmsg record")

// MaxRecordSize bounds the input ParseRecord accepts; the kernel's own limit
// for one /dev/kmsg record is 8 KiB (CONSOLE_EXT_LOG_MAX).
const MaxRecordSize = 64 << 10

// Facility 0 is the kernel itself. Userspace writes to /dev/kmsg get
// LOG_USER (1) or whatever non-zero facility it chose; the kernel refuses
// to let userspace claim facility 0, so it tells kernel messages from
// forged ones.
const FacilityKernel = 0

// Record is one /dev/kmsg record.
type Record struct {
	Priority      int    // syslog level 0 (emerg) … 7 (debug)
	Facility      int    // 0 = kernel
	Seq           uint64 // 64-bit sequence number, 0 at boot
	TimestampUsec uint64 // monotonic microseconds since boot
	Flags         byte   // '-' normal, 'c' continuation start, '+' continuation
	Message       string // message text with \xNN escapes decoded
	// Dict holds the continuation lines (" SUBSYSTEM=scsi", " DEVICE=+scsi:0:0:0:0");
	// nil for the common record without any.
	Dict map[string]string
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// ParseRecord parses one record as returned by a single read(2) of /dev/kmsg:
//
//	<prio+facility*8>,<seq>,<timestamp_usec>,<flags>[,more];<message>\n
//	 KEY=VALUE\n ...
//
// Fields after flags (e.g. caller=T123 with CONFIG_PRINTK_CALLER) are ignored.
func ParseRecord(b []byte) (Record, error) {
	var r Record
	if len(b) == 0 {
		return r, malformed("empty")
	}
	if len(b) > MaxRecordSize {
		return r, malformed("record of %d bytes exceeds %d", len(b), MaxRecordSize)
	}
	semi := -1
	for i, c := range b {
		if c == ';' {
			semi = i
			break
		}
		if c == '\n' {
			break
		}
	}
	if semi < 0 {
		return r, malformed("no ';' after the header")
	}
	hdr := b[:semi]
	var fields [4][]byte
	n := 0
	start := 0
	for i := 0; i <= len(hdr) && n < 4; i++ {
		if i == len(hdr) || hdr[i] == ',' {
			fields[n] = hdr[start:i]
			n++
			start = i + 1
		}
	}
	if n < 4 {
		return r, malformed("header %s has %d fields, want at least 4", fsutil.Excerpt(string(hdr)), n)
	}
	pf, ok := parseUint(fields[0])
	if !ok || pf > 1<<20 {
		return r, malformed("bad priority %s", fsutil.Excerpt(string(fields[0])))
	}
	r.Priority = int(pf & 7)
	r.Facility = int(pf >> 3)
	if r.Seq, ok = parseUint(fields[1]); !ok {
		return r, malformed("bad sequence number %s", fsutil.Excerpt(string(fields[1])))
	}
	if r.TimestampUsec, ok = parseUint(fields[2]); !ok {
		return r, malformed("bad timestamp %s", fsutil.Excerpt(string(fields[2])))
	}
	if len(fields[3]) == 0 {
		return r, malformed("empty flags")
	}
	r.Flags = fields[3][0]

	rest := b[semi+1:]
	end := indexByte(rest, '\n')
	var msg, dict []byte
	if end < 0 {
		msg = rest // tolerate a missing final newline (records cut from files)
	} else {
		msg, dict = rest[:end], rest[end+1:]
	}
	r.Message = unescape(msg)

	for len(dict) > 0 {
		if dict[0] != ' ' {
			return r, malformed("continuation line does not start with a space")
		}
		line := dict[1:]
		if e := indexByte(line, '\n'); e >= 0 {
			line, dict = line[:e], line[e+1:]
		} else {
			dict = nil
		}
		eq := indexByte(line, '=')
		if eq <= 0 {
			return r, malformed("continuation line %s is not KEY=VALUE", fsutil.Excerpt(string(line)))
		}
		if r.Dict == nil {
			r.Dict = make(map[string]string, 2)
		}
		r.Dict[string(line[:eq])] = unescape(line[eq+1:])
	}
	return r, nil
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b), 10, 64) // no allocation for the conversion
	return v, err == nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape decodes the kernel's \xNN escapes (used for bytes < 0x20, >= 0x7f
// and the backslash itself). A backslash not followed by xNN is kept as is.
func unescape(b []byte) string {
	if indexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			hi, ok1 := unhex(b[i+2])
			lo, ok2 := unhex(b[i+3])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 3
				continue
			}
		}
		out = append(out, b[i])
	}
	return string(out)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// SplitRecords splits a recorded stream (records as /dev/kmsg returns them,
// concatenated) into single records: a record starts at every line that does
// not begin with a space. Used to replay testdata and captured logs.
func SplitRecords(data []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i < len(data); {
		e := indexByte(data[i:], '\n')
		next := len(data)
		if e >= 0 {
			next = i + e + 1
		}
		switch data[i] {
		case '\n': // blank line: ends the current record
			if start >= 0 {
				out = append(out, data[start:i])
				start = -1
			}
		case ' ':
			if start < 0 {
				start = i // stray continuation: keep it so the parser reports it
			}
		default:
			if start >= 0 {
				out = append(out, data[start:i])
			}
			start = i
		}
		i = next
	}
	if start >= 0 {
		out = append(out, data[start:])
	}
	return out
}
