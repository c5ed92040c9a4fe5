package collector

import (
	"context"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/sysrq"
)

func init() {
	registerCollector("sysrq", true, func(FlagGroup) Factory {
		return func(cfg Config, logger log.Logger) (Collector, error) {
			return newSysrqCollector(cfg), nil
		}
	})
}

// policySysctl is one panic/oops/lockup policy knob. Knobs a kernel lacks
// (x86-only NMI ones, options not compiled in) are not exported.
type policySysctl struct {
	desc *prometheus.Desc
	path []string // below /proc/sys
}

type sysrqCollector struct {
	cfg      Config
	mask     *prometheus.Desc
	function *prometheus.Desc
	crash    *prometheus.Desc
	policy   []policySysctl
}

func newSysrqCollector(cfg Config) *sysrqCollector {
	knob := func(subsystem, name, help string, path ...string) policySysctl {
		return policySysctl{
			desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, name), help, nil, nil),
			path: path,
		}
	}
	return &sysrqCollector{
		cfg: cfg,
		mask: prometheus.NewDesc(prometheus.BuildFQName(namespace, "sysrq", "mask"),
			"Value of /proc/sys/kernel/sysrq: 0 disabled, 1 every function, otherwise a bitmask of allowed keyboard functions.", nil, nil),
		function: prometheus.NewDesc(prometheus.BuildFQName(namespace, "sysrq", "function_enabled"),
			"1 if the SysRq keyboard function group is allowed by /proc/sys/kernel/sysrq. The mask gates the keyboard only; /proc/sysrq-trigger always works for root.",
			[]string{"function"}, nil),
		crash: prometheus.NewDesc(prometheus.BuildFQName(namespace, "sysrq", "crash_trigger_enabled"),
			"1 if SysRq-c (force a crash, and so a dump of a hung machine) is allowed from the keyboard: mask 1 or bit 8 set.", nil, nil),
		policy: []policySysctl{
			knob("kernel", "panic_timeout_seconds", "Value of /proc/sys/kernel/panic: seconds before rebooting after a panic; 0 waits forever, negative reboots at once.", "kernel", "panic"),
			knob("kernel", "panic_on_oops", "Value of /proc/sys/kernel/panic_on_oops: 1 turns every oops into a panic (and so a crash dump).", "kernel", "panic_on_oops"),
			knob("kernel", "panic_on_warn", "Value of /proc/sys/kernel/panic_on_warn: 1 panics on any kernel WARN.", "kernel", "panic_on_warn"),
			knob("kernel", "softlockup_panic", "Value of /proc/sys/kernel/softlockup_panic: 1 panics on a soft lockup.", "kernel", "softlockup_panic"),
			knob("kernel", "hardlockup_panic", "Value of /proc/sys/kernel/hardlockup_panic: 1 panics on a hard lockup.", "kernel", "hardlockup_panic"),
			knob("kernel", "hung_task_panic", "Value of /proc/sys/kernel/hung_task_panic: non-zero panics when a task hangs.", "kernel", "hung_task_panic"),
			knob("kernel", "hung_task_timeout_seconds", "Value of /proc/sys/kernel/hung_task_timeout_secs: how long a task may sit in D state before it is reported; 0 disables the check.", "kernel", "hung_task_timeout_secs"),
			knob("kernel", "panic_on_rcu_stall", "Value of /proc/sys/kernel/panic_on_rcu_stall: 1 panics on an RCU stall.", "kernel", "panic_on_rcu_stall"),
			knob("kernel", "unknown_nmi_panic", "Value of /proc/sys/kernel/unknown_nmi_panic (x86): 1 panics on an unknown NMI, which lets a hypervisor or BMC NMI force a dump.", "kernel", "unknown_nmi_panic"),
			knob("kernel", "panic_on_io_nmi", "Value of /proc/sys/kernel/panic_on_io_nmi (x86): 1 panics on an I/O channel check NMI.", "kernel", "panic_on_io_nmi"),
			knob("kernel", "panic_on_unrecovered_nmi", "Value of /proc/sys/kernel/panic_on_unrecovered_nmi (x86): 1 panics on an unrecovered NMI.", "kernel", "panic_on_unrecovered_nmi"),
			knob("vm", "panic_on_oom", "Value of /proc/sys/vm/panic_on_oom: 0 kills a process, 1 panics on a global OOM, 2 panics on any OOM including memory cgroups.", "vm", "panic_on_oom"),
		},
	}
}

func (c *sysrqCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.mask
	ch <- c.function
	ch <- c.crash
	for _, p := range c.policy {
		ch <- p.desc
	}
}

func (c *sysrqCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	// A kernel without CONFIG_MAGIC_SYSRQ has no file: no SysRq series at all.
	if mask, ok := readInt(ctx, c.cfg.Proc("sys", "kernel", "sysrq")); ok {
		ch <- prometheus.MustNewConstMetric(c.mask, prometheus.GaugeValue, float64(mask))
		for _, f := range sysrq.Decode(mask) {
			ch <- prometheus.MustNewConstMetric(c.function, prometheus.GaugeValue, boolFloat(f.Enabled), f.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.crash, prometheus.GaugeValue, boolFloat(sysrq.CrashAllowed(mask)))
	}
	for _, p := range c.policy {
		if v, ok := readInt(ctx, c.cfg.Proc(append([]string{"sys"}, p.path...)...)); ok {
			ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, float64(v))
		}
	}
	return nil
}
