package collector

// The cgroup walk shared by the pids and memcg collectors: hierarchy
// discovery, one walk per hierarchy per scrape, the selection of the cgroups
// worth a series (bounded by default) and the labels derived from a path.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

const (
	flagCgroupsInclude = "collector.cgroups.include"
	flagCgroupsExclude = "collector.cgroups.exclude"
	flagCgroupsMax     = "collector.cgroups.max"

	defaultCgroupsMax = 2000

	// cgroupDiscoveryTTL is how long a discovery result is trusted. Cgroup
	// mounts rarely change; a hierarchy whose directory vanishes is
	// re-discovered at once.
	cgroupDiscoveryTTL = 5 * time.Minute

	// cgroupWalkLimit bounds the directories one walk visits, whatever the
	// export cap: a runaway tree cannot make a scrape unbounded.
	cgroupWalkLimit = 200000

	// maxCgroupLabel caps the cgroup label; longer paths keep a prefix and
	// a hash of the whole path so that two long paths never collide.
	maxCgroupLabel = 512

	// maxCgroupIssues bounds the file problems one walk remembers.
	maxCgroupIssues = 256
)

// cgroupLabelNames are the labels of every per-cgroup series.
var cgroupLabelNames = []string{"cgroup", "container_id", "runtime", "pod_uid"}

// Controllers a walk can read.
const (
	ctrlPids = 1 << iota
	ctrlMemory
)

func ctrlName(c int) string {
	if c == ctrlPids {
		return "pids"
	}
	return "memory"
}

// cgroupSelection is the parsed --collector.cgroups.* flags, shared by the
// pids and memcg collectors.
type cgroupSelection struct {
	include, exclude *regexp.Regexp
	max              int
}

// key identifies the selection in the per-scrape memo, so that collectors
// configured alike share a walk.
func (s cgroupSelection) key() string {
	var in, ex string
	if s.include != nil {
		in = s.include.String()
	}
	if s.exclude != nil {
		ex = s.exclude.String()
	}
	return in + "\x00" + ex + "\x00" + strconv.Itoa(s.max)
}

// cgroupFlags declares the selection flags on app the first time it is
// called for that app, and returns a function that reads the parsed values.
// Both collectors call it; whichever comes first declares the flags, the
// other finds them on the application.
func cgroupFlags(app FlagGroup) func() (cgroupSelection, error) {
	type lookup interface {
		GetFlag(name string) *kingpin.FlagClause
	}
	if lk, ok := app.(lookup); ok && lk.GetFlag(flagCgroupsInclude) != nil {
		get := func(name string) string {
			if f := lk.GetFlag(name); f != nil {
				return f.Model().Value.String()
			}
			return ""
		}
		return func() (cgroupSelection, error) {
			return parseCgroupSelection(get(flagCgroupsInclude), get(flagCgroupsExclude), get(flagCgroupsMax))
		}
	}
	include := app.Flag(flagCgroupsInclude,
		"Regexp (anchored) on the cgroup path: matching cgroups are exported by the pids and memcg collectors even without a limit or events.").
		Default("").String()
	exclude := app.Flag(flagCgroupsExclude,
		"Regexp (anchored) on the cgroup path: matching cgroups are never exported by the pids and memcg collectors; wins over everything else.").
		Default("").String()
	max := app.Flag(flagCgroupsMax,
		"Most cgroups exported per controller (pids, memory) in one scrape; cgroups beyond it are counted in crashguard_cgroups_left_out{reason=\"cap\"}.").
		Default(strconv.Itoa(defaultCgroupsMax)).String()
	return func() (cgroupSelection, error) {
		return parseCgroupSelection(*include, *exclude, *max)
	}
}

