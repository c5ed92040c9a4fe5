package collector

import (
	"context"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/kmsg"
	"github.com/crashguard/crashguard_exporter/internal/taint"
)

func init() {
	registerCollector("kernel", true, func(FlagGroup) Factory {
		return func(cfg Config, logger log.Logger) (Collector, error) {
			return newKernelCollector(cfg), nil
		}
	})
}

// kernelCounter is one of the kernel's own event counters since boot. They
// arrived one by one (6.2 oops/warn, 6.13 hung tasks, ~6.16 lockups and RCU
// stalls); an older kernel simply lacks the file and the series.
type kernelCounter struct {
	desc *prometheus.Desc
	path func(Config) string
}

type kernelCollector struct {
	cfg      Config
	tainted  *prometheus.Desc
	flag     *prometheus.Desc
	bootInfo *prometheus.Desc
	counters []kernelCounter
}

func newKernelCollector(cfg Config) *kernelCollector {
	counter := func(name, help string, path func(Config) string) kernelCounter {
		return kernelCounter{
			desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "kernel", name), help, nil, nil),
			path: path,
		}
	}
	sysKernel := func(f string) func(Config) string { return func(c Config) string { return c.Sys("kernel", f) } }
	return &kernelCollector{
		cfg: cfg,
		tainted: prometheus.NewDesc(prometheus.BuildFQName(namespace, "kernel", "tainted"),
			"Value of /proc/sys/kernel/tainted: the kernel's taint mask, 0 when untainted.", nil, nil),
		flag: prometheus.NewDesc(prometheus.BuildFQName(namespace, "kernel", "taint_flag"),
			"1 if the taint flag is set in /proc/sys/kernel/tainted, 0 if not; one series per flag the kernel documents (flag \"died\", letter D, means an oops or BUG happened since boot).",
			[]string{"flag", "letter"}, nil),
		bootInfo: prometheus.NewDesc(prometheus.BuildFQName(namespace, "kernel", "boot_info"),
			"Always 1; boot_id from /proc/sys/kernel/random/boot_id changes at every boot.", []string{"boot_id"}, nil),
		counters: []kernelCounter{
			counter("oops_total", "Oopses since boot, from /sys/kernel/oops_count (Linux 6.2+).", sysKernel("oops_count")),
			counter("warnings_total", "Kernel warnings (WARN) since boot, from /sys/kernel/warn_count (Linux 6.2+).", sysKernel("warn_count")),
			counter("soft_lockups_total", "Soft lockups detected since boot, from /sys/kernel/softlockup_count.", sysKernel("softlockup_count")),
			counter("hard_lockups_total", "Hard lockups detected since boot, from /sys/kernel/hardlockup_count.", sysKernel("hardlockup_count")),
			counter("rcu_stalls_total", "RCU stalls detected since boot, from /sys/kernel/rcu_stall_count.", sysKernel("rcu_stall_count")),
			counter("hung_tasks_total", "Hung tasks detected since boot, from /proc/sys/kernel/hung_task_detect_count (Linux 6.13+).",
				func(c Config) string { return c.Proc("sys", "kernel", "hung_task_detect_count") }),
		},
	}
}

func (c *kernelCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tainted
	ch <- c.flag
	ch <- c.bootInfo
	for _, k := range c.counters {
		ch <- k.desc
	}
}

func (c *kernelCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	if v, ok := readUint(ctx, c.cfg.Proc("sys", "kernel", "tainted")); ok {
		ch <- prometheus.MustNewConstMetric(c.tainted, prometheus.GaugeValue, float64(v))
		for _, f := range taint.Decode(v) {
			ch <- prometheus.MustNewConstMetric(c.flag, prometheus.GaugeValue, boolFloat(f.Set), f.Name, f.Letter)
		}
	}
	// Only the kernel's UUID form is accepted, so a garbage file cannot put
	// arbitrary text into a label.
	if id, err := kmsg.ReadBootID(c.cfg.ProcPath); check(ctx, c.cfg.Proc("sys", "kernel", "random", "boot_id"), err) {
		ch <- prometheus.MustNewConstMetric(c.bootInfo, prometheus.GaugeValue, 1, id)
	}
	for _, k := range c.counters {
		if v, ok := readUint(ctx, k.path(c.cfg)); ok {
			ch <- prometheus.MustNewConstMetric(k.desc, prometheus.CounterValue, float64(v))
		}
	}
	return nil
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
