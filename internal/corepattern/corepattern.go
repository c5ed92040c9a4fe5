// Package corepattern classifies /proc/sys/kernel/core_pattern into a bounded
// set of core dump handlers and reads systemd-coredump's storage setting.
package corepattern

import (
	"path"
	"strings"
)

// Handler names. The set is closed so that it can be exported as a state set.
const (
	SystemdCoredump = "systemd-coredump"
	Apport          = "apport"
	ABRT            = "abrt"
	Pipe            = "pipe"
	Socket          = "socket"
	File            = "file"
	Disabled        = "disabled"
)

// MaxHelperLen caps Helper: the kernel limits core_pattern to 127 bytes, so
// anything longer did not come from the kernel, and the value may become a
// label.
const MaxHelperLen = 64

// scanLimit bounds the work on input that cannot be a real core_pattern.
const scanLimit = 4096

var handlers = []string{SystemdCoredump, Apport, ABRT, Pipe, Socket, File, Disabled}

// Handlers lists every name Classify can return, in a fixed order.
func Handlers() []string {
	return append([]string(nil), handlers...)
}

// Handler is where the kernel sends a core dump.
type Handler struct {
	// Name is one of Handlers().
	Name string
	// Helper is the basename of the pipe helper (capped at MaxHelperLen,
	// valid UTF-8); empty unless the pattern starts with '|' and names a
	// program.
	Helper string
}

// Classify names the handler a core_pattern value selects. A single trailing
// newline (as read from procfs) is ignored; other whitespace is kept, because
// the kernel only treats a pattern as a pipe or socket when '|' or '@' is
// its very first byte.
//
//   - "|helper args": classified by the basename of the first
//     whitespace-separated token after '|' (the kernel skips whitespace
//     there too): systemd-coredump, apport, abrt-hook-ccpp (abrt), otherwise
//     pipe.
//   - "@path" or "@@path": an AF_UNIX socket (kernel 6.16 and 6.17); on older
//     kernels the same text would be a relative file name.
//   - anything else: a file name pattern.
//
// Disabled means no dump can be stored anywhere: an empty pattern, a pipe
// with no helper, a pipe to true or false (which discard their input), to
// /dev/null or to a directory (which cannot be executed), and the file
// /dev/null. Classify sees
// only the pattern: with kernel.core_uses_pid=1 the kernel appends ".PID" to
// file patterns without %p, so "" and "/dev/null" then write ".PID" in the
// crashing process's working directory and "/dev/null.PID" respectively.
func Classify(pattern string) Handler {
	if len(pattern) > scanLimit {
		pattern = pattern[:scanLimit]
	}
	pattern = strings.TrimSuffix(pattern, "\n")
	switch {
	case pattern == "", pattern == "/dev/null":
		return Handler{Name: Disabled}
	case pattern[0] == '@':
		return Handler{Name: Socket}
	case pattern[0] != '|':
		return Handler{Name: File}
	}
	prog := firstToken(pattern[1:])
	if prog == "" {
		return Handler{Name: Disabled}
	}
	base := path.Base(prog)
	if base == "/" || base == "." || base == ".." {
		// A directory cannot be executed: the dump is lost.
		return Handler{Name: Disabled}
	}
	h := Handler{Helper: capHelper(base)}
	switch {
	case prog == "/dev/null", base == "false", base == "true":
		h.Name = Disabled
	case base == "systemd-coredump":
		h.Name = SystemdCoredump
	case base == "apport":
		h.Name = Apport
	case base == "abrt-hook-ccpp":
		h.Name = ABRT
	default:
		h.Name = Pipe
	}
	return h
}

// firstToken returns the first token of s, split on the bytes C isspace()
// accepts, as the kernel's argv splitting does.
func firstToken(s string) string {
	start := 0
	for start < len(s) && isSpace(s[start]) {
		start++
	}
	end := start
	for end < len(s) && !isSpace(s[end]) {
		end++
	}
	return s[start:end]
}

func isSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

func capHelper(s string) string {
	if len(s) > MaxHelperLen {
		s = s[:MaxHelperLen]
	}
	return strings.ToValidUTF8(s, "")
}
