package kmsg

import (
	"strconv"
	"strings"
)

// Kind is the bounded set of event kinds the classifier reports.
type Kind string

// Event kinds. KindNone means the message is not one we count.
const (
	KindNone         Kind = ""
	KindOOMKill      Kind = "oom_kill"
	KindForkRejected Kind = "fork_rejected"
	KindKernelBug    Kind = "kernel_bug"
	KindOops         Kind = "oops"
	KindGPF          Kind = "gpf"
	KindNullDeref    Kind = "null_deref"
	KindSoftLockup   Kind = "soft_lockup"
	KindHardLockup   Kind = "hard_lockup"
	KindHungTask     Kind = "hung_task"
	KindRCUStall     Kind = "rcu_stall"
	KindPanic        Kind = "panic"
	KindIOError      Kind = "io_error"
	KindFSError      Kind = "fs_error"
	KindDMThinError  Kind = "dm_thin_error"
	KindWarning      Kind = "warning"
)

// Kinds lists every kind except KindNone, so a collector can export zeros.
func Kinds() []Kind {
	return []Kind{KindOOMKill, KindForkRejected, KindKernelBug, KindOops, KindGPF,
		KindNullDeref, KindSoftLockup, KindHardLockup, KindHungTask, KindRCUStall,
		KindPanic, KindIOError, KindFSError, KindDMThinError, KindWarning}
}

// Constraint is the OOM kill's scope, from the kernel's enum oom_constraint.
type Constraint string

// OOM constraints. Unknown is used when the report that names it was
// rate-limited away or the kernel is too old to print it.
const (
	ConstraintUnknown      Constraint = "unknown"
	ConstraintMemcg        Constraint = "memcg"         // CONSTRAINT_MEMCG, or oom_memcg= present
	ConstraintGlobal       Constraint = "global"        // CONSTRAINT_NONE / global_oom
	ConstraintCpuset       Constraint = "cpuset"        // CONSTRAINT_CPUSET
	ConstraintMemoryPolicy Constraint = "memory_policy" // CONSTRAINT_MEMORY_POLICY (mbind)
)

// Constraints lists every constraint value.
func Constraints() []Constraint {
	return []Constraint{ConstraintUnknown, ConstraintMemcg, ConstraintGlobal, ConstraintCpuset, ConstraintMemoryPolicy}
}

// Sub-kinds of dm_thin_error (the pool's state change or failure).
const (
	DMThinLowWaterMark            = "low_water_mark"
	DMThinOutOfDataSpace          = "out_of_data_space"
	DMThinReadOnly                = "read_only"
	DMThinFailure                 = "failure" // PM_FAIL: all I/O fails
	DMThinDiscardPassdownDisabled = "discard_passdown_disabled"
	DMThinMetadataError           = "metadata_error"
)

// DMThinSubKinds lists the dm_thin_error sub-kinds.
func DMThinSubKinds() []string {
	return []string{DMThinLowWaterMark, DMThinOutOfDataSpace, DMThinReadOnly, DMThinFailure,
		DMThinDiscardPassdownDisabled, DMThinMetadataError}
}

// Sub-kinds of fs_error.
const (
	FSError      = "error"      // EXT4-fs error, BTRFS error/critical
	FSReadOnly   = "read_only"  // ext* remounted read-only after an error
	FSCorruption = "corruption" // XFS corruption / verifier reports
	FSShutdown   = "shutdown"   // XFS forced shutdown
)

// FSSubKinds lists the fs_error sub-kinds.
func FSSubKinds() []string { return []string{FSError, FSReadOnly, FSCorruption, FSShutdown} }

// Sub-kinds of io_error: the block layer's status (blk_status_to_str) for
// request errors, or "buffer" for the buffer cache's report.
const (
	IOStatusIO           = "io"
	IOStatusMedium       = "medium"
	IOStatusTarget       = "target"
	IOStatusNexus        = "nexus"
	IOStatusSpace        = "space"
	IOStatusTimeout      = "timeout"
	IOStatusProtection   = "protection"
	IOStatusTransport    = "transport"
	IOStatusNotSupported = "not_supported"
	IOStatusResource     = "resource"
	IOStatusOther        = "other"
	IOBuffer             = "buffer"
)

