package collector

import (
	"bytes"
	"context"
	"fmt"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func init() {
	registerCollector("memcg", true, func(app FlagGroup) Factory {
		selection := cgroupFlags(app)
		return func(cfg Config, logger log.Logger) (Collector, error) {
			sel, err := selection()
			if err != nil {
				return nil, err
			}
			return newMemcgCollector(cfg, sel, logger), nil
		}
	})
}

// memEventDescs are the counters of one memory.events file.
type memEventDescs struct {
	oom, oomKill, oomGroupKill, max, high *prometheus.Desc
}

type memcgCollector struct {
	cfg Config
	sel cgroupSelection
	src *cgroupSource

	hostKills *prometheus.Desc

	events, local                              memEventDescs
	usage, limit, high                         *prometheus.Desc
	slab, dirty, writeback, inactiveFile, anon *prometheus.Desc
	file, failcnt, underOOM                    *prometheus.Desc
}

const (
	memHierHelp  = " From memory.events on cgroup v2: hierarchical (this cgroup and its descendants, deleted ones included) since 5.2 unless mounted with memory_localevents — see crashguard_cgroup_hierarchy_info{controller=\"memory\"}; do not sum() it across nested cgroups, a parent already includes its children."
	memLocalHelp = " From memory.events.local (cgroup v2, 5.2+): this cgroup only; safe to sum() across cgroups, but lost when the cgroup is deleted."
)

func newMemcgCollector(cfg Config, sel cgroupSelection, logger log.Logger) *memcgCollector {
	cg := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "cgroup_memory", name), help+cgroupLabelHelp, cgroupLabelNames, nil)
	}
	events := func(suffix, extra string) memEventDescs {
		return memEventDescs{
			oom:          cg("oom"+suffix+"_total", "The \"oom\" count: times the cgroup's memory limit was reached and an allocation was about to fail."+extra),
			oomKill:      cg("oom_kills"+suffix+"_total", "The \"oom_kill\" count: processes killed by any OOM killer (the global one included; kernel 4.13+)."+extra+" On cgroup v1 this family comes from memory.oom_control's oom_kill, which counts kills in this cgroup only."),
			oomGroupKill: cg("oom_group_kills"+suffix+"_total", "The \"oom_group_kill\" count (kernel 5.17+): times the whole cgroup was OOM-killed as a group (memory.oom.group)."+extra),
			max:          cg("max_events"+suffix+"_total", "The \"max\" count: times usage was about to exceed memory.max and reclaim ran (not OOMs)."+extra),
			high:         cg("high_events"+suffix+"_total", "The \"high\" count: times usage exceeded memory.high and the cgroup was throttled and reclaimed."+extra),
		}
	}
	return &memcgCollector{
		cfg:          cfg,
		sel:          sel,
		src:          newCgroupSource(cfg, sel, logger),
		hostKills:    prometheus.NewDesc(namespace+"_memory_oom_kills_total", "The oom_kill count of /proc/vmstat (4.13+): every OOM kill on the host, global and cgroup, including those in cgroups deleted since.", nil, nil),
		events:       events("", memHierHelp),
		local:        events("_local", memLocalHelp),
		usage:        cg("usage_bytes", "Memory charged to the cgroup and its descendants: memory.current (v2) or memory.usage_in_bytes (v1), page cache and kernel memory included."),
		limit:        cg("limit_bytes", "memory.max (v2) or memory.limit_in_bytes (v1): past it the cgroup reclaims, then OOM-kills. Absent when unlimited (\"max\", or v1's sentinel of 2^62 and more); an ancestor's limit may still apply."),
		high:         cg("high_bytes", "memory.high (cgroup v2): past it the cgroup is throttled and reclaimed, never OOM-killed. Absent when \"max\"."),
		slab:         cg("slab_bytes", "memory.stat slab (cgroup v2): kernel slab memory charged to the cgroup, which memcg reclaim barely frees. Not exported on v1, whose memory.stat has no slab."),
		dirty:        cg("dirty_bytes", "memory.stat file_dirty (v2) or total_dirty (v1): page cache waiting for writeback, which reclaim cannot drop until written."),
		writeback:    cg("writeback_bytes", "memory.stat file_writeback (v2) or total_writeback (v1): page cache being written back."),
		inactiveFile: cg("inactive_file_bytes", "memory.stat inactive_file (v2) or total_inactive_file (v1): page cache that reclaim frees first."),
		anon:         cg("anon_bytes", "memory.stat anon (v2) or total_rss (v1): anonymous memory, freed only by swapping or killing."),
		file:         cg("file_bytes", "memory.stat file (v2) or total_cache (v1): page cache, shmem and tmpfs included."),
		failcnt:      cg("failcnt_total", "memory.failcnt (cgroup v1): times usage hit memory.limit_in_bytes and reclaim was triggered — limit hits, not OOMs."),
		underOOM:     cg("under_oom", "under_oom of memory.oom_control (cgroup v1): 1 while the cgroup is stalled at its limit with the OOM killer disabled (oom_kill_disable 1)."),
	}
}

