package kmsg

import (
	"strings"
	"sync"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
)

// Bounds of the strings a Tally keeps from kernel messages (also label
// values): a longer cgroup path or task name is cut at a rune boundary.
const (
	CgroupMax = 512 // bytes of a cgroup path
	CommMax   = 64  // bytes of a task name
)

// EventKey is one class of counted events: a kind and, for io_error,
// fs_error and dm_thin_error, a sub-kind ("" for the other kinds).
type EventKey struct {
	Kind Kind
	Sub  string
}

// eventKeys lists every known class in a fixed order; eventIndex finds a
// class's position in it. Both are read-only after init.
var eventKeys, eventIndex = buildEventKeys()

// constraints is Constraints(), read-only.
var constraints = Constraints()

func buildEventKeys() ([]EventKey, map[EventKey]int) {
	subs := map[Kind][]string{
		KindIOError:     IOSubKinds(),
		KindFSError:     FSSubKinds(),
		KindDMThinError: DMThinSubKinds(),
	}
	var keys []EventKey
	for _, k := range Kinds() {
		if s, ok := subs[k]; ok {
			for _, sub := range s {
				keys = append(keys, EventKey{k, sub})
			}
			continue
		}
		keys = append(keys, EventKey{k, ""})
	}
	index := make(map[EventKey]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	return keys, index
}

// EventKeys lists every class a Tally counts, in the order of
// Snapshot.Events.
func EventKeys() []EventKey { return append([]EventKey(nil), eventKeys...) }

// Family is what a per-cgroup series counts.
type Family uint8

const (
	// FamilyOOMKills counts OOM kills by the victim's memory cgroup and
	// the constraint.
	FamilyOOMKills Family = iota
	// FamilyForkRejections counts "fork rejected by pids controller"
	// lines by the forking task's cgroup.
	FamilyForkRejections
)

// Series is one per-cgroup count.
type Series struct {
	Family Family
	// Cgroup is the path as the kernel printed it (valid UTF-8, at most
	// CgroupMax bytes); "" when the report naming it was rate-limited away.
	Cgroup string
	// Labels is what Cgroup says about its owner (cgroup.Labels).
	Labels     cgroup.Label
	Constraint Constraint // FamilyOOMKills only
	Count      uint64
}

// EventCount is the count of one event class.
type EventCount struct {
	EventKey
	Count uint64
}

// ConstraintCount is the count of OOM kills under one constraint.
type ConstraintCount struct {
	Constraint Constraint
	Count      uint64
}

// LastKill describes the newest OOM kill seen, counted or replayed.
type LastKill struct {
	Seen          bool // false until a kill is seen; the rest is zero then
	Seq           uint64
	TimestampUsec uint64 // the record's time since boot
	Cgroup        string // as in Series.Cgroup
	Comm          string // valid UTF-8, at most CommMax bytes
	Labels        cgroup.Label
}

// Snapshot is what a Tally has counted. Tally.Snapshot fills it reusing
// its slices, so one Snapshot kept per caller makes a snapshot cost no
// allocation once the slices have grown.
type Snapshot struct {
	// Events holds every class of EventKeys in that order, from 0.
	Events []EventCount
	// OOMKillsAll holds every constraint of Constraints in that order,
	// from 0. It counts every kill: retention and the series cap never
	// drop any.
	OOMKillsAll []ConstraintCount
	// Series holds the per-cgroup series kept, in no particular order.
	Series []Series
	// Evicted counts the series dropped to stay within the cap.
	Evicted  uint64
	LastKill LastKill
}

// series is a kept per-cgroup series, linked into the tally's recency
// list. What is exported of it is the embedded Series; the rest is the
// tally's own bookkeeping. insert creates a series at 0 and bump counts
// it, so when and at what count a series first shows can change without
// touching eviction or retention.
type series struct {
	Series
	last       time.Time // time of the last increment, for retention
	prev, next *series   // recency list, least recently incremented first
}

type seriesKey struct {
	family     Family
	cgroup     string
	constraint Constraint
}

// Tally counts the events of a kernel log: every event class, OOM kills by
// constraint, and per-cgroup OOM kills and fork rejections, which are kept
// for a retention after their last increment and capped in number (the
// least recently incremented is dropped first, and counted as evicted).
// It also remembers the newest OOM kill.
//
// Handle, Replay and Rewind classify records (see Classifier) and must be
// called from one goroutine, the one following the log: Follower.Follow's
// handler, Config.Replay and Config.Rewind. Snapshot may be called from
// any goroutine at any time.
type Tally struct {
	retention time.Duration
	maxSeries int

	classifier *Classifier // owned by the following goroutine

	mu       sync.Mutex
	events   []uint64 // by eventKeys position
	oomAll   []uint64 // by Constraints position
	series   map[seriesKey]*series
	oldest   *series // head of the recency list
	newest   *series // its tail
	evicted  uint64
	lastKill LastKill
}

// NewTally returns an empty Tally that keeps a per-cgroup series for
// retention after its last increment (forever if retention ≤ 0) and at
// most maxSeries of them (at least 1).
func NewTally(retention time.Duration, maxSeries int) *Tally {
	return &Tally{
		retention:  retention,
		maxSeries:  max(maxSeries, 1),
		classifier: NewClassifier(),
		events:     make([]uint64, len(eventKeys)),
		oomAll:     make([]uint64, len(constraints)),
		series:     map[seriesKey]*series{},
	}
}

// Handle classifies a new record and counts the event it completes, if
// any; now is the time of the count, for retention.
func (t *Tally) Handle(r Record, now time.Time) {
	ev, ok := t.classifier.Handle(r)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	i, known := eventIndex[EventKey{ev.Kind, ev.Sub}]
	if !known {
		// A sub-kind on a kind that has none; the classifier's own
		// sub-kinds are all known.
		i, known = eventIndex[EventKey{ev.Kind, ""}]
	}
	if known {
		t.events[i]++
	}
	switch ev.Kind {
	case KindOOMKill:
		t.oomAll[constraintIndex(ev.Constraint)]++
		t.bump(seriesKey{FamilyOOMKills, ev.Cgroup, ev.Constraint}, now)
		t.setLastKill(ev)
	case KindForkRejected:
		t.bump(seriesKey{FamilyForkRejections, ev.Cgroup, ""}, now)
	}
}

// Replay feeds a record that was counted before a restart: it rebuilds the
// classifier's report context and the newest kill, and counts nothing.
func (t *Tally) Replay(r Record) {
	ev, ok := t.classifier.Handle(r)
	if !ok || ev.Kind != KindOOMKill {
		return
	}
	t.mu.Lock()
	t.setLastKill(ev)
	t.mu.Unlock()
}

// Rewind forgets what Replay rebuilt: the records it was given are about
// to be handled again (the follower found its resume point impossible).
func (t *Tally) Rewind() {
	t.classifier = NewClassifier()
	t.mu.Lock()
	t.lastKill = LastKill{}
	t.mu.Unlock()
}

// Snapshot fills s with what has been counted, first dropping the series
// whose last increment is older than the retention at now.
func (t *Tally) Snapshot(now time.Time, s *Snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.Events = s.Events[:0]
	for i, n := range t.events {
		s.Events = append(s.Events, EventCount{eventKeys[i], n})
	}
	s.OOMKillsAll = s.OOMKillsAll[:0]
	for i, c := range constraints {
		s.OOMKillsAll = append(s.OOMKillsAll, ConstraintCount{c, t.oomAll[i]})
	}
	s.Series = s.Series[:0]
	for e := t.oldest; e != nil; {
		next := e.next
		if t.retention > 0 && now.Sub(e.last) > t.retention {
			t.remove(e)
		} else {
			s.Series = append(s.Series, e.Series)
		}
		e = next
	}
	s.Evicted = t.evicted
	s.LastKill = t.lastKill
}

func constraintIndex(c Constraint) int {
	for i, k := range constraints {
		if k == c {
			return i
		}
	}
	return 0 // ConstraintUnknown; the classifier sets no other value
}

// bump increments a per-cgroup series, making room by evicting the least
// recently incremented one when the cap is reached.
func (t *Tally) bump(k seriesKey, now time.Time) {
	k.cgroup = capString(k.cgroup, CgroupMax)
	e, ok := t.series[k]
	if !ok {
		e = t.insert(k)
	}
	e.Count++
	e.last = now
	t.unlink(e)
	t.append(e)
}

// insert adds a series at 0, as the most recently incremented.
func (t *Tally) insert(k seriesKey) *series {
	for len(t.series) >= t.maxSeries && t.oldest != nil {
		t.remove(t.oldest)
		t.evicted++
	}
	k.cgroup = strings.Clone(k.cgroup) // do not pin the whole message
	e := &series{Series: Series{Family: k.family, Cgroup: k.cgroup, Labels: cgroup.Labels(k.cgroup), Constraint: k.constraint}}
	t.series[k] = e
	t.append(e)
	return e
}

func (t *Tally) remove(e *series) {
	delete(t.series, seriesKey{e.Family, e.Cgroup, e.Constraint})
	t.unlink(e)
}

func (t *Tally) append(e *series) {
	e.prev, e.next = t.newest, nil
	if t.newest != nil {
		t.newest.next = e
	} else {
		t.oldest = e
	}
	t.newest = e
}

func (t *Tally) unlink(e *series) {
	if e.prev != nil {
		e.prev.next = e.next
	} else if t.oldest == e {
		t.oldest = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if t.newest == e {
		t.newest = e.prev
	}
	e.prev, e.next = nil, nil
}

func (t *Tally) setLastKill(ev Event) {
	if t.lastKill.Seen && ev.Seq < t.lastKill.Seq {
		return
	}
	cg := capString(ev.Cgroup, CgroupMax)
	t.lastKill = LastKill{
		Seen:          true,
		Seq:           ev.Seq,
		TimestampUsec: ev.TimestampUsec,
		Cgroup:        strings.Clone(cg),
		Comm:          strings.Clone(capString(ev.Comm, CommMax)),
		Labels:        cgroup.Labels(cg),
	}
}

// capString makes s valid UTF-8 (invalid bytes become U+FFFD) and cuts it
// to at most n bytes at a rune boundary.
func capString(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