// IOSubKinds lists the io_error sub-kinds.
func IOSubKinds() []string {
	return []string{IOStatusIO, IOStatusMedium, IOStatusTarget, IOStatusNexus, IOStatusSpace,
		IOStatusTimeout, IOStatusProtection, IOStatusTransport, IOStatusNotSupported,
		IOStatusResource, IOStatusOther, IOBuffer}
}

// part marks OOM report lines that carry context but are not counted.
type part uint8

const (
	partNone         part = iota
	partOOMHeader         // "<comm> invoked oom-killer: ..." starts a report
	partOOMSummary        // 4.19+ "oom-kill:constraint=...,task_memcg=...,task=...,pid=..."
	partOOMTaskIn         // ≤4.18 "Task in X killed as a result of limit of Y"
	partOOMSacrifice      // ≤5.0 "<prefix>: Kill process N (comm) score S or sacrifice child"
	partOOMGroup          // "Tasks in X are going to be killed due to memory.oom.group set"
	partOOMSkip           // "<prefix>: OOM victim N (comm) is already exiting. Skip killing the task"
)

// Event is a classified kernel message. String fields are substrings of the
// message (no copies).
type Event struct {
	Kind Kind
	// Sub is the sub-kind for dm_thin_error, fs_error and io_error.
	Sub string
	// Cgroup is the victim's memory cgroup (oom_kill) or the forking task's
	// cgroup (fork_rejected), as the kernel printed it.
	Cgroup string
	// Constraint is set for oom_kill.
	Constraint Constraint
	// Comm and PID name the task: the OOM victim, the hung or spinning task.
	Comm string
	PID  int
	// Device is the block device or dm device (maj:min) named in the message.
	Device string
	// Seq and TimestampUsec are copied from the record by Classifier.Handle.
	Seq           uint64
	TimestampUsec uint64

	part part
}

