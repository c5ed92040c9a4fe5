package crash

import (
	"bytes"
	"strings"
)

// Class is the kind of a kernel crash, from a bounded set.
type Class string

const (
	ClassThinMetadataBug Class = "thin_metadata_bug"
	ClassKernelBug       Class = "kernel_bug"
	ClassGPF             Class = "general_protection_fault"
	ClassNullPointer     Class = "null_pointer_dereference"
	ClassPageFault       Class = "page_fault"
	ClassSoftLockup      Class = "soft_lockup"
	ClassHardLockup      Class = "hard_lockup"
	ClassHungTask        Class = "hung_task"
	ClassRCUStall        Class = "rcu_stall"
	ClassSysrq           Class = "sysrq"
	ClassOOMPanic        Class = "oom_panic"
	ClassOops            Class = "oops"
	ClassPanic           Class = "panic"
	ClassUnknown         Class = "unknown"
)

// Classes lists every Class, for exporting a zero for each.
var Classes = []Class{
	ClassThinMetadataBug, ClassKernelBug, ClassGPF, ClassNullPointer, ClassPageFault,
	ClassSoftLockup, ClassHardLockup, ClassHungTask, ClassRCUStall, ClassSysrq,
	ClassOOMPanic, ClassOops, ClassPanic, ClassUnknown,
}

// Reason is the classified cause of a kernel crash.
type Reason struct {
	Class Class
	// Summary is the most telling line, normalised so that the same crash
	// gives the same text on every host and boot: timestamps, addresses,
	// oops counters, CPU numbers, durations and task names/pids removed,
	// whitespace collapsed, at most MaxSummaryLen bytes.
	Summary string
	// Panic is the normalised reason of "Kernel panic - not syncing: <reason>".
	Panic string
	// Kernel is the release of the crashed kernel, from the "CPU: ... Comm:
	// ... Not tainted|Tainted: ... <release> #<build>" line.
	Kernel string
}

// MaxSummaryLen caps Reason.Summary and Reason.Panic.
const MaxSummaryLen = 120

// MaxClassifyBytes is how much of its input Classify looks at: the end,
// where the crash is.
const MaxClassifyBytes = 1 << 20

type event struct {
	class Class
	line  string // without the log prefix
	pos   int    // byte offset of the line in the input
}

// Classify reads the tail of a crashed kernel's log (vmcore-dmesg.txt,
// dmesg.<stamp>, a pstore dmesg record) and says why the kernel died.
//
// Precedence, decided so that the root cause wins over its consequences:
//  1. The first kernel death (kernel BUG, general protection fault, NULL
//     pointer dereference, page fault, or any other oops) before the panic
//     line; a BUG in drivers/md/persistent-data or dm-thin-metadata.c is
//     thin_metadata_bug. Later oopses and the "Fatal exception" panic that
//     follows are consequences. A SysRq crash trigger seen before that
//     death makes it sysrq (old kernels crash on SysRq-c with a NULL
//     pointer dereference).
//  2. Otherwise the panic reason: sysrq triggered crash, out of memory,
//     softlockup, hard LOCKUP, hung_task, RCU Stall; the detector's last
//     report before the panic is the summary. "Fatal exception" with its
//     oops cut off is oops; any other reason is panic.
//  3. Without a panic line: the first SysRq trigger, soft or hard lockup,
//     hung task or RCU stall report; then the pstore header (Panic#n → panic,
//     Oops#n → oops); else unknown.
func Classify(dmesg []byte) Reason {
	if len(dmesg) > MaxClassifyBytes {
		dmesg = dmesg[len(dmesg)-MaxClassifyBytes:]
		// The first line is cut; drop it.
		if i := bytes.IndexByte(dmesg, '\n'); i >= 0 {
			dmesg = dmesg[i+1:]
		} else {
			dmesg = nil
		}
	}
	var (
		firstDie, sysrq, firstWatch *event
		lastWatch                   = map[Class]*event{}
		panicLine, endMarker        string
		panicPos                    = -1
		pstoreWhy                   string
	)
	for pos := 0; pos < len(dmesg); {
		raw := dmesg[pos:]
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[:i]
		}
		linePos := pos
		pos += len(raw) + 1
		if len(raw) > 4096 {
			// printk caps a record at 1024 bytes; longer lines are not the
			// kernel's and are skipped rather than copied.
			continue
		}
		msg := stripPrefix(raw)
		if len(msg) == 0 {
			continue
		}
		if pstoreWhy == "" && linePos == 0 {
			pstoreWhy = pstoreHeader(msg)
		}
		if r, ok := bytes.CutPrefix(msg, []byte("Kernel panic - not syncing: ")); ok {
			if panicPos < 0 {
				panicPos = linePos
				panicLine = string(r)
			}
			continue
		}
		if r, ok := bytes.CutPrefix(msg, []byte("---[ end Kernel panic - not syncing: ")); ok {
			if endMarker == "" {
				endMarker = string(bytes.TrimSuffix(bytes.TrimSpace(r), []byte("]---")))
			}
			continue
		}
		if panicPos >= 0 {
			// Events after the panic are its aftermath.
			continue
		}
		c := lineClass(msg)
		if c == "" {
			continue
		}
		ev := &event{class: c, line: string(msg), pos: linePos}
		switch c {
		case ClassSysrq:
			if sysrq == nil {
				sysrq = ev
			}
			if firstWatch == nil {
				firstWatch = ev
			}
		case ClassSoftLockup, ClassHardLockup, ClassHungTask, ClassRCUStall:
			lastWatch[c] = ev
			if firstWatch == nil {
				firstWatch = ev
			}
		default:
			if firstDie == nil {
				firstDie = ev
			}
		}
	}
	if panicPos < 0 && endMarker != "" {
		panicLine = endMarker
	}
	hasPanic := panicPos >= 0 || endMarker != ""

	var r Reason
	var win *event
	switch {
	case firstDie != nil && sysrq != nil && sysrq.pos < firstDie.pos:
		win = sysrq
	case firstDie != nil:
		win = firstDie
	case hasPanic:
		c := panicClass(panicLine)
		switch c {
		case ClassSysrq:
			win = sysrq
		case ClassSoftLockup, ClassHardLockup, ClassHungTask, ClassRCUStall:
			win = lastWatch[c]
		}
		if win == nil {
			win = &event{class: c, line: "Kernel panic - not syncing: " + panicLine, pos: panicPos}
		}
	case firstWatch != nil:
		win = firstWatch
	}
	if hasPanic {
		r.Panic = normalizePanic(panicLine)
	}
	if win == nil {
		r.Class = ClassUnknown
		switch pstoreWhy {
		case "Panic":
			r.Class = ClassPanic
		case "Oops":
			r.Class = ClassOops
		}
		r.Kernel = findKernel(dmesg, 0)
		return r
	}
	r.Class = win.class
	r.Summary = normalizeSummary(win.line)
	from := win.pos
	if from < 0 {
		from = 0
	}
	r.Kernel = findKernel(dmesg, from)
	return r
}