func (c *memcgCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hostKills
	for _, e := range []memEventDescs{c.events, c.local} {
		ch <- e.oom
		ch <- e.oomKill
		ch <- e.oomGroupKill
		ch <- e.max
		ch <- e.high
	}
	for _, d := range []*prometheus.Desc{c.usage, c.limit, c.high, c.slab, c.dirty, c.writeback, c.inactiveFile, c.anon, c.file, c.failcnt, c.underOOM} {
		ch <- d
	}
	describeCgroupSelection(ch)
}

func (c *memcgCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	path := c.cfg.Proc("vmstat")
	if b, ok := readBytes(ctx, path, 1<<20); ok {
		if n, found, err := vmstatValue(b, "oom_kill"); err != nil {
			reportFileError(ctx, path, fsutil.Reason(err), err)
		} else if found {
			ch <- prometheus.MustNewConstMetric(c.hostKills, prometheus.CounterValue, float64(n))
		}
	}

	w, ok, err := c.src.walk(ctx, ctrlMemory)
	if err != nil {
		return fmt.Errorf("walking the memory cgroup hierarchy: %w", err)
	}
	if !ok {
		return nil
	}
	w.export(ctx, ch, ctrlMemory, c.sel.max, func(e *cgroupEntry) {
		lv := e.labels()
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- newCgroupMetric(d, prometheus.GaugeValue, v, lv)
		}
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- newCgroupMetric(d, prometheus.CounterValue, float64(v), lv)
		}
		if e.has&hasMemCurrent != 0 {
			gauge(c.usage, float64(e.memCurrent))
		}
		if e.has&hasMemMax != 0 && !isInf(e.memMax) {
			gauge(c.limit, e.memMax)
		}
		if e.has&hasMemHigh != 0 && !isInf(e.memHigh) {
			gauge(c.high, e.memHigh)
		}
		if e.has&hasMemStat != 0 {
			// Only the keys the file held: a missing key is not a zero.
			for _, st := range []struct {
				bit  uint8
				desc *prometheus.Desc
				v    uint64
			}{
				{statSlab, c.slab, e.slab}, {statDirty, c.dirty, e.dirty}, {statWriteback, c.writeback, e.writeback},
				{statInactiveFile, c.inactiveFile, e.inactiveFile}, {statAnon, c.anon, e.anon}, {statFile, c.file, e.file},
			} {
				if e.statHas&st.bit != 0 {
					gauge(st.desc, float64(st.v))
				}
			}
		}
		for _, ev := range []struct {
			bit uint32
			d   memEventDescs
			v   *cgroup.MemoryEvents
		}{{hasMemEvents, c.events, &e.memEvents}, {hasMemEventsLocal, c.local, &e.memEventsLocal}} {
			if e.has&ev.bit == 0 {
				continue
			}
			// Only the keys the file held (oom_kill is 4.13+,
			// oom_group_kill 5.17+): a missing key is not a zero.
			for _, k := range []struct {
				has  bool
				desc *prometheus.Desc
				v    uint64
			}{
				{ev.v.HasOOM, ev.d.oom, ev.v.OOM}, {ev.v.HasOOMKill, ev.d.oomKill, ev.v.OOMKill},
				{ev.v.HasOOMGroupKill, ev.d.oomGroupKill, ev.v.OOMGroupKill},
				{ev.v.HasMax, ev.d.max, ev.v.Max}, {ev.v.HasHigh, ev.d.high, ev.v.High},
			} {
				if k.has {
					counter(k.desc, k.v)
				}
			}
		}
		if e.has&hasMemOOMControl != 0 {
			if e.hasOOMKill {
				counter(c.events.oomKill, e.oomKill)
			}
			if e.hasUnderOOM {
				gauge(c.underOOM, boolFloat(e.underOOM))
			}
		}
		if e.has&hasMemFailcnt != 0 {
			counter(c.failcnt, e.failcnt)
		}
	})
	return nil
}

// vmstatValue finds "key value" in /proc/vmstat.
func vmstatValue(b []byte, key string) (uint64, bool, error) {
	var val uint64
	found := false
	err := cgroup.ParseFlatKeyed(b, func(k []byte, v uint64) {
		if !found && bytes.Equal(k, []byte(key)) {
			val, found = v, true
		}
	})
	return val, found, err
}