// Classify matches one message against the pattern table. It is stateless:
// every line of a multi-line report is judged alone, so an OOM kill is
// reported here only on its "Killed process" line, and context lines (the
// oom-kill: summary, "Task in …") come back as KindNone. Use a Classifier
// to combine them.
func Classify(msg string) Event {
	if len(msg) < 8 {
		return Event{}
	}
	var ev Event
	switch msg[0] {
	case 'o':
		if strings.HasPrefix(msg, "oom-kill:") {
			return parseOOMSummary(msg[len("oom-kill:"):])
		}
	case 'T':
		if rest, ok := strings.CutPrefix(msg, "Task in "); ok {
			if i := strings.Index(rest, " killed as a result of limit of "); i >= 0 {
				return Event{part: partOOMTaskIn, Cgroup: rest[:i], Constraint: ConstraintMemcg}
			}
		} else if rest, ok := strings.CutPrefix(msg, "Tasks in "); ok {
			if i := strings.Index(rest, " are going to be killed due to memory.oom.group set"); i >= 0 {
				return Event{part: partOOMGroup, Cgroup: rest[:i]}
			}
		}
	case 'M':
		if rest, ok := strings.CutPrefix(msg, "Memory cgroup out of memory: "); ok {
			return classifyOOMAction(rest, ConstraintMemcg)
		}
	case 'O':
		if rest, ok := strings.CutPrefix(msg, "Out of memory"); ok {
			if r, ok := strings.CutPrefix(rest, ": "); ok {
				return classifyOOMAction(r, ConstraintGlobal)
			}
			if r, ok := strings.CutPrefix(rest, " (oom_kill_allocating_task): "); ok {
				return classifyOOMAction(r, ConstraintGlobal)
			}
			return Event{}
		}
		if rest, ok := strings.CutPrefix(msg, "Oops: "); ok {
			// ≥6.10 x86 prefixes every die() header with "Oops: ".
			if strings.HasPrefix(rest, "general protection fault") {
				return Event{Kind: KindGPF}
			}
			return Event{Kind: KindOops}
		}
	case 'K':
		if strings.HasPrefix(msg, "Killed process ") {
			return classifyOOMAction(msg, ConstraintUnknown)
		}
		if strings.HasPrefix(msg, "Kernel panic - not syncing") {
			return Event{Kind: KindPanic}
		}
	case 'c':
		if rest, ok := strings.CutPrefix(msg, "cgroup: fork rejected by pids controller in "); ok {
			return Event{Kind: KindForkRejected, Cgroup: strings.TrimSpace(rest)}
		}
	case 'k':
		if strings.HasPrefix(msg, "kernel BUG at ") {
			return Event{Kind: KindKernelBug}
		}
	case 'I':
		if rest, ok := strings.CutPrefix(msg, "INFO: "); ok {
			if ev, ok := classifyINFO(rest); ok {
				return ev
			}
		} else if strings.HasPrefix(msg, "Internal error: Oops") { // arm64 die()
			return Event{Kind: KindOops}
		}
	case 'i':
		// Pre-6.10 x86 die() header after BUG()/UD2.
		if strings.HasPrefix(msg, "invalid opcode: ") && strings.Contains(msg, " [#") {
			return Event{Kind: KindOops}
		}
	case 'g':
		if strings.HasPrefix(msg, "general protection fault") {
			return Event{Kind: KindGPF}
		}
	case 'B':
		if rest, ok := strings.CutPrefix(msg, "BUG: "); ok {
			switch {
			case strings.HasPrefix(rest, "kernel NULL pointer dereference"),
				strings.HasPrefix(rest, "unable to handle kernel NULL pointer dereference"):
				return Event{Kind: KindNullDeref}
			case strings.HasPrefix(rest, "soft lockup"):
				return softLockup(rest)
			}
			return Event{}
		}
		if rest, ok := strings.CutPrefix(msg, "Buffer I/O error on dev"); ok {
			// "on dev %pg," (3.x+) or "on device %s," (older).
			rest = strings.TrimPrefix(rest, "ice")
			return Event{Kind: KindIOError, Sub: IOBuffer, Device: fieldUntil(strings.TrimPrefix(rest, " "), ',')}
		}
		if strings.HasPrefix(msg, "BTRFS") {
			return classifyBTRFS(msg[len("BTRFS"):])
		}
	case 'U':
		if strings.HasPrefix(msg, "Unable to handle kernel NULL pointer dereference") { // arm64, arm
			return Event{Kind: KindNullDeref}
		}
	case 'w':
		if rest, ok := strings.CutPrefix(msg, "watchdog: "); ok {
			return classifyWatchdog(rest)
		}
	case 'N':
		if rest, ok := strings.CutPrefix(msg, "NMI watchdog: "); ok {
			return classifyWatchdog(rest)
		}
	case 'W':
		if strings.HasPrefix(msg, "WARNING: CPU: ") || strings.HasPrefix(msg, "WARNING: at ") {
			return Event{Kind: KindWarning}
		}
		if strings.HasPrefix(msg, "Watchdog detected hard LOCKUP") {
			return Event{Kind: KindHardLockup}
		}
	case 'r':
		if rest, ok := strings.CutPrefix(msg, "rcu: INFO: "); ok {
			if ev, ok := classifyINFO(rest); ok {
				return ev
			}
		}
	case 'E':
		if strings.HasPrefix(msg, "EXT") {
			if ev, ok := classifyExt(msg); ok {
				return ev
			}
		}
	case 'X':
		if rest, ok := strings.CutPrefix(msg, "XFS ("); ok {
			return classifyXFS(rest)
		}
	case 'd':
		if rest, ok := strings.CutPrefix(msg, "device-mapper: "); ok {
			return classifyDM(rest)
		}
	}
	if i := strings.Index(msg, " invoked oom-killer: "); i > 0 {
		return Event{part: partOOMHeader, Comm: msg[:i]}
	}
	if ev, ok := classifyBlockError(msg); ok {
		return ev
	}
	return ev
}

// classifyOOMAction handles the lines after the OOM report: the counted
// "Killed process" line in its historical shapes, and the context lines
// "Kill process … or sacrifice child" and "OOM victim … is already exiting".
func classifyOOMAction(s string, c Constraint) Event {
	if rest, ok := strings.CutPrefix(s, "Killed process "); ok {
		pid, comm, ok := parseKilled(rest)
		if !ok {
			return Event{}
		}
		return Event{Kind: KindOOMKill, PID: pid, Comm: comm, Constraint: c}
	}
	if rest, ok := strings.CutPrefix(s, "Kill process "); ok {
		// "Kill process 4321 (stress) score 1000 or sacrifice child"
		pidStr, after, ok := strings.Cut(rest, " (")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil {
			return Event{}
		}
		comm := after
		if i := strings.LastIndex(after, ") score "); i >= 0 {
			comm = after[:i]
		}
		return Event{part: partOOMSacrifice, PID: pid, Comm: comm, Constraint: c}
	}
	if rest, ok := strings.CutPrefix(s, "OOM victim "); ok && strings.HasSuffix(s, "is already exiting. Skip killing the task") {
		pidStr, _, _ := strings.Cut(rest, " ")
		if pid, err := strconv.Atoi(pidStr); err == nil {
			return Event{part: partOOMSkip, PID: pid}
		}
	}
	return Event{}
}

