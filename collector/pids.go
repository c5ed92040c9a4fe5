package collector

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/cgroup"
	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func init() {
	registerCollector("pids", true, func(app FlagGroup) Factory {
		selection := cgroupFlags(app)
		return func(cfg Config, logger log.Logger) (Collector, error) {
			sel, err := selection()
			if err != nil {
				return nil, err
			}
			return newPidsCollector(cfg, sel, logger), nil
		}
	})
}

type pidsCollector struct {
	cfg Config
	sel cgroupSelection
	src *cgroupSource

	inUse, pidMax, threadsMax             *prometheus.Desc
	current, limit, peak, hits, hitsLocal *prometheus.Desc
}

func newPidsCollector(cfg Config, sel cgroupSelection, logger log.Logger) *pidsCollector {
	host := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil)
	}
	cg := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "cgroup", name), help+cgroupLabelHelp, cgroupLabelNames, nil)
	}
	return &pidsCollector{
		cfg:        cfg,
		sel:        sel,
		src:        newCgroupSource(cfg, sel, logger),
		inUse:      host("pids_in_use", "Threads on the host, the total of /proc/loadavg's fourth field: every thread holds a PID, host-wide (not namespaced). Compare with min(crashguard_pids_limit, crashguard_threads_limit)."),
		pidMax:     host("pids_limit", "Value of /proc/sys/kernel/pid_max: PIDs above it are never allocated, so the host cannot have more threads."),
		threadsMax: host("threads_limit", "Value of /proc/sys/kernel/threads-max: the most threads the kernel allows on the host."),
		current:    cg("pids", "Value of pids.current: tasks (processes and threads) in the cgroup and its descendants."),
		limit:      cg("pids_limit", "Value of pids.max: forks beyond it fail with EAGAIN. Absent when the cgroup has no limit (\"max\"), so current/limit exists only for limited cgroups; an ancestor's limit may still apply."),
		peak:       cg("pids_peak", "Value of pids.peak (kernel 6.1+): the highest pids.current seen."),
		hits: cg("pids_limit_hits_total", "The \"max\" count of pids.events: forks refused by the pids controller. Which forks it counts depends on crashguard_cgroup_hierarchy_info{controller=\"pids\"}: "+
			"v1 (events=\"local\") counts forks that failed in this cgroup, against its own or an ancestor's limit; v2 with events=\"hierarchical\" (6.11+) counts hits of this cgroup's or any descendant's limit, so do not sum() it across nested cgroups; "+
			"v2 with events=\"local\" (before 6.11, or mounted with pids_localevents) counts hits of this cgroup's limit."),
		hitsLocal: cg("pids_limit_hits_local_total", "The \"max\" count of pids.events.local (cgroup v2, kernel 6.11+): forks refused because this cgroup's own limit was reached; safe to sum() across cgroups, but lost with a deleted cgroup."),
	}
}

// cgroupLabelHelp is appended to the HELP of every per-cgroup series.
const cgroupLabelHelp = " Labels: cgroup is the path below the hierarchy root (capped at 512 bytes); container_id, runtime (docker, containerd, cri-o, podman, lxc, mesos, systemd, unknown, none) and pod_uid are derived from the path alone."

func (c *pidsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inUse, c.pidMax, c.threadsMax, c.current, c.limit, c.peak, c.hits, c.hitsLocal} {
		ch <- d
	}
	describeCgroupSelection(ch)
}

func (c *pidsCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if s, ok := readString(ctx, c.cfg.Proc("loadavg")); ok {
		if n, err := parseLoadavgThreads(s); err == nil {
			ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(n))
		} else {
			reportFileError(ctx, c.cfg.Proc("loadavg"), fsutil.Reason(err), err)
		}
	}
	if n, ok := readUint(ctx, c.cfg.Proc("sys", "kernel", "pid_max")); ok {
		ch <- prometheus.MustNewConstMetric(c.pidMax, prometheus.GaugeValue, float64(n))
	}
	if n, ok := readUint(ctx, c.cfg.Proc("sys", "kernel", "threads-max")); ok {
		ch <- prometheus.MustNewConstMetric(c.threadsMax, prometheus.GaugeValue, float64(n))
	}

	w, ok, err := c.src.walk(ctx, ctrlPids)
	if err != nil {
		return fmt.Errorf("walking the pids cgroup hierarchy: %w", err)
	}
	if !ok {
		return nil
	}
	w.export(ctx, ch, ctrlPids, c.sel.max, func(e *cgroupEntry) {
		lv := e.labels()
		if e.has&hasPidsCurrent != 0 {
			ch <- newCgroupMetric(c.current, prometheus.GaugeValue, float64(e.pidsCurrent), lv)
		}
		if e.has&hasPidsMax != 0 && !isInf(e.pidsMax) {
			ch <- newCgroupMetric(c.limit, prometheus.GaugeValue, e.pidsMax, lv)
		}
		if e.has&hasPidsPeak != 0 {
			ch <- newCgroupMetric(c.peak, prometheus.GaugeValue, float64(e.pidsPeak), lv)
		}
		if e.has&hasPidsEvents != 0 {
			ch <- newCgroupMetric(c.hits, prometheus.CounterValue, float64(e.pidsEvents), lv)
		}
		if e.has&hasPidsEventsLocal != 0 && w.hier.Version == cgroup.V2 {
			ch <- newCgroupMetric(c.hitsLocal, prometheus.CounterValue, float64(e.pidsEventsLoc), lv)
		}
	})
	return nil
}

// parseLoadavgThreads returns the total of /proc/loadavg's fourth field,
// "running/total" (e.g. "0.12 0.04 0.01 1/81 6824" → 81).
func parseLoadavgThreads(s string) (uint64, error) {
	f := strings.Fields(s)
	if len(f) < 4 {
		return 0, fmt.Errorf("%w: /proc/loadavg has %d fields, want 5", fsutil.ErrGarbage, len(f))
	}
	i := strings.IndexByte(f[3], '/')
	if i < 0 {
		return 0, fmt.Errorf("%w: /proc/loadavg field 4 %s is not running/total", fsutil.ErrGarbage, fsutil.Excerpt(f[3]))
	}
	n, err := strconv.ParseUint(f[3][i+1:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: /proc/loadavg field 4 %s is not running/total", fsutil.ErrGarbage, fsutil.Excerpt(f[3]))
	}
	return n, nil
}
