package kmsg

// crashFoldWindow is how many records after a "kernel BUG at" or NULL
// dereference line the die() header ("Oops: …", "invalid opcode: …",
// "Internal error: Oops …") is taken to belong to the same crash. The
// lines between are "#PF:", "PGD …" and "IP:" — a handful.
const crashFoldWindow = 8

// Classifier combines the lines of multi-line kernel reports so that each
// incident is counted once. It is not safe for concurrent use.
//
// OOM kills are counted on the "Killed process" line: it is the one line
// __oom_kill_process prints for every victim, never rate-limited, while the
// report before it (header, memory dump, the oom-kill: summary) is skipped
// under oom_rs rate limiting, and a summary may be followed by "OOM victim …
// is already exiting. Skip killing the task" instead of a kill. The
// victim's cgroup and constraint are taken from the report that precedes the
// kill when there is one:
//
//   - 4.19+: the oom-kill: summary (matched by pid);
//   - ≤4.18: "Task in X killed as a result of limit of Y" and the
//     "Kill process … or sacrifice child" line, whose victim may be a child
//     with another pid;
//   - memory.oom.group kills: "Tasks in X are going to be killed …" names
//     the cgroup of the further victims.
//
// A crash prints a cause line ("kernel BUG at", "BUG: kernel NULL pointer
// dereference") followed by a die() header; the header is folded into the
// cause so the crash counts once under its most specific kind. A general
// protection fault is itself the die() header and counts as gpf.
type Classifier struct {
	oom oomContext

	causeSeq uint64
	causeSet bool
}

type oomContext struct {
	valid      bool
	used       bool // a kill was attributed to this report
	pid        int  // 0 when the report named no pid (Task in …)
	sacrifice  bool // ≤5.0: the victim may be a child of pid
	cgroup     string
	constraint Constraint
	group      string // memory.oom.group cgroup
}

// NewClassifier returns a Classifier with no report in progress.
func NewClassifier() *Classifier { return &Classifier{} }

// Handle classifies one record. It returns false for records that are not
// counted: context lines, uninteresting messages and messages from
// userspace (facility ≠ 0, which userspace cannot forge).
func (c *Classifier) Handle(r Record) (Event, bool) {
	if r.Facility != FacilityKernel {
		return Event{}, false
	}
	ev := Classify(r.Message)
	ev.Seq, ev.TimestampUsec = r.Seq, r.TimestampUsec
	switch ev.part {
	case partOOMHeader:
		c.oom = oomContext{}
		return Event{}, false
	case partOOMSummary:
		c.oom = oomContext{valid: true, pid: ev.PID, cgroup: ev.Cgroup, constraint: ev.Constraint}
		return Event{}, false
	case partOOMTaskIn:
		c.oom = oomContext{valid: true, cgroup: ev.Cgroup, constraint: ConstraintMemcg}
		return Event{}, false
	case partOOMSacrifice:
		if !c.oom.valid || c.oom.used {
			// ≤4.18 global OOM: no "Task in" line precedes it.
			c.oom = oomContext{valid: true, constraint: ev.Constraint}
		}
		c.oom.pid = ev.PID
		c.oom.sacrifice = true
		return Event{}, false
	case partOOMGroup:
		c.oom.group = ev.Cgroup
		return Event{}, false
	case partOOMSkip:
		if c.oom.valid && !c.oom.used && c.oom.pid == ev.PID {
			c.oom = oomContext{}
		}
		return Event{}, false
	}
	switch ev.Kind {
	case KindNone:
		return Event{}, false
	case KindOOMKill:
		c.attributeKill(&ev)
	case KindKernelBug, KindNullDeref:
		c.causeSeq, c.causeSet = r.Seq, true
	case KindOops:
		if c.causeSet && r.Seq > c.causeSeq && r.Seq-c.causeSeq <= crashFoldWindow {
			c.causeSet = false
			return Event{}, false
		}
	}
	return ev, true
}

// Prime feeds a record that was already counted before a restart, so that
// a report straddling the resume point still finds its context.
func (c *Classifier) Prime(r Record) { c.Handle(r) }

func (c *Classifier) attributeKill(ev *Event) {
	o := &c.oom
	switch {
	case o.valid && !o.used && (o.pid == 0 || o.pid == ev.PID || o.sacrifice):
		ev.Cgroup = o.cgroup
		if o.constraint != "" && o.constraint != ConstraintUnknown {
			ev.Constraint = o.constraint
		}
		o.used = true
	case o.valid && o.used && o.group != "":
		ev.Cgroup = o.group
		if o.constraint != "" && o.constraint != ConstraintUnknown {
			ev.Constraint = o.constraint
		}
	}
	if ev.Constraint == "" {
		ev.Constraint = ConstraintUnknown
	}
}