// parseKilled reads what follows "Killed process ":
//
//	7161 (python3) total-vm:278712kB, …             (all upstream kernels)
//	26982 (impalad), UID 980, total-vm:…            (RHEL 7)
//	215701, UID 679, (java) total-vm:…              (RHEL 6)
//	123 (foo)                                       (2.6 era, no sizes)
//
// comm may contain spaces and parentheses, so it is delimited by the last
// ") total-vm:" rather than the first ")".
func parseKilled(s string) (int, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 10 {
		return 0, "", false
	}
	pid, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, "", false
	}
	rest := s[i:]
	if r, ok := strings.CutPrefix(rest, ", UID "); ok { // RHEL 6
		j := strings.Index(r, ", (")
		k := strings.LastIndex(r, ") total-vm:")
		if j < 0 || k < j+3 {
			return pid, "", true
		}
		return pid, r[j+3 : k], true
	}
	r, ok := strings.CutPrefix(rest, " (")
	if !ok {
		return pid, "", true
	}
	if k := strings.LastIndex(r, ") total-vm:"); k >= 0 {
		return pid, r[:k], true
	}
	if k := strings.LastIndex(r, "), UID "); k >= 0 {
		return pid, r[:k], true
	}
	r = strings.TrimSuffix(r, ".")
	if k := strings.LastIndexByte(r, ')'); k >= 0 {
		return pid, r[:k], true
	}
	return pid, "", true
}

// parseOOMSummary reads the one-line summary (4.19+):
//
//	constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/fxoom,task_memcg=/fxoom,task=python3,pid=7161,uid=0
//	constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/java.service,task=java,pid=2211,uid=994
//
// Paths and comm may contain commas, so task, pid and uid are taken from the
// right and task_memcg between its key and ",task=".
func parseOOMSummary(s string) Event {
	ev := Event{part: partOOMSummary}
	tail := s
	if i := strings.LastIndex(tail, ",uid="); i >= 0 {
		tail = tail[:i]
	}
	if i := strings.LastIndex(tail, ",pid="); i >= 0 {
		// Early 4.19 printed pid=%5d: leading spaces.
		if pid, err := strconv.Atoi(strings.TrimSpace(tail[i+len(",pid="):])); err == nil {
			ev.PID = pid
		}
		tail = tail[:i]
	}
	taskAt := strings.LastIndex(tail, ",task=")
	if taskAt >= 0 {
		ev.Comm = tail[taskAt+len(",task="):]
		tail = tail[:taskAt]
	}
	head := tail
	if i := strings.Index(tail, ",task_memcg="); i >= 0 {
		ev.Cgroup = tail[i+len(",task_memcg="):]
		head = tail[:i]
	}
	constraint := ""
	if r, ok := strings.CutPrefix(s, "constraint="); ok {
		constraint, _, _ = strings.Cut(r, ",")
	}
	switch {
	case strings.Contains(head, ",oom_memcg="):
		// Early 5.x printed CONSTRAINT_NONE for memcg OOMs; oom_memcg= is reliable.
		ev.Constraint = ConstraintMemcg
	case constraint == "CONSTRAINT_MEMCG":
		ev.Constraint = ConstraintMemcg
	case constraint == "CONSTRAINT_NONE":
		ev.Constraint = ConstraintGlobal
	case constraint == "CONSTRAINT_CPUSET":
		ev.Constraint = ConstraintCpuset
	case constraint == "CONSTRAINT_MEMORY_POLICY":
		ev.Constraint = ConstraintMemoryPolicy
	default:
		ev.Constraint = ConstraintUnknown
	}
	return ev
}

