package collector

import (
	"context"
	"slices"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/watchdog"
)

func init() {
	registerCollector("watchdog", true, func(FlagGroup) Factory {
		return func(cfg Config, logger log.Logger) (Collector, error) {
			return newWatchdogCollector(cfg), nil
		}
	})
}

// lockupSysctls are read in this order; Update derives the detectors from
// the last three.
var lockupSysctls = [...]string{"watchdog", "nmi_watchdog", "soft_watchdog", "watchdog_thresh"}

type watchdogCollector struct {
	cfg                                    Config
	sysctl                                 [len(lockupSysctls)]*prometheus.Desc
	detector                               *prometheus.Desc
	devices, info, active, timeout         *prometheus.Desc
	pretimeout, governor, nowayout, bootSt *prometheus.Desc
}

func newWatchdogCollector(cfg Config) *watchdogCollector {
	d := func(subsystem, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, name), help, labels, nil)
	}
	const perDevice = " One series per device in /sys/class/watchdog, as for every crashguard_watchdog_device_ metric."
	return &watchdogCollector{
		cfg: cfg,
		sysctl: [...]*prometheus.Desc{
			d("kernel", "watchdog", "Value of /proc/sys/kernel/watchdog: 1 when a lockup detector runs (soft or hard), 0 when both are switched off."),
			d("kernel", "nmi_watchdog", "Value of /proc/sys/kernel/nmi_watchdog: 1 when the hard lockup detector runs. It reads 0 where no NMI source exists (a VM without a virtual PMU) even when asked for."),
			d("kernel", "soft_watchdog", "Value of /proc/sys/kernel/soft_watchdog: 1 when the soft lockup detector runs."),
			d("kernel", "watchdog_thresh_seconds", "Value of /proc/sys/kernel/watchdog_thresh: a CPU stuck this long is a hard lockup, twice this long a soft lockup; 0 switches both detectors off."),
		},
		detector: d("kernel", "lockup_detector_enabled", "1 when the lockup detector runs, so that lockups are reported and softlockup_panic/hardlockup_panic can act: "+
			"its switch (soft_watchdog, nmi_watchdog) reads 1 and watchdog_thresh is above 0. Hung tasks are detected separately (crashguard_kernel_hung_task_timeout_seconds).", "detector"),
		devices: d("watchdog", "devices", "Number of watchdog devices in /sys/class/watchdog (CONFIG_WATCHDOG_SYSFS); absent when the watchdog core is not loaded. Only an armed device reboots a hung host by itself."),
		info:    d("watchdog", "device_info", "Always 1; identity is the driver's name for the device (sysfs identity)."+perDevice, "device", "identity"),
		active: d("watchdog", "device_active", "1 when the device's state is active: the timer runs and resets the machine unless something (systemd, a watchdog daemon) keeps pinging it; 0 when inactive."+perDevice,
			"device"),
		timeout: d("watchdog", "device_timeout_seconds", "Value of the device's timeout: seconds without a ping before it resets the machine."+perDevice, "device"),
		pretimeout: d("watchdog", "device_pretimeout_seconds", "Value of the device's pretimeout: seconds before the timeout at which the pretimeout fires; 0 is off. Absent for devices without one."+perDevice,
			"device"),
		governor: d("watchdog", "device_pretimeout_governor", "1 for the device's pretimeout governor (pretimeout_governor), 0 for the other known ones (noop, panic); all 0 when none is assigned. "+
			"panic turns a hang the watchdog catches into a panic, and so a crash dump, before the reset."+perDevice, "device", "governor"),
		nowayout: d("watchdog", "device_nowayout", "Value of the device's nowayout: 1 when the timer, once started, cannot be stopped."+perDevice, "device"),
		bootSt: d("watchdog", "device_boot_status", "1 if the WDIOF_ flag is set in the device's bootstatus, which describes the last reset: card_reset means the watchdog itself reset the machine "+
			"(the previous boot hung); overheat, fan_fault, power_under, power_over, extern1, extern2 name other causes. Many drivers report none."+perDevice, "device", "flag"),
	}
}

func (c *watchdogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.sysctl {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{c.detector, c.devices, c.info, c.active, c.timeout, c.pretimeout, c.governor, c.nowayout, c.bootSt} {
		ch <- d
	}
}

func (c *watchdogCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	// A kernel without CONFIG_LOCKUP_DETECTOR has none of the sysctls.
	var v [len(lockupSysctls)]int64
	var ok [len(lockupSysctls)]bool
	for i, name := range lockupSysctls {
		if v[i], ok[i] = readInt(ctx, c.cfg.Proc("sys", "kernel", name)); ok[i] {
			ch <- prometheus.MustNewConstMetric(c.sysctl[i], prometheus.GaugeValue, float64(v[i]))
		}
	}
	soft, hard := watchdog.Detectors(v[2], v[1], v[3])
	if ok[2] && ok[3] {
		ch <- prometheus.MustNewConstMetric(c.detector, prometheus.GaugeValue, boolFloat(soft), "soft")
	}
	if ok[1] && ok[3] {
		ch <- prometheus.MustNewConstMetric(c.detector, prometheus.GaugeValue, boolFloat(hard), "hard")
	}

	scan := watchdog.ReadDevices(scrapeTrees(ctx), c.cfg.Sys("class", "watchdog"))
	reportProblems(ctx, scan.Problems)
	if !scan.Present {
		return nil
	}
	ch <- prometheus.MustNewConstMetric(c.devices, prometheus.GaugeValue, float64(len(scan.Devices)))
	for _, d := range scan.Devices {
		c.emitDevice(ch, d)
	}
	return nil
}

func (c *watchdogCollector) emitDevice(ch chan<- prometheus.Metric, d watchdog.Device) {
	gauge := func(desc *prometheus.Desc, attr watchdog.Attr, v float64, labels ...string) {
		if d.Has&attr != 0 {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{d.Name}, labels...)...)
		}
	}
	gauge(c.info, watchdog.AttrIdentity, 1, d.Identity)
	gauge(c.active, watchdog.AttrState, boolFloat(d.Active))
	gauge(c.timeout, watchdog.AttrTimeout, float64(d.Timeout))
	gauge(c.pretimeout, watchdog.AttrPretimeout, float64(d.Pretimeout))
	gauge(c.nowayout, watchdog.AttrNowayout, boolFloat(d.Nowayout))
	for _, g := range watchdog.Governors {
		gauge(c.governor, watchdog.AttrGovernor, boolFloat(d.Governor == g), g)
	}
	if d.Governor != "" && !slices.Contains(watchdog.Governors, d.Governor) {
		// A governor this exporter does not know yet; one per device.
		gauge(c.governor, watchdog.AttrGovernor, 1, d.Governor)
	}
	for _, f := range watchdog.BootFlags {
		gauge(c.bootSt, watchdog.AttrBootStatus, boolFloat(d.BootStatus&f.Bit != 0), f.Name)
	}
}