// stripPrefix removes a syslog "<N>" level, a "[    1.234567]" timestamp
// and a CONFIG_PRINTK_CALLER "[T123]"/"[C3]" field, and surrounding blanks.
func stripPrefix(b []byte) []byte {
	b = bytes.TrimRight(b, "\r \t")
	if len(b) > 2 && b[0] == '<' {
		if i := bytes.IndexByte(b[:min(len(b), 6)], '>'); i > 1 && isDigits(string(b[1:i]), 4) {
			b = b[i+1:]
		}
	}
	for n := 0; n < 2 && len(b) > 0 && b[0] == '['; n++ {
		i := bytes.IndexByte(b[:min(len(b), 32)], ']')
		if i < 0 || !isStampField(b[1:i], n) {
			break
		}
		b = b[i+1:]
	}
	return bytes.TrimLeft(b, " \t")
}

// isStampField accepts "   12.345678" as the first bracket and a printk
// caller id ("   T123", "C3") as the second.
func isStampField(b []byte, n int) bool {
	b = bytes.TrimLeft(b, " ")
	if len(b) == 0 {
		return false
	}
	if n == 1 {
		if b[0] != 'T' && b[0] != 'C' {
			return false
		}
		b = b[1:]
		return len(b) > 0 && isDigits(string(b), 12)
	}
	dot := false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return true
}

// pstoreHeader returns "Panic", "Oops", ... for the "<why>#<n> Part<m>"
// header pstore puts at the start of a dmesg record.
func pstoreHeader(msg []byte) string {
	i := bytes.IndexByte(msg, '#')
	if i <= 0 || i > 16 || !bytes.Contains(msg[i:], []byte(" Part")) {
		return ""
	}
	return string(msg[:i])
}

var (
	bKernelBug = []byte("kernel BUG at ")
	bOopsPfx   = []byte("Oops: ")
	bGPF       = []byte("general protection fault")
)

