package collector

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
	"github.com/crashguard/crashguard_exporter/internal/kdump"
)

func init() {
	registerCollector("kdump", true, func(FlagGroup) Factory {
		return func(cfg Config, logger log.Logger) (Collector, error) {
			return newKdumpCollector(cfg, logger), nil
		}
	})
}

// kdumpMeminfoMax caps /proc/meminfo, about 1.5 KiB on 6.x kernels.
const kdumpMeminfoMax = 64 << 10

type kdumpCollector struct {
	cfg    Config
	logger log.Logger
	// space finds and statfs's the dump directory off the scrape goroutine.
	space *targetSpace
	boot  *kdumpBoot // initramfs freshness and the default reservation

	capture, loaded, reserved, kexecLoaded     *prometheus.Desc
	regions, iomemBytes                        *prometheus.Desc
	param, requested, memory                   *prometheus.Desc
	configured, target, targetFree, targetSize *prometheus.Desc
	minFree, fadumpEnabled, fadumpRegistered   *prometheus.Desc
}

func newKdumpCollector(cfg Config, logger log.Logger) *kdumpCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "kdump", name), help, labels, nil)
	}
	return &kdumpCollector{
		cfg:              cfg,
		logger:           logger,
		space:            newTargetSpace(os.Stat, statfsBytes),
		boot:             newKdumpBoot(),
		capture:          d("capture_kernel", "1 when this is the capture (kdump) kernel itself (/proc/vmcore exists); no other kdump metrics are exported then."),
		loaded:           d("crash_kernel_loaded", "Value of /sys/kernel/kexec_crash_loaded: 1 when a crash kernel is loaded, so a panic boots it and a dump can be written."),
		reserved:         d("crash_kernel_reserved_bytes", "Value of /sys/kernel/kexec_crash_size: memory reserved for the crash kernel (with crashkernel=X,high only the high region); 0 when nothing is reserved."),
		kexecLoaded:      d("kexec_loaded", "Value of /sys/kernel/kexec_loaded: 1 when a normal kexec kernel is staged for a fast reboot (not crash readiness)."),
		regions:          d("crash_kernel_regions", "Number of \"Crash kernel\" regions in /proc/iomem (two with crashkernel=X,high: high and low)."),
		iomemBytes:       d("crash_kernel_iomem_bytes", "Total size of the \"Crash kernel\" regions in /proc/iomem; absent when the addresses are hidden (reading them needs CAP_SYS_ADMIN)."),
		param:            d("crashkernel_param_info", "Always 1; param holds the crashkernel= parameters of /proc/cmdline as written (capped at 256 bytes). Absent when the command line has none.", "param"),
		requested:        d("crashkernel_requested_bytes", "Memory the crashkernel= parameters ask to reserve on a host with this much RAM (ranges resolved against MemTotal, ,high plus its default or explicit ,low, ,cma). Absent for crashkernel=auto or a malformed parameter."),
		memory:           d("memory_bytes", "MemTotal from /proc/meminfo: what an unfiltered vmcore approaches, to compare the dump target's free space with."),
		configured:       d("target_configured", "1 when a kdump configuration (/etc/kdump.conf, /etc/default/kdump-tools or /etc/sysconfig/kdump under --path.rootfs) exists and enables kdump, else 0."),
		target:           d("target_info", "Always 1; where a crash dump would be written, from the distribution's kdump configuration. type is local, device, raw, nfs, ssh, ftp or cifs; values are capped at 256 bytes.", "distro", "config", "type", "path", "location"),
		targetFree:       d("target_filesystem_free_bytes", "Bytes available to unprivileged users on the filesystem holding a local dump directory (statfs; the nearest existing parent when the directory does not exist yet)."),
		targetSize:       d("target_filesystem_size_bytes", "Size of the filesystem holding a local dump directory."),
		minFree:          d("target_min_free_bytes", "SUSE KDUMP_FREE_DISK_SIZE: free space kdump keeps on a local target; a dump that would leave less is not saved."),
		fadumpEnabled:    d("fadump_enabled", "ppc64 firmware-assisted dump enabled (/sys/kernel/fadump/enabled, or the older /sys/kernel/fadump_enabled)."),
		fadumpRegistered: d("fadump_registered", "ppc64 firmware-assisted dump registered with the firmware (/sys/kernel/fadump/registered, or the older /sys/kernel/fadump_registered)."),
	}
}

func (c *kdumpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.capture, c.loaded, c.reserved, c.kexecLoaded, c.regions, c.iomemBytes,
		c.param, c.requested, c.memory, c.configured, c.target, c.targetFree, c.targetSize, c.minFree,
		c.fadumpEnabled, c.fadumpRegistered} {
		ch <- d
	}
	c.boot.describe(ch)
}

