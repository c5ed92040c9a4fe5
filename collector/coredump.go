package collector

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/corepattern"
	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func init() {
	registerCollector("coredump", true, func(FlagGroup) Factory {
		return func(cfg Config, logger log.Logger) (Collector, error) {
			return newCoredumpCollector(cfg), nil
		}
	})
}

var systemdStorages = []string{corepattern.StorageNone, corepattern.StorageExternal, corepattern.StorageJournal, corepattern.StorageBoth}

type coredumpCollector struct {
	cfg       Config
	handler   *prometheus.Desc
	pattern   *prometheus.Desc
	usesPID   *prometheus.Desc
	pipeLimit *prometheus.Desc
	suid      *prometheus.Desc
	initLimit *prometheus.Desc
	storage   *prometheus.Desc
}

func newCoredumpCollector(cfg Config) *coredumpCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "coredump", name), help, labels, nil)
	}
	return &coredumpCollector{
		cfg: cfg,
		handler: d("handler", "1 for the handler /proc/sys/kernel/core_pattern sends user-space core dumps to, 0 for the others "+
			"(systemd-coredump, apport, abrt, pipe = another helper, socket, file, disabled).", "handler"),
		pattern:   d("pattern_info", "Always 1; pattern is /proc/sys/kernel/core_pattern (at most 127 bytes, one per host), helper the basename of a pipe helper.", "pattern", "helper"),
		usesPID:   d("uses_pid", "Value of /proc/sys/kernel/core_uses_pid: 1 appends .PID to file core dumps.", nil...),
		pipeLimit: d("pipe_limit", "Value of /proc/sys/kernel/core_pipe_limit: how many crashing processes may be piped to the helper at once; 0 is unlimited.", nil...),
		suid:      d("suid_dumpable", "Value of /proc/sys/fs/suid_dumpable: 0 no dumps of setuid programs, 1 debug (insecure), 2 readable by root only.", nil...),
		initLimit: d("init_core_limit_bytes", "RLIMIT_CORE of PID 1 from /proc/1/limits (inherited by services unless they override it); +Inf is unlimited. "+
			"A pipe handler ignores it except that a limit of 1 disables dumps.", "limit"),
		storage: d("systemd_storage", "1 for systemd-coredump's effective Storage= (coredump.conf and its drop-ins under --path.rootfs), 0 for the others; absent when no coredump.conf exists.", "storage"),
	}
}

func (c *coredumpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.handler, c.pattern, c.usesPID, c.pipeLimit, c.suid, c.initLimit, c.storage} {
		ch <- d
	}
}

func (c *coredumpCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	patternPath := c.cfg.Proc("sys", "kernel", "core_pattern")
	if p, ok := readBytes(ctx, patternPath, 4096); ok && len(p) == 0 {
		// The kernel ends even an empty pattern with a newline: nothing at
		// all is not a pattern, and must not read as "dumps disabled".
		reportFileError(ctx, patternPath, "garbage", fmt.Errorf("%w: empty file", fsutil.ErrGarbage))
	} else if ok {
		pattern := strings.TrimRight(string(p), "\n")
		h := corepattern.Classify(pattern)
		for _, name := range corepattern.Handlers() {
			ch <- prometheus.MustNewConstMetric(c.handler, prometheus.GaugeValue, boolFloat(name == h.Name), name)
		}
		ch <- prometheus.MustNewConstMetric(c.pattern, prometheus.GaugeValue, 1, capLabel(pattern, 128), h.Helper)
	}
	for _, v := range []struct {
		desc *prometheus.Desc
		path string
	}{
		{c.usesPID, c.cfg.Proc("sys", "kernel", "core_uses_pid")},
		{c.pipeLimit, c.cfg.Proc("sys", "kernel", "core_pipe_limit")},
		{c.suid, c.cfg.Proc("sys", "fs", "suid_dumpable")},
	} {
		if n, ok := readInt(ctx, v.path); ok {
			ch <- prometheus.MustNewConstMetric(v.desc, prometheus.GaugeValue, float64(n))
		}
	}
	limitsPath := c.cfg.Proc("1", "limits")
	if b, ok := readBytes(ctx, limitsPath, 64<<10); ok {
		soft, hard, err := parseCoreLimit(string(b))
		if err != nil {
			reportFileError(ctx, limitsPath, "garbage", err)
		} else {
			ch <- prometheus.MustNewConstMetric(c.initLimit, prometheus.GaugeValue, soft, "soft")
			ch <- prometheus.MustNewConstMetric(c.initLimit, prometheus.GaugeValue, hard, "hard")
		}
	}
	storage, configured, err := corepattern.LoadStorage(c.cfg.RootPath)
	if err != nil {
		// Name the file at fault (a drop-in, say), not just the main one.
		p := c.cfg.Root("etc", "systemd", "coredump.conf")
		var pe *fs.PathError
		if errors.As(err, &pe) {
			p = pe.Path
		}
		reportFileError(ctx, p, fsutil.Reason(err), err)
	} else if configured {
		for _, s := range systemdStorages {
			ch <- prometheus.MustNewConstMetric(c.storage, prometheus.GaugeValue, boolFloat(s == storage), s)
		}
	}
	return nil
}

// parseCoreLimit reads the "Max core file size" row of /proc/<pid>/limits.
// procfs parses only the soft limit; the hard limit matters too because it
// caps what a service may raise its own limit to.
func parseCoreLimit(limits string) (soft, hard float64, err error) {
	const row = "Max core file size"
	for _, line := range strings.Split(limits, "\n") {
		if !strings.HasPrefix(line, row) {
			continue
		}
		f := strings.Fields(line[len(row):])
		if len(f) < 2 {
			return 0, 0, fmt.Errorf("short row %s", fsutil.Excerpt(line))
		}
		if soft, err = parseLimitValue(f[0]); err != nil {
			return 0, 0, err
		}
		if hard, err = parseLimitValue(f[1]); err != nil {
			return 0, 0, err
		}
		return soft, hard, nil
	}
	return 0, 0, fmt.Errorf("no %q row", row)
}

func parseLimitValue(s string) (float64, error) {
	if s == "unlimited" {
		return math.Inf(1), nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad limit %s", fsutil.Excerpt(s))
	}
	return float64(v), nil
}

// capLabel bounds a label value taken from a file, keeping valid UTF-8; a
// rune cut by the cap is dropped.
func capLabel(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