// classifyINFO handles "INFO: …" (hung task, RCU stalls; with or without the
// "rcu: " prefix that pr_fmt added in 4.19).
func classifyINFO(s string) (Event, bool) {
	if rest, ok := strings.CutPrefix(s, "task "); ok {
		// "task kworker/1:2:123 blocked for more than 120 seconds."
		i := strings.Index(rest, " blocked for more than ")
		if i < 0 {
			return Event{}, false
		}
		comm, pid := splitCommPID(rest[:i])
		return Event{Kind: KindHungTask, Comm: comm, PID: pid}, true
	}
	// "rcu_sched detected stalls on CPUs/tasks:", "rcu_preempt self-detected
	// stall on CPU", "rcu_sched detected expedited stalls on CPUs/tasks: {".
	if strings.Contains(s, "detected stall") || strings.Contains(s, "detected expedited stall") {
		return Event{Kind: KindRCUStall}, true
	}
	return Event{}, false
}

func classifyWatchdog(s string) Event {
	if rest, ok := strings.CutPrefix(s, "BUG: soft lockup"); ok {
		return softLockup(rest)
	}
	// "Watchdog detected hard LOCKUP on cpu 3", ≥6.5 "CPU3: Watchdog detected …".
	if strings.Contains(s, "Watchdog detected hard LOCKUP") {
		return Event{Kind: KindHardLockup}
	}
	return Event{}
}

// softLockup extracts the task from "… stuck for 26s! [insmod:458]".
func softLockup(s string) Event {
	ev := Event{Kind: KindSoftLockup}
	if i := strings.LastIndex(s, "! ["); i >= 0 && strings.HasSuffix(s, "]") {
		ev.Comm, ev.PID = splitCommPID(s[i+3 : len(s)-1])
	}
	return ev
}

// splitCommPID splits "kworker/1:2:123" at the last colon; comm may hold colons.
func splitCommPID(s string) (string, int) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0
	}
	pid, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s, 0
	}
	return s[:i], pid
}

// classifyExt handles ext2/3/4: "EXT4-fs error (device sda1): …" and
// "EXT4-fs (sda1): Remounting filesystem read-only".
func classifyExt(msg string) (Event, bool) {
	if len(msg) < 8 || msg[3] < '2' || msg[3] > '4' || msg[4:7] != "-fs" {
		return Event{}, false
	}
	rest := msg[7:]
	if r, ok := strings.CutPrefix(rest, " error (device "); ok {
		return Event{Kind: KindFSError, Sub: FSError, Device: fieldUntil(r, ')')}, true
	}
	if r, ok := strings.CutPrefix(rest, " ("); ok {
		dev, after, ok := strings.Cut(r, "): ")
		if ok && strings.Contains(after, "emounting filesystem read-only") {
			return Event{Kind: KindFSError, Sub: FSReadOnly, Device: dev}, true
		}
	}
	return Event{}, false
}

// classifyXFS handles what follows "XFS (". One forced shutdown prints two
// lines on old kernels (xfs_do_force_shutdown(…) called from line …, then
// "… Detected.  Shutting down filesystem"); only the first is counted there,
// and on newer kernels the single "… detected at …  Shutting down filesystem."
// or "Filesystem has been shut down due to log error" line.
func classifyXFS(s string) Event {
	dev, rest, ok := strings.Cut(s, "): ")
	if !ok {
		return Event{}
	}
	switch {
	case strings.HasPrefix(rest, "Corruption detected. Unmount and run xfs_repair"),
		strings.HasPrefix(rest, "Metadata corruption detected at "),
		strings.HasPrefix(rest, "Metadata CRC error detected at "):
		return Event{Kind: KindFSError, Sub: FSCorruption, Device: dev}
	case strings.HasPrefix(rest, "xfs_do_force_shutdown("),
		strings.HasPrefix(rest, "Filesystem has been shut down due to log error"):
		return Event{Kind: KindFSError, Sub: FSShutdown, Device: dev}
	case strings.Contains(rest, ") detected at ") && strings.Contains(rest, "Shutting down filesystem"):
		return Event{Kind: KindFSError, Sub: FSShutdown, Device: dev}
	}
	return Event{}
}

// classifyBTRFS handles what follows "BTRFS": " error (device sda1): …",
// " critical (device sda1): …", ": error (device sda1) in …" (older), and
// ≥6.x " error (device sda1 state EA): …".
func classifyBTRFS(s string) Event {
	var r string
	var ok bool
	if r, ok = strings.CutPrefix(s, " error (device "); !ok {
		if r, ok = strings.CutPrefix(s, " critical (device "); !ok {
			if r, ok = strings.CutPrefix(s, ": error (device "); !ok {
				return Event{}
			}
		}
	}
	dev := fieldUntil(r, ')')
	if i := strings.IndexByte(dev, ' '); i >= 0 {
		dev = dev[:i]
	}
	return Event{Kind: KindFSError, Sub: FSError, Device: dev}
}