func parseCgroupSelection(include, exclude, max string) (cgroupSelection, error) {
	var s cgroupSelection
	var err error
	if include != "" {
		if s.include, err = regexp.Compile("^(?:" + include + ")$"); err != nil {
			return s, fmt.Errorf("--%s: %w", flagCgroupsInclude, err)
		}
	}
	if exclude != "" {
		if s.exclude, err = regexp.Compile("^(?:" + exclude + ")$"); err != nil {
			return s, fmt.Errorf("--%s: %w", flagCgroupsExclude, err)
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(max))
	if err != nil || n < 0 {
		return s, fmt.Errorf("--%s: want a non-negative integer, got %q", flagCgroupsMax, max)
	}
	s.max = n
	return s, nil
}

// cgroupSource finds the hierarchies and walks them. Each collector owns
// one; walks are shared between them through the per-scrape memo.
type cgroupSource struct {
	cfg    Config
	sel    cgroupSelection
	logger log.Logger

	mu     sync.Mutex
	hs     cgroup.Hierarchies
	at     time.Time
	valid  bool
	logged bool
	now    func() time.Time
}

func newCgroupSource(cfg Config, sel cgroupSelection, logger log.Logger) *cgroupSource {
	return &cgroupSource{cfg: cfg, sel: sel, logger: logger, now: time.Now}
}

// hierarchies returns the cached discovery, refreshed after the TTL.
func (s *cgroupSource) hierarchies() cgroup.Hierarchies {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.valid && s.now().Sub(s.at) < cgroupDiscoveryTTL {
		return s.hs
	}
	hs, err := cgroup.Discover(s.cfg.ProcPath, s.cfg.SysPath, s.cfg.RootPath)
	// A file that exists but is unusable is in hs.Problems, logged and
	// counted as a file error in every scrape; only absence is logged here.
	if err != nil && fsutil.IsNotExist(err) && !s.logged {
		// Usually the host's /sys is not where --path.sysfs points, or
		// /proc is not the host's: per-cgroup metrics are then missing.
		level.Warn(s.logger).Log("msg", "cgroup discovery incomplete; per-cgroup metrics may be missing", "err", err)
		s.logged = true
	}
	level.Debug(s.logger).Log("msg", "cgroup hierarchies", "mountinfo", hs.Mountinfo,
		"pids", hs.Pids.Version, "pids_dir", hs.Pids.Dir, "memory", hs.Memory.Version, "memory_dir", hs.Memory.Dir)
	s.hs, s.at, s.valid = hs, s.now(), true
	return hs
}

// invalidate forces discovery on the next scrape.
func (s *cgroupSource) invalidate() {
	s.mu.Lock()
	s.valid = false
	s.mu.Unlock()
}

// walk returns the walk of the hierarchy holding controller ctrl, done once
// per scrape per hierarchy directory and shared by every collector asking
// for it. ok is false when the controller is not mounted.
func (s *cgroupSource) walk(ctx context.Context, ctrl int) (w *cgroupWalk, ok bool, err error) {
	hs := s.hierarchies()
	// An unusable mountinfo or cgroup.controllers is reported in every
	// scrape the cached discovery stands for, whether or not a hierarchy
	// was found despite it: otherwise every per-cgroup series would vanish
	// with nothing but one log line to say why.
	for _, p := range hs.Problems {
		reportFileError(ctx, problemPath(p), fsutil.Reason(p), p)
	}
	h := hs.Pids
	if ctrl == ctrlMemory {
		h = hs.Memory
	}
	if !h.Available() {
		return nil, false, nil
	}
	// The hierarchy must lie inside the mount its directory was mapped
	// below (--path.sysfs or --path.rootfs); below it the walk follows no
	// symlink. A directory swapped for a link after this check is not
	// caught, but the walk reads only numbers and cgroup names from it.
	if d, err := treeFor(ctx, h.Dir).OpenDir(h.Dir); err == nil {
		d.Close()
	} else if errors.Is(err, fsutil.ErrSymlink) {
		reportFileError(ctx, h.Dir, "symlink", err)
		return nil, false, nil
	}
	// The walk reads the files of every controller this directory provides
	// (both on v2), so that one walk serves both collectors.
	ctrls := 0
	if hs.Pids.Available() && hs.Pids.Dir == h.Dir {
		ctrls |= ctrlPids
	}
	if hs.Memory.Available() && hs.Memory.Dir == h.Dir {
		ctrls |= ctrlMemory
	}
	v, err := shared(ctx, "cgroup-walk\x00"+h.Dir+"\x00"+strconv.Itoa(ctrls)+"\x00"+s.sel.key(), func() (any, error) {
		return walkCgroups(ctx, h, ctrls, s.sel)
	})
	if err != nil {
		if isVanishedErr(err) {
			// The hierarchy's directory is gone: it was unmounted or moved.
			s.invalidate()
			return nil, false, nil
		}
		return nil, true, err
	}
	return v.(*cgroupWalk), true, nil
}

// problemPath is the path an error names, or its text when it names none.
func problemPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path
	}
	return err.Error()
}

