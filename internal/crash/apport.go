package crash

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Apport is what the name of a file in Ubuntu's /var/crash says about an
// apport report.
type Apport struct {
	// Kernel is set for linux-image-<release>-<stamp>.0.crash, the report
	// apport builds from a kdump-tools dump.
	Kernel bool
	// Release is the kernel release (uname -r) of a kernel report.
	Release string
	// Time is the dump stamp of a kernel report, read as UTC.
	Time    time.Time
	HasTime bool
	// Executable is the program path of a user-space crash, rebuilt from
	// the name by turning '_' back into '/'. The mapping is lossy (a '_' in
	// the original path also becomes '/'); ExecutablePath: in the report,
	// see ParseApportHeader, is exact.
	Executable string
	// Package is the name of a report not named after a path, such as the
	// <package>.0.crash apt writes when a package fails to install.
	Package string
	// UID is the user the report belongs to (0 for kernel reports).
	UID int
	// Marker is "upload" or "uploaded" for the marker files apport and
	// whoopsie put beside a report, "" for the report itself.
	Marker string
}

// ParseApportName recognises an apport report or its upload marker.
func ParseApportName(name string) (Apport, bool) {
	var a Apport
	if len(name) > 255 {
		return a, false
	}
	base := name
	switch {
	case strings.HasSuffix(name, ".crash"):
		base = strings.TrimSuffix(name, ".crash")
	case strings.HasSuffix(name, ".uploaded"):
		base, a.Marker = strings.TrimSuffix(name, ".uploaded"), "uploaded"
	case strings.HasSuffix(name, ".upload"):
		base, a.Marker = strings.TrimSuffix(name, ".upload"), "upload"
	default:
		return a, false
	}
	dot := strings.LastIndexByte(base, '.')
	if dot <= 0 {
		return a, false
	}
	uid, ok := parseSmallUint(base[dot+1:], 10)
	if !ok || uid > 1<<31-1 {
		return a, false
	}
	a.UID = int(uid)
	stem := base[:dot]
	if rest, ok := strings.CutPrefix(stem, "linux-image-"); ok && a.UID == 0 && rest != "" {
		a.Kernel = true
		a.Release = rest
		if i := len(rest) - len(debianStamp) - 1; i > 0 && rest[i] == '-' {
			if t, ok := parseStamp(debianStamp, rest[i+1:]); ok {
				a.Release, a.Time, a.HasTime = rest[:i], t, true
			}
		}
		return a, true
	}
	if strings.HasPrefix(stem, "_") {
		a.Executable = strings.ReplaceAll(stem, "_", "/")
	} else {
		a.Package = stem
	}
	return a, true
}

// parseSmallUint parses 1..maxDigits decimal digits.
func parseSmallUint(s string, maxDigits int) (uint64, bool) {
	if s == "" || len(s) > maxDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// apportHeaderMax bounds how much of a report ParseApportHeader looks at:
// the header fields come first, the core dump and logs later.
const apportHeaderMax = 64 << 10

// ParseApportHeader reads ExecutablePath: and Date: from the start of an
// apport report (RFC-822 style "Key: value" lines; continuation lines begin
// with a space). Give it the first few KiB of the file.
func ParseApportHeader(b []byte) (exe, date string) {
	if len(b) > apportHeaderMax {
		b = b[:apportHeaderMax]
	}
	for len(b) > 0 && (exe == "" || date == "") {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimRight(line, "\r")
		if v, ok := bytes.CutPrefix(line, []byte("ExecutablePath:")); ok && exe == "" {
			exe = cleanValue(v, 1024)
		} else if v, ok := bytes.CutPrefix(line, []byte("Date:")); ok && date == "" {
			date = cleanValue(v, 64)
		}
	}
	return exe, date
}

// cleanValue trims, drops control bytes and invalid UTF-8, and caps at max bytes.
func cleanValue(v []byte, max int) string {
	s := strings.ToValidUTF8(string(bytes.TrimSpace(v)), "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return capString(s, max)
}

// capString cuts s to at most max bytes without splitting a UTF-8 sequence.
func capString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}

const (
	// maxEmbeddedLog caps the decompressed kernel log taken from an apport
	// kernel report; only its end is kept, where the crash is.
	maxEmbeddedLog = MaxClassifyBytes
	// maxInflate bounds how much a compressed embedded log may inflate to.
	maxInflate = 16 << 20
)

// apportKernelLog returns the kernel log embedded in (the end of) an apport
// kernel report: the VmCoreDmesg: field, either plain text on indented
// continuation lines or, as apport writes file contents, "base64" followed
// by one independently encoded block per line that together form a gzip
// stream. Only the last maxEmbeddedLog bytes are kept.
func apportKernelLog(b []byte) []byte {
	const key = "VmCoreDmesg:"
	i := bytes.Index(b, []byte("\n"+key))
	switch {
	case i >= 0:
		b = b[i+1+len(key):]
	case bytes.HasPrefix(b, []byte(key)):
		b = b[len(key):]
	default:
		return nil
	}
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	var lines [][]byte
	for len(rest) > 0 && rest[0] == ' ' {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		lines = append(lines, line[1:])
	}
	if string(bytes.TrimSpace(first)) != "base64" {
		out := append([]byte(nil), bytes.TrimSpace(first)...)
		for _, l := range lines {
			out = append(out, '\n')
			out = append(out, l...)
		}
		return lastBytes(out, maxEmbeddedLog)
	}
	var gz []byte
	for _, l := range lines {
		dec, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(l)))
		if err != nil {
			break
		}
		gz = append(gz, dec...)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil
	}
	// A ring of the last maxEmbeddedLog bytes, inflating no more than
	// maxInflate in all; a cut or corrupt stream keeps what came out.
	var out []byte
	buf := make([]byte, 32<<10)
	total := 0
	for total < maxInflate {
		n, err := zr.Read(buf)
		total += n
		out = lastBytes(append(out, buf[:n]...), maxEmbeddedLog)
		if err != nil {
			break
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// lastBytes keeps the last n bytes of b, in b's own array.
func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:0], b[len(b)-n:]...)
	}
	return b
}