func (c *kdumpCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	// Inside the capture kernel the dump is being written right now; reading
	// the first kernel's configuration would only confuse.
	if _, err := os.Stat(c.cfg.Proc("vmcore")); err == nil {
		ch <- prometheus.MustNewConstMetric(c.capture, prometheus.GaugeValue, 1)
		return nil
	}
	ch <- prometheus.MustNewConstMetric(c.capture, prometheus.GaugeValue, 0)

	for _, v := range []struct {
		desc *prometheus.Desc
		file string
	}{
		{c.loaded, "kexec_crash_loaded"},
		{c.reserved, "kexec_crash_size"},
		{c.kexecLoaded, "kexec_loaded"},
	} {
		// A kernel without CONFIG_KEXEC/CONFIG_CRASH_DUMP has none of these.
		if n, ok := readUint(ctx, c.cfg.Sys("kernel", v.file)); ok {
			ch <- prometheus.MustNewConstMetric(v.desc, prometheus.GaugeValue, float64(n))
		}
	}
	if b, ok := readBytes(ctx, c.cfg.Proc("iomem"), 1<<20); ok {
		n, bytes, hidden := kdump.ParseIomem(string(b))
		ch <- prometheus.MustNewConstMetric(c.regions, prometheus.GaugeValue, float64(n))
		if !hidden {
			ch <- prometheus.MustNewConstMetric(c.iomemBytes, prometheus.GaugeValue, float64(bytes))
		}
	}

	var ram uint64
	meminfo := c.cfg.Proc("meminfo")
	if b, ok := readBytes(ctx, meminfo, kdumpMeminfoMax); ok {
		if n, err := kdump.ParseMemTotal(b); err != nil {
			reportFileError(ctx, meminfo, fsutil.Reason(err), err)
		} else {
			ram = n
			ch <- prometheus.MustNewConstMetric(c.memory, prometheus.GaugeValue, float64(ram))
		}
	}
	if cmdline, ok := readString(ctx, c.cfg.Proc("cmdline")); ok {
		ck, err := kdump.ParseCmdline(cmdline)
		if ck.Present {
			ch <- prometheus.MustNewConstMetric(c.param, prometheus.GaugeValue, 1, capLabel(crashkernelParams(cmdline), 256))
		}
		if err != nil {
			level.Debug(c.logger).Log("msg", "malformed crashkernel= parameter", "err", err)
		}
		if ck.Present && ram > 0 {
			if req, ok := ck.Requested(ram); ok {
				ch <- prometheus.MustNewConstMetric(c.requested, prometheus.GaugeValue, float64(req))
			}
		}
	}

	c.updateTarget(ctx, ch)
	c.boot.update(ctx, c.cfg, ram, ch)
	c.updateFadump(ctx, ch)
	return nil
}

// loadTarget reads the distribution's kdump configuration once per scrape
// for every collector that needs it (kdump, crashfiles).
func loadTarget(ctx context.Context, cfg Config) (kdump.Target, error) {
	type loaded struct {
		t   kdump.Target
		err error
	}
	v, err := shared(ctx, "kdump-target", func() (any, error) {
		t, err := kdump.LoadTarget(cfg.RootPath)
		return loaded{t, err}, nil
	})
	if err != nil {
		return kdump.Target{}, err
	}
	l := v.(loaded)
	return l.t, l.err
}