func isVanishedErr(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENODEV)
}

// Presence bits of the values read for one cgroup.
const (
	hasPidsCurrent = 1 << iota
	hasPidsMax
	hasPidsPeak
	hasPidsEvents
	hasPidsEventsLocal
	hasMemCurrent
	hasMemMax
	hasMemHigh
	hasMemEvents
	hasMemEventsLocal
	hasMemStat
	hasMemFailcnt
	hasMemOOMControl
)

// cgroupValues is what one cgroup's controller files said.
type cgroupValues struct {
	has uint32

	pidsCurrent, pidsPeak     uint64
	pidsMax                   float64
	pidsEvents, pidsEventsLoc uint64
	memCurrent                uint64
	memMax, memHigh           float64
	memEvents, memEventsLocal cgroup.MemoryEvents
	slab, dirty, writeback    uint64
	inactiveFile, anon, file  uint64
	failcnt                   uint64
	oomKill                   uint64
	hasOOMKill, underOOM      bool
	hasUnderOOM               bool
	// statHas says which memory.stat values the file held.
	statHas uint8
}

// Bits of cgroupValues.statHas.
const (
	statSlab = 1 << iota
	statDirty
	statWriteback
	statInactiveFile
	statAnon
	statFile
)

// setStat copies the memory.stat values that s holds; key lists the keys
// of slab, dirty, writeback, inactive_file, anon and file, 0 for a value
// the version does not export.
func (v *cgroupValues) setStat(s cgroup.MemoryStat, key [6]cgroup.StatKeys) {
	dst := [6]*uint64{&v.slab, &v.dirty, &v.writeback, &v.inactiveFile, &v.anon, &v.file}
	src := [6]uint64{s.Slab, s.FileDirty, s.FileWriteback, s.InactiveFile, s.Anon, s.File}
	if key[0] == 0 {
		// v1: the hierarchical total_ keys.
		src = [6]uint64{0, s.TotalDirty, s.TotalWriteback, s.TotalInactiveFile, s.TotalRSS, s.TotalCache}
	}
	for i := range key {
		if key[i] != 0 && s.Has(key[i]) {
			*dst[i] = src[i]
			v.statHas |= 1 << i
		}
	}
}

var (
	statKeysV2 = [6]cgroup.StatKeys{cgroup.StatSlab, cgroup.StatFileDirty, cgroup.StatFileWriteback, cgroup.StatInactiveFile, cgroup.StatAnon, cgroup.StatFile}
	statKeysV1 = [6]cgroup.StatKeys{0, cgroup.StatTotalDirty, cgroup.StatTotalWriteback, cgroup.StatTotalInactiveFile, cgroup.StatTotalRSS, cgroup.StatTotalCache}
)

func (v *cgroupValues) pidsInteresting() bool {
	return (v.has&hasPidsMax != 0 && !isInf(v.pidsMax)) || v.pidsEvents > 0 || v.pidsEventsLoc > 0
}

func (v *cgroupValues) memInteresting() bool {
	return (v.has&hasMemMax != 0 && !isInf(v.memMax)) || (v.has&hasMemHigh != 0 && !isInf(v.memHigh)) ||
		v.memEvents.OOM > 0 || v.memEvents.OOMKill > 0 || v.memEvents.OOMGroupKill > 0 ||
		v.memEventsLocal.OOM > 0 || v.memEventsLocal.OOMKill > 0 || v.memEventsLocal.OOMGroupKill > 0 ||
		v.oomKill > 0 || v.underOOM
}

func isInf(f float64) bool { return f > 1e308 }

// cgroupEntry is one cgroup kept for export.
type cgroupEntry struct {
	path  string // the cgroup's path in the hierarchy (the label)
	label cgroup.Label
	// sel has a controller's bit when that controller exports the cgroup.
	sel int
	// class orders cgroups for the cap: classTop (the first two levels:
	// kubepods.slice and its QoS slices, system.slice, docker, …), then
	// classPod (pod cgroups), then classOther. Aggregates come first
	// because their hierarchical counters still hold the events of deleted
	// children.
	class int
	cgroupValues
}