// lineClass recognises one log message; "" when it is not a crash event.
func lineClass(msg []byte) Class {
	if i := bytes.Index(msg, bKernelBug); i >= 0 && (i == 0 || msg[i-1] == ' ') {
		file := msg[i+len(bKernelBug):]
		if bytes.HasPrefix(file, []byte("drivers/md/persistent-data/")) ||
			bytes.HasPrefix(file, []byte("drivers/md/dm-thin-metadata.c")) {
			return ClassThinMetadataBug
		}
		return ClassKernelBug
	}
	m := bytes.TrimPrefix(msg, bOopsPfx)
	if bytes.HasPrefix(m, bGPF) && isDieHeader(m) {
		return ClassGPF
	}
	switch {
	case bytes.HasPrefix(msg, []byte("BUG: kernel NULL pointer dereference")),
		bytes.HasPrefix(msg, []byte("BUG: unable to handle kernel NULL pointer dereference")),
		bytes.HasPrefix(msg, []byte("Unable to handle kernel NULL pointer dereference")):
		return ClassNullPointer
	case bytes.HasPrefix(msg, []byte("BUG: unable to handle page fault")),
		bytes.HasPrefix(msg, []byte("BUG: unable to handle kernel paging request")),
		bytes.HasPrefix(msg, []byte("Unable to handle kernel paging request")):
		return ClassPageFault
	case bytes.Contains(msg, []byte("BUG: soft lockup - CPU#")):
		return ClassSoftLockup
	case bytes.Contains(msg, []byte("Watchdog detected hard LOCKUP on cpu")):
		return ClassHardLockup
	case bytes.HasPrefix(msg, []byte("INFO: task ")) && bytes.Contains(msg, []byte(" blocked for more than ")):
		return ClassHungTask
	case bytes.Contains(msg, []byte("detected stalls on CPUs/tasks")),
		bytes.Contains(msg, []byte("self-detected stall on CPU")),
		bytes.Contains(msg, []byte("detected expedited stalls on CPUs/tasks")):
		return ClassRCUStall
	case isSysrqCrash(msg):
		return ClassSysrq
	}
	if !bytes.HasPrefix(msg, []byte("traps:")) && (isDieHeader(msg) || isDieHeader(m)) {
		return ClassOops
	}
	return ""
}

// isSysrqCrash matches "sysrq: Trigger a crash", "SysRq : Trigger a crash"
// and RHEL 8's "sysrq: SysRq : Trigger a crash".
func isSysrqCrash(msg []byte) bool {
	i := bytes.Index(msg, []byte("Trigger a crash"))
	if i < 0 {
		return false
	}
	p := msg[:i]
	return bytes.HasPrefix(p, []byte("sysrq: ")) || bytes.HasPrefix(p, []byte("SysRq : "))
}

// isDieHeader matches the x86 "<what>: %04lx [#%d]" and arm64 "Internal
// error: <what>: %x [#%d]" oops header lines.
func isDieHeader(m []byte) bool {
	i := bytes.Index(m, []byte(" [#"))
	if i < 0 {
		return false
	}
	j := bytes.LastIndex(m[:i], []byte(": "))
	if j <= 0 || !isHexBytes(m[j+2:i]) {
		return false
	}
	k := i + 3
	n := 0
	for k < len(m) && m[k] >= '0' && m[k] <= '9' {
		k++
		n++
	}
	return n > 0 && k < len(m) && m[k] == ']'
}

func isHexBytes(b []byte) bool {
	if len(b) == 0 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// panicClass maps the reason given to panic() to a class.
func panicClass(reason string) Class {
	switch {
	case strings.HasPrefix(reason, "sysrq triggered crash"):
		return ClassSysrq
	case strings.HasPrefix(reason, "Out of memory"),
		strings.HasPrefix(reason, "System is deadlocked on memory"):
		return ClassOOMPanic
	case strings.HasPrefix(reason, "softlockup: hung tasks"):
		return ClassSoftLockup
	case strings.HasPrefix(reason, "Hard LOCKUP"),
		strings.HasPrefix(reason, "Watchdog detected hard LOCKUP"):
		return ClassHardLockup
	case strings.HasPrefix(reason, "hung_task: blocked tasks"):
		return ClassHungTask
	case strings.HasPrefix(reason, "RCU Stall"):
		return ClassRCUStall
	case strings.Contains(reason, "Fatal exception"):
		return ClassOops
	}
	return ClassPanic
}

// findKernel returns the release from the first "CPU: ..." line at or after
// from, or before it when none follows.
func findKernel(dmesg []byte, from int) string {
	if k := scanKernel(dmesg[from:]); k != "" {
		return k
	}
	return scanKernel(dmesg[:from])
}

func scanKernel(b []byte) string {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > 4096 {
			continue
		}
		if k := kernelFromCPULine(stripPrefix(line)); k != "" {
			return k
		}
	}
	return ""
}

// kernelFromCPULine reads "CPU: 3 [UID: 0 ]PID: 1234 Comm: x [Kdump: loaded ]
// Not tainted|Tainted: <flags> <release> #<build>": the release is the token
// before the first token starting with '#' after the taint field.
func kernelFromCPULine(msg []byte) string {
	if !bytes.HasPrefix(msg, []byte("CPU: ")) || !bytes.Contains(msg, []byte(" Comm: ")) {
		return ""
	}
	i := bytes.Index(msg, []byte(" Not tainted "))
	if i >= 0 {
		i += len(" Not tainted ")
	} else if i = bytes.Index(msg, []byte(" Tainted: ")); i >= 0 {
		i += len(" Tainted: ")
	} else {
		return ""
	}
	prev := ""
	for _, f := range strings.Fields(string(msg[i:])) {
		if strings.HasPrefix(f, "#") {
			if validRelease(prev) {
				return prev
			}
			return ""
		}
		prev = f
	}
	return ""
}

func validRelease(s string) bool {
	if s == "" || len(s) > 64 || s[0] < '0' || s[0] > '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '+' || c == '~') {
			return false
		}
	}
	return true
}