func (c *kdumpCollector) updateTarget(ctx context.Context, ch chan<- prometheus.Metric) {
	t, err := loadTarget(ctx, c.cfg)
	if err != nil {
		reportFileError(ctx, c.cfg.Root(t.ConfigPath), fsutil.Reason(err), err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.configured, prometheus.GaugeValue, boolFloat(t.Configured && t.Enabled))
	if !t.Configured {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.target, prometheus.GaugeValue, 1, t.Distro, t.ConfigPath, t.Type, t.Path, t.Location)
	if t.FreeDiskSizeBytes > 0 {
		ch <- prometheus.MustNewConstMetric(c.minFree, prometheus.GaugeValue, float64(t.FreeDiskSizeBytes))
	}
	if t.Type != kdump.TypeLocal || !filepath.IsAbs(t.Path) {
		return
	}
	sp, err := c.space.probe(ctx, c.cfg.RootPath, t.Path)
	switch {
	case err == nil:
		ch <- prometheus.MustNewConstMetric(c.targetFree, prometheus.GaugeValue, float64(sp.free))
		ch <- prometheus.MustNewConstMetric(c.targetSize, prometheus.GaugeValue, float64(sp.size))
	case isTimeout(err):
		reportFileError(ctx, c.cfg.Root(t.Path), "timeout", err)
	case sp.dir != "":
		check(ctx, sp.dir, err) // statfs failed
	default:
		check(ctx, c.cfg.Root(t.Path), err)
	}
}

func (c *kdumpCollector) updateFadump(ctx context.Context, ch chan<- prometheus.Metric) {
	for _, v := range []struct {
		desc       *prometheus.Desc
		new, older string
	}{
		{c.fadumpEnabled, "fadump/enabled", "fadump_enabled"},
		{c.fadumpRegistered, "fadump/registered", "fadump_registered"},
	} {
		n, ok := readUint(ctx, c.cfg.Sys("kernel", v.new))
		if !ok {
			n, ok = readUint(ctx, c.cfg.Sys("kernel", v.older))
		}
		if ok {
			ch <- prometheus.MustNewConstMetric(v.desc, prometheus.GaugeValue, float64(n))
		}
	}
}

// crashkernelParams keeps only the crashkernel= tokens of a command line.
func crashkernelParams(cmdline string) string {
	var out []string
	for _, f := range strings.Fields(cmdline) {
		if strings.HasPrefix(f, "crashkernel=") {
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}

// nearestExisting returns the dump directory below root, or its nearest
// existing ancestor: kdump creates the directory on first use, and the space
// that matters is that of the filesystem it will be created on.
func nearestExisting(stat func(string) (os.FileInfo, error), root, hostPath string) (string, error) {
	p := filepath.Clean("/" + hostPath)
	for {
		full := filepath.Join(root, p)
		fi, err := stat(full)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s: %w", full, fsutil.ErrNotRegular)
			}
			return full, nil
		}
		if !fsutil.IsNotExist(err) {
			return "", err
		}
		if p == "/" {
			return "", err
		}
		p = filepath.Dir(p)
	}
}

func statfsBytes(path string) (free, size uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	bs := uint64(st.Bsize)
	return st.Bavail * bs, st.Blocks * bs, nil
}

// isTimeout says whether a probe gave up on a call that did not return.
func isTimeout(err error) bool {
	return errors.Is(err, errCallStuck) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// maxTargetWait caps how long a scrape waits for the dump target's stat and
// statfs, whatever its deadline.
const maxTargetWait = 2 * time.Second

// targetSpace runs the stat walk and statfs of a local dump directory in a
// goroutine of its own, at most one per directory, each scrape waiting for
// it at most half its remaining time (capped at maxWait): a dump target on
// a hung NFS mount is then a timeout for that path while the rest of the
// collector still reports. Once a call outlives the scrape that waited for
// it, later scrapes do not wait for it again but report the timeout at once
// until it returns.
type targetSpace struct {
	stat    func(string) (os.FileInfo, error)
	statfs  func(string) (uint64, uint64, error)
	maxWait time.Duration
	calls   callGroup[string, targetStat]
}

type targetStat struct {
	dir        string // the directory statfs was asked about
	free, size uint64
}

func newTargetSpace(stat func(string) (os.FileInfo, error), statfs func(string) (uint64, uint64, error)) *targetSpace {
	return &targetSpace{stat: stat, statfs: statfs, maxWait: maxTargetWait, calls: callGroup[string, targetStat]{skipStuck: true}}
}

// probe finds the dump directory hostPath below root (or its nearest
// existing parent) and statfs's it. A call that did not return in time
// yields an error wrapping context.DeadlineExceeded or errCallStuck.
func (s *targetSpace) probe(ctx context.Context, root, hostPath string) (targetStat, error) {
	wait := s.maxWait
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl) / 2; d < wait {
			wait = d
		}
	}
	pctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	key := filepath.Join(root, hostPath)
	v, err := s.calls.do(pctx, key, func() (targetStat, error) {
		dir, err := nearestExisting(s.stat, root, hostPath)
		if err != nil {
			return targetStat{}, err
		}
		free, size, err := s.statfs(dir)
		return targetStat{dir: dir, free: free, size: size}, err
	})
	switch {
	case errors.Is(err, errCallStuck):
		return v, fmt.Errorf("stat or statfs of %s: an earlier call has not returned: %w", key, err)
	case err != nil && errors.Is(err, pctx.Err()):
		return v, fmt.Errorf("stat or statfs of %s did not return within %v: %w", key, wait.Round(time.Millisecond), err)
	}
	return v, err
}