type cgroupIssue struct {
	path, reason string
	err          error
}

// ctrlStats counts, for one controller, what selection did.
type ctrlStats struct {
	discovered int
	unselected int
	excluded   int
	capped     int
	stored     [numClasses]int
	// localSeen is set when some cgroup had the controller's .local events
	// file, which says that the plain file is hierarchical (v2).
	localSeen bool
	issues    []cgroupIssue
	moreIssue int
}

// cgroupWalk is the result of one walk of one hierarchy.
type cgroupWalk struct {
	hier    cgroup.Hierarchy
	ctrls   int
	entries []cgroupEntry
	stats   map[int]*ctrlStats
	walk    cgroup.WalkStats
}

func (w *cgroupWalk) ctrl(c int) *ctrlStats { return w.stats[c] }

func (st *ctrlStats) issue(path, reason string, err error) {
	if len(st.issues) >= maxCgroupIssues {
		st.moreIssue++
		return
	}
	st.issues = append(st.issues, cgroupIssue{path: path, reason: reason, err: err})
}

// walkCgroups visits every cgroup of h once, reading the files of ctrls
// through the open directory, and keeps the cgroups the selection exports.
func walkCgroups(ctx context.Context, h cgroup.Hierarchy, ctrls int, sel cgroupSelection) (*cgroupWalk, error) {
	w := &cgroupWalk{hier: h, ctrls: ctrls, stats: map[int]*ctrlStats{}}
	for _, c := range []int{ctrlPids, ctrlMemory} {
		if ctrls&c != 0 {
			w.stats[c] = &ctrlStats{}
		}
	}
	r := cgroup.GetReader()
	defer cgroup.PutReader(r)
	ps, ms := w.stats[ctrlPids], w.stats[ctrlMemory]
	walker := cgroup.Walker{MaxCgroups: cgroupWalkLimit}
	var err error
	w.walk, err = walker.WalkDirs(ctx, h.Dir, func(d *cgroup.Dir) error {
		var v cgroupValues
		if ps != nil {
			ps.discovered++
			readPids(r, d, h, &v, ps)
		}
		if ms != nil {
			ms.discovered++
			readMemory(r, d, h, &v, ms)
		}
		want := 0
		if ps != nil && v.pidsInteresting() {
			want |= ctrlPids
		}
		if ms != nil && v.memInteresting() {
			want |= ctrlMemory
		}
		path := h.CgroupPath(d.Rel)
		if sel.include != nil && want != ctrls && sel.include.MatchString(path) {
			want = ctrls
		}
		for _, c := range []int{ctrlPids, ctrlMemory} {
			if ctrls&c != 0 && want&c == 0 {
				w.stats[c].unselected++
			}
		}
		if want == 0 {
			return nil
		}
		if sel.exclude != nil && sel.exclude.MatchString(path) {
			for _, c := range []int{ctrlPids, ctrlMemory} {
				if want&c != 0 {
					w.stats[c].excluded++
				}
			}
			return nil
		}
		e := cgroupEntry{path: path, cgroupValues: v}
		e.label = cgroup.Labels(path)
		e.class = cgroupClass(d.Rel, e.label)
		// Keep at most max of each class per controller: that bounds the
		// memory of a walk, and is enough to fill the cap class by class.
		for _, c := range []int{ctrlPids, ctrlMemory} {
			if want&c == 0 {
				continue
			}
			st := w.stats[c]
			if st.stored[e.class] >= sel.max {
				st.capped++
				continue
			}
			st.stored[e.class]++
			e.sel |= c
		}
		if e.sel != 0 {
			w.entries = append(w.entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if w.walk.Errors > 0 {
		// Directories that could not be listed: their subtrees are missing.
		// Each is reported with its own path and cause; those beyond the
		// kept errors with the first one's.
		for _, st := range w.stats {
			for i := 0; i < w.walk.Errors; i++ {
				err := w.walk.Err
				if i < len(w.walk.Errs) {
					err = w.walk.Errs[i]
				}
				st.issue(problemPath(err), fsutil.Reason(err), err)
			}
		}
	}
	return w, nil
}

// Cap classes, kept in this order.
const (
	classTop = iota
	classPod
	classOther
	numClasses
)

// cgroupClass tells the cgroups that hold others and whose hierarchical
// events survive their children: the first two levels (kubepods.slice and
// its QoS slices, system.slice, machine.slice, docker, …), then pod cgroups.
func cgroupClass(rel string, l cgroup.Label) int {
	switch {
	case l.ContainerID != "":
		return classOther
	case strings.Count(rel, "/") <= 2:
		return classTop
	case l.PodUID != "":
		return classPod
	}
	return classOther
}

// readFile reads one controller file of the visited directory; ok is false
// when it is absent (older kernel, root cgroup, or the cgroup just vanished)
// or unusable, the latter recorded as an issue.
func readCgroupFile(r *cgroup.Reader, d *cgroup.Dir, h cgroup.Hierarchy, name string, st *ctrlStats) ([]byte, bool) {
	b, err := r.ReadIn(d, name)
	if err == nil {
		return b, true
	}
	if isVanishedErr(err) {
		return nil, false
	}
	st.issue(h.Dir+strings.TrimSuffix(d.Rel, "/")+"/"+name, fsutil.Reason(err), err)
	return nil, false
}

func parseIssue(d *cgroup.Dir, h cgroup.Hierarchy, name string, st *ctrlStats, err error) {
	st.issue(h.Dir+strings.TrimSuffix(d.Rel, "/")+"/"+name, "garbage", err)
}

func readPids(r *cgroup.Reader, d *cgroup.Dir, h cgroup.Hierarchy, v *cgroupValues, st *ctrlStats) {
	if b, ok := readCgroupFile(r, d, h, "pids.current", st); ok {
		if n, err := cgroup.ParseUint(b); err == nil {
			v.pidsCurrent, v.has = n, v.has|hasPidsCurrent
		} else {
			parseIssue(d, h, "pids.current", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "pids.max", st); ok {
		if f, err := cgroup.ParseMax(b); err == nil {
			v.pidsMax, v.has = f, v.has|hasPidsMax
		} else {
			parseIssue(d, h, "pids.max", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "pids.peak", st); ok {
		if n, err := cgroup.ParseUint(b); err == nil {
			v.pidsPeak, v.has = n, v.has|hasPidsPeak
		} else {
			parseIssue(d, h, "pids.peak", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "pids.events", st); ok {
		if e, err := cgroup.ParsePidsEvents(b); err == nil {
			v.pidsEvents, v.has = e.Max, v.has|hasPidsEvents
		} else {
			parseIssue(d, h, "pids.events", st, err)
		}
	}
	if h.Version == cgroup.V2 {
		if b, ok := readCgroupFile(r, d, h, "pids.events.local", st); ok {
			st.localSeen = true
			if e, err := cgroup.ParsePidsEvents(b); err == nil {
				v.pidsEventsLoc, v.has = e.Max, v.has|hasPidsEventsLocal
			} else {
				parseIssue(d, h, "pids.events.local", st, err)
			}
		}
	}
}

func readMemory(r *cgroup.Reader, d *cgroup.Dir, h cgroup.Hierarchy, v *cgroupValues, st *ctrlStats) {
	if h.Version == cgroup.V2 {
		readMemoryV2(r, d, h, v, st)
	} else {
		readMemoryV1(r, d, h, v, st)
	}
}

func readMemoryV2(r *cgroup.Reader, d *cgroup.Dir, h cgroup.Hierarchy, v *cgroupValues, st *ctrlStats) {
	if b, ok := readCgroupFile(r, d, h, "memory.current", st); ok {
		if n, err := cgroup.ParseUint(b); err == nil {
			v.memCurrent, v.has = n, v.has|hasMemCurrent
		} else {
			parseIssue(d, h, "memory.current", st, err)
		}
	}
	for _, f := range []struct {
		name string
		bit  uint32
		dst  *float64
	}{{"memory.max", hasMemMax, &v.memMax}, {"memory.high", hasMemHigh, &v.memHigh}} {
		if b, ok := readCgroupFile(r, d, h, f.name, st); ok {
			if x, err := cgroup.ParseMax(b); err == nil {
				*f.dst, v.has = x, v.has|f.bit
			} else {
				parseIssue(d, h, f.name, st, err)
			}
		}
	}
	if b, ok := readCgroupFile(r, d, h, "memory.events", st); ok {
		if e, err := cgroup.ParseMemoryEvents(b); err == nil {
			v.memEvents, v.has = e, v.has|hasMemEvents
		} else {
			parseIssue(d, h, "memory.events", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "memory.events.local", st); ok {
		st.localSeen = true
		if e, err := cgroup.ParseMemoryEvents(b); err == nil {
			v.memEventsLocal, v.has = e, v.has|hasMemEventsLocal
		} else {
			parseIssue(d, h, "memory.events.local", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "memory.stat", st); ok {
		if s, err := cgroup.ParseMemoryStat(b); err == nil {
			v.setStat(s, statKeysV2)
			v.has |= hasMemStat
		} else {
			parseIssue(d, h, "memory.stat", st, err)
		}
	}
}

func readMemoryV1(r *cgroup.Reader, d *cgroup.Dir, h cgroup.Hierarchy, v *cgroupValues, st *ctrlStats) {
	if b, ok := readCgroupFile(r, d, h, "memory.usage_in_bytes", st); ok {
		if n, err := cgroup.ParseUint(b); err == nil {
			v.memCurrent, v.has = n, v.has|hasMemCurrent
		} else {
			parseIssue(d, h, "memory.usage_in_bytes", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "memory.limit_in_bytes", st); ok {
		if x, err := cgroup.ParseV1Limit(b); err == nil {
			v.memMax, v.has = x, v.has|hasMemMax
		} else {
			parseIssue(d, h, "memory.limit_in_bytes", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "memory.failcnt", st); ok {
		if n, err := cgroup.ParseUint(b); err == nil {
			v.failcnt, v.has = n, v.has|hasMemFailcnt
		} else {
			parseIssue(d, h, "memory.failcnt", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "memory.oom_control", st); ok {
		if c, err := cgroup.ParseOOMControl(b); err == nil {
			v.oomKill, v.hasOOMKill = c.OOMKill, c.HasOOMKill
			v.underOOM, v.hasUnderOOM = c.UnderOOM, c.HasUnderOOM
			v.has |= hasMemOOMControl
		} else {
			parseIssue(d, h, "memory.oom_control", st, err)
		}
	}
	if b, ok := readCgroupFile(r, d, h, "memory.stat", st); ok {
		if s, err := cgroup.ParseMemoryStat(b); err == nil {
			// The total_ keys include descendants, like usage_in_bytes with
			// use_hierarchy=1 and like v2's memory.stat.
			v.setStat(s, statKeysV1)
			v.has |= hasMemStat
		} else {
			parseIssue(d, h, "memory.stat", st, err)
		}
	}
}

// cgroupDescs are the selection metrics both collectors export, each for
// its own controller; both use the same descriptors.
var (
	cgroupsDiscoveredDesc = prometheus.NewDesc(namespace+"_cgroups_discovered",
		"Cgroups found by this scrape's walk of the hierarchy holding the controller (the root included). controller is pids or memory.",
		[]string{"controller"}, nil)
	cgroupsExportedDesc = prometheus.NewDesc(namespace+"_cgroups_exported",
		"Cgroups with per-cgroup series for the controller in this scrape. controller is pids or memory.",
		[]string{"controller"}, nil)
	cgroupsLeftOutDesc = prometheus.NewDesc(namespace+"_cgroups_left_out",
		"Cgroups without per-cgroup series for the controller in this scrape, by reason: unselected (no limit, no OOM or fork-rejection events, not matching --collector.cgroups.include), excluded (matching --collector.cgroups.exclude), cap (beyond --collector.cgroups.max; the first two levels of slices, then pod cgroups, are kept first).",
		[]string{"controller", "reason"}, nil)
	cgroupHierarchyDesc = prometheus.NewDesc(namespace+"_cgroup_hierarchy_info",
		"Always 1 for each controller found: version is v1 or v2; events says what the controller's events file (pids.events, memory.events) counts — hierarchical (this cgroup and its descendants: v2 without the *_localevents mount option, memory since 5.2, pids since 6.11) or local (this cgroup only: v1, older v2 kernels, or the mount option).",
		[]string{"controller", "version", "events"}, nil)
)

func describeCgroupSelection(ch chan<- *prometheus.Desc) {
	ch <- cgroupsDiscoveredDesc
	ch <- cgroupsExportedDesc
	ch <- cgroupsLeftOutDesc
	ch <- cgroupHierarchyDesc
}

// exportable calls fn for each cgroup the walk keeps for controller c,
// aggregates first, within the cap; it sends the selection metrics and
// reports the walk's file problems against ctx's collector.
func (w *cgroupWalk) export(ctx context.Context, ch chan<- prometheus.Metric, c int, max int, fn func(e *cgroupEntry)) {
	st := w.ctrl(c)
	name := ctrlName(c)
	for _, is := range st.issues {
		reportFileError(ctx, is.path, is.reason, is.err)
	}
	// Fill the cap class by class.
	var room [numClasses]int
	left := max
	for k := range room {
		room[k] = min(st.stored[k], left)
		left -= room[k]
	}
	exported, capped := 0, st.capped
	for i := range w.entries {
		e := &w.entries[i]
		if e.sel&c == 0 {
			continue
		}
		if room[e.class] == 0 {
			capped++
			continue
		}
		room[e.class]--
		exported++
		fn(e)
	}
	events := "local"
	if w.hier.Version == cgroup.V2 && !w.hier.LocalEvents && st.localSeen {
		events = "hierarchical"
	}
	ch <- prometheus.MustNewConstMetric(cgroupHierarchyDesc, prometheus.GaugeValue, 1, name, w.hier.Version.String(), events)
	ch <- prometheus.MustNewConstMetric(cgroupsDiscoveredDesc, prometheus.GaugeValue, float64(st.discovered), name)
	ch <- prometheus.MustNewConstMetric(cgroupsExportedDesc, prometheus.GaugeValue, float64(exported), name)
	ch <- prometheus.MustNewConstMetric(cgroupsLeftOutDesc, prometheus.GaugeValue, float64(st.unselected), name, "unselected")
	ch <- prometheus.MustNewConstMetric(cgroupsLeftOutDesc, prometheus.GaugeValue, float64(st.excluded), name, "excluded")
	ch <- prometheus.MustNewConstMetric(cgroupsLeftOutDesc, prometheus.GaugeValue, float64(capped), name, "cap")
}

// cgroupLabels are one cgroup's label pairs, built once and shared by all
// of its series: at thousands of exported cgroups with some twenty series
// each, per-series label pairs would dominate the exporter's memory.
type cgroupLabels []*dto.LabelPair

// labels returns e's label pairs, sorted by name as the registry expects.
func (e *cgroupEntry) labels() cgroupLabels {
	pair := func(name, value string) *dto.LabelPair { return &dto.LabelPair{Name: &name, Value: &value} }
	return cgroupLabels{
		pair("cgroup", cgroupLabel(e.path)),
		pair("container_id", e.label.ContainerID),
		pair("pod_uid", e.label.PodUID),
		pair("runtime", e.label.Runtime),
	}
}

// cgroupMetric is a const metric whose label pairs are shared with the
// cgroup's other series; nothing writes to them after construction.
type cgroupMetric struct {
	desc   *prometheus.Desc
	typ    prometheus.ValueType
	value  float64
	labels cgroupLabels
}

func (m *cgroupMetric) Desc() *prometheus.Desc { return m.desc }

func (m *cgroupMetric) Write(out *dto.Metric) error {
	out.Label = m.labels
	v := m.value
	if m.typ == prometheus.CounterValue {
		out.Counter = &dto.Counter{Value: &v}
	} else {
		out.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}

func newCgroupMetric(d *prometheus.Desc, typ prometheus.ValueType, v float64, l cgroupLabels) prometheus.Metric {
	return &cgroupMetric{desc: d, typ: typ, value: v, labels: l}
}

// cgroupLabel bounds a cgroup path for use as a label: invalid UTF-8 is
// replaced, and a path longer than maxCgroupLabel keeps its beginning plus
// a hash of the whole, so distinct cgroups keep distinct labels.
func cgroupLabel(p string) string {
	if len(p) <= maxCgroupLabel && utf8.ValidString(p) {
		return p
	}
	h := fnv.New64a()
	h.Write([]byte(p))
	suffix := fmt.Sprintf("…%016x", h.Sum64())
	return capLabel(p, maxCgroupLabel-len(suffix)) + suffix
}