// classifyDM handles what follows "device-mapper: ".
func classifyDM(s string) Event {
	if rest, ok := strings.CutPrefix(s, "thin: "); ok {
		dev := ""
		// DMERR("%s: …", dm_device_name(pool_md)) prints the pool's maj:min.
		if i := strings.Index(rest, ": "); i > 0 && isMajMin(rest[:i]) {
			dev, rest = rest[:i], rest[i+2:]
		}
		ev := Event{Kind: KindDMThinError, Device: dev}
		switch {
		case strings.HasPrefix(rest, "reached low water mark for "):
			ev.Sub = DMThinLowWaterMark
		case strings.HasPrefix(rest, "switching pool to out-of-data-space"):
			ev.Sub = DMThinOutOfDataSpace
		case strings.HasPrefix(rest, "switching pool to read-only mode"):
			ev.Sub = DMThinReadOnly
		case strings.HasPrefix(rest, "switching pool to failure mode"):
			ev.Sub = DMThinFailure
		case strings.HasPrefix(rest, "Data device (") && strings.Contains(rest, "Disabling discard passdown"):
			ev.Sub = DMThinDiscardPassdownDisabled
			if ev.Device == "" {
				ev.Device = fieldUntil(rest[len("Data device ("):], ')')
			}
		case strings.HasPrefix(rest, "metadata operation '"), strings.Contains(rest, " failed: error = "):
			ev.Sub = DMThinMetadataError
		default:
			return Event{}
		}
		return ev
	}
	// The persistent-data library under the thin pool's metadata.
	if strings.HasPrefix(s, "space map ") || strings.HasPrefix(s, "btree spine: ") ||
		strings.HasPrefix(s, "block manager: ") || strings.HasPrefix(s, "thin metadata: ") {
		return Event{Kind: KindDMThinError, Sub: DMThinMetadataError}
	}
	return Event{}
}

func isMajMin(s string) bool {
	maj, min, ok := strings.Cut(s, ":")
	return ok && isDigits(maj) && isDigits(min)
}

func isDigits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// classifyBlockError matches the block layer's request error,
//
//	[blk_update_request: |print_req_error: |end_request: ]<status> error, dev sda, sector 123 …
//
// where <status> comes from blk_status_to_str ("I/O", "critical medium", …).
func classifyBlockError(msg string) (Event, bool) {
	i := strings.Index(msg, " error, dev ")
	if i <= 0 {
		return Event{}, false
	}
	status := msg[:i]
	for _, p := range []string{"blk_update_request: ", "print_req_error: ", "end_request: "} {
		if r, ok := strings.CutPrefix(status, p); ok {
			status = r
			break
		}
	}
	if len(status) == 0 || len(status) > 40 {
		return Event{}, false
	}
	for j := 0; j < len(status); j++ {
		c := status[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ' ' || c == '/' || c == '\'') {
			return Event{}, false
		}
	}
	rest := msg[i+len(" error, dev "):]
	dev := fieldUntil(rest, ',')
	if len(dev) == len(rest) || !strings.HasPrefix(rest[len(dev):], ", sector ") {
		return Event{}, false
	}
	return Event{Kind: KindIOError, Sub: ioStatus(status), Device: dev}, true
}

func ioStatus(s string) string {
	switch s {
	case "I/O":
		return IOStatusIO
	case "critical medium":
		return IOStatusMedium
	case "critical target":
		return IOStatusTarget
	case "critical nexus":
		return IOStatusNexus
	case "critical space allocation":
		return IOStatusSpace
	case "timeout":
		return IOStatusTimeout
	case "protection":
		return IOStatusProtection
	case "recoverable transport":
		return IOStatusTransport
	case "operation not supported":
		return IOStatusNotSupported
	case "device resource", "zone resource", "zone active resource", "zone open resource":
		return IOStatusResource
	}
	return IOStatusOther
}

func fieldUntil(s string, c byte) string {
	if i := strings.IndexByte(s, c); i >= 0 {
		return s[:i]
	}
	return s
}
