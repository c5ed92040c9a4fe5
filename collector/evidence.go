package collector

import (
	"context"
	"strconv"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/evidence"
	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func init() {
	registerCollector("evidence", true, func(FlagGroup) Factory {
		return func(cfg Config, logger log.Logger) (Collector, error) {
			return newEvidenceCollector(cfg, logger), nil
		}
	})
}

// consolesMax caps /proc/consoles, one short line per console.
const consolesMax = 64 << 10

// printkLevels are the fields of /proc/sys/kernel/printk, in order.
var printkLevels = [...]struct{ name, help string }{
	{"console_loglevel", "console_loglevel: messages below this level reach the consoles (loglevel=, quiet sets 4, dmesg -n)."},
	{"default_message_loglevel", "default_message_loglevel: the level of messages printed without one (KERN_DEFAULT), such as call traces."},
	{"minimum_console_loglevel", "minimum_console_loglevel: the lowest console_loglevel that can be set."},
	{"default_console_loglevel", "default_console_loglevel: console_loglevel at boot."},
}

type evidenceCollector struct {
	cfg                                      Config
	logger                                   log.Logger
	backend, backendInfo, kmsgBytes, efiOff  *prometheus.Desc
	ramoops, ramoopsECC, ramoopsReason       *prometheus.Desc
	consoleInfo, consoleFlag, consolesOn     *prometheus.Desc
	printk                                   [len(printkLevels)]*prometheus.Desc
	ignoreLoglevel, visible                  *prometheus.Desc
	ncTargets, ncInfo, ncEnabled, ncExtended *prometheus.Desc
}

func newEvidenceCollector(cfg Config, logger log.Logger) *evidenceCollector {
	d := func(subsystem, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, subsystem, name), help, labels, nil)
	}
	const perConsole = " One series per line of /proc/consoles."
	const perTarget = " One series per netconsole target (configfs directories, netconsole= entries)."
	c := &evidenceCollector{
		cfg:    cfg,
		logger: logger,
		backend: d("pstore", "backend_registered", "1 when a pstore backend is registered (/sys/module/pstore/parameters/backend is not \"(null)\"): "+
			"an oops or panic log can then be written to persistent storage and read after the reboot in /sys/fs/pstore. Absent without CONFIG_PSTORE."),
		backendInfo: d("pstore", "backend_info", "Always 1; backend is the registered pstore backend (erst, efi_pstore, ramoops, ...; one at a time).", "backend"),
		kmsgBytes:   d("pstore", "kmsg_bytes", "Value of /sys/module/pstore/parameters/kmsg_bytes: how much of the kernel log an oops or panic record keeps."),
		efiOff: d("pstore", "efi_disabled", "Value of /sys/module/efi_pstore/parameters/pstore_disable as 1 (Y) or 0 (N): 1 when the EFI variable backend is switched off "+
			"(efi_pstore.pstore_disable=1, CONFIG_EFI_VARS_PSTORE_DEFAULT_DISABLE). Absent without efi_pstore."),
		ramoops: d("pstore", "ramoops_bytes", "Ramoops sizes from /sys/module/ramoops/parameters (mode 0400: needs root), read while ramoops is the registered backend: "+
			"total is mem_size, the reserved RAM the others share; record each oops/panic dump (record_size), console the previous boot's console log, ftrace, pmsg user-space messages.", "region"),
		ramoopsECC: d("pstore", "ramoops_ecc_bytes", "Value of ramoops' ecc, read while ramoops is the registered backend: ECC bytes per block guarding records against bit flips in RAM; 0 is off, 1 means 16."),
		ramoopsReason: d("pstore", "ramoops_max_reason", "Value of ramoops' max_reason, read while ramoops is the registered backend: 1 keeps panics only, 2 oopses too (the default), "+
			"3 and up also emergency reboots and shutdowns."),
		consoleInfo: d("console", "info", "Always 1; kind sorts the console by name: serial (ttyS, ttyAMA, ...), hypervisor (hvc, hvsi, ttysclp), vt (tty0), netconsole (netcon), pstore, other."+perConsole,
			"console", "kind"),
		consoleFlag: d("console", "flag", "1 if the console's flag is set in /proc/consoles, 0 if not: enabled (E: it prints; newer kernels list only consoles that print), preferred (C: backs /dev/console), "+
			"boot (B: an early console), nbcon (N), printbuffer (p), braille (b), anytime (a: prints while a CPU is offline)."+perConsole, "console", "flag"),
		consolesOn: d("console", "enabled_consoles", "Number of enabled consoles of each kind in /proc/consoles. A serial or hypervisor console is what records an oops when the machine cannot "+
			"write anything itself.", "kind"),
		ignoreLoglevel: d("printk", "ignore_loglevel", "Value of /sys/module/printk/parameters/ignore_loglevel as 1 (Y) or 0 (N): 1 prints every message on the consoles whatever its level."),
		visible: d("console", "reports_visible", "1 when the kernel report reaches the consoles at the current log levels (/proc/sys/kernel/printk, ignore_loglevel): "+
			"oops (an oops or panic raises the console level before printing; lost only at console_loglevel 0), warning (WARN, soft lockup and RCU stall traces, printed at 4 and at "+
			"default_message_loglevel: need console_loglevel above both), hung_task (the blocked task's stack is printed at 6: needs console_loglevel 7 or more).", "report"),
		ncTargets: d("netconsole", "targets", "Number of netconsole targets: source configfs counts /sys/kernel/config/netconsole/* (absent without CONFIG_NETCONSOLE_DYNAMIC), "+
			"cmdline the well-formed entries of netconsole= or netconsole.netconsole= in /proc/cmdline (a malformed entry sets up nothing). A running netconsole shows in /proc/consoles as netcon0 or netcon_ext0.", "source"),
		ncInfo: d("netconsole", "target_info", "Always 1; where the target sends the kernel log: interface (dev_name, or a MAC), local_ip (empty: the interface's), remote_ip, remote_port (UDP)."+perTarget,
			"source", "target", "interface", "local_ip", "remote_ip", "remote_port"),
		ncEnabled:  d("netconsole", "target_enabled", "Value of the configfs target's enabled attribute: 1 when it sends. Boot targets (source cmdline) have none."+perTarget, "source", "target"),
		ncExtended: d("netconsole", "target_extended", "1 when the target sends extended records (/dev/kmsg format: '+' in netconsole=, configfs extended)."+perTarget, "source", "target"),
	}
	for i, l := range printkLevels {
		c.printk[i] = d("printk", l.name, "Field "+strconv.Itoa(i+1)+" of /proc/sys/kernel/printk, "+l.help)
	}
	return c
}

func (c *evidenceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.backend, c.backendInfo, c.kmsgBytes, c.efiOff, c.ramoops, c.ramoopsECC, c.ramoopsReason,
		c.consoleInfo, c.consoleFlag, c.consolesOn, c.ignoreLoglevel, c.visible, c.ncTargets, c.ncInfo, c.ncEnabled, c.ncExtended} {
		ch <- d
	}
	for _, d := range c.printk {
		ch <- d
	}
}

func (c *evidenceCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ps := evidence.ReadPstore(scrapeTrees(ctx), c.cfg.Sys("module"))
	reportProblems(ctx, ps.Problems)
	if ps.Present {
		gauge(c.backend, boolFloat(ps.Backend != ""))
		if ps.Backend != "" {
			gauge(c.backendInfo, 1, ps.Backend)
		}
		if ps.HasKmsgBytes {
			gauge(c.kmsgBytes, float64(ps.KmsgBytes))
		}
		if ps.HasEFIDisabled {
			gauge(c.efiOff, boolFloat(ps.EFIDisabled))
		}
		for _, r := range evidence.RamoopsRegions {
			if v, ok := ps.Ramoops[r.Region]; ok {
				gauge(c.ramoops, float64(v), r.Region)
			}
		}
		if ps.HasECC {
			gauge(c.ramoopsECC, float64(ps.RamoopsECC))
		}
		if ps.HasMaxReason {
			gauge(c.ramoopsReason, float64(ps.MaxReason))
		}
	}
	c.updateConsoles(ctx, gauge, ps.Backend)
	c.updateNetconsole(ctx, gauge)
	return nil
}

func (c *evidenceCollector) updateConsoles(ctx context.Context, gauge func(*prometheus.Desc, float64, ...string), pstoreBackend string) {
	path := c.cfg.Proc("consoles")
	if b, ok := readBytes(ctx, path, consolesMax); ok {
		consoles, err := evidence.ParseConsoles(b, pstoreBackend)
		if err != nil {
			reportFileError(ctx, path, "garbage", err)
		} else {
			enabled := map[string]int{}
			for _, con := range consoles {
				gauge(c.consoleInfo, 1, con.Name, con.Kind)
				for _, f := range evidence.Flags {
					gauge(c.consoleFlag, boolFloat(con.Flags[f.Name]), con.Name, f.Name)
				}
				if con.Enabled {
					enabled[con.Kind]++
				}
			}
			for _, k := range evidence.Kinds {
				gauge(c.consolesOn, float64(enabled[k]), k)
			}
		}
	}
	ignore, haveIgnore := readString(ctx, c.cfg.Sys("module", "printk", "parameters", "ignore_loglevel"))
	if path := c.cfg.Sys("module", "printk", "parameters", "ignore_loglevel"); haveIgnore && ignore != "Y" && ignore != "N" {
		reportFileError(ctx, path, "garbage", fsutil.Garbage(path, "want Y or N, got "+fsutil.Excerpt(ignore)))
		haveIgnore = false
	}
	if haveIgnore {
		gauge(c.ignoreLoglevel, boolFloat(ignore == "Y"))
	}
	path = c.cfg.Proc("sys", "kernel", "printk")
	if s, ok := readString(ctx, path); ok {
		p, err := evidence.ParsePrintk(s)
		if err != nil {
			reportFileError(ctx, path, "garbage", err)
			return
		}
		for i, v := range [...]int{p.ConsoleLevel, p.DefaultMessageLevel, p.MinimumConsoleLevel, p.DefaultConsoleLevel} {
			gauge(c.printk[i], float64(v))
		}
		for _, r := range evidence.ReportKinds {
			gauge(c.visible, boolFloat(evidence.Visible(p, ignore == "Y", r)), r)
		}
	}
}

func (c *evidenceCollector) updateNetconsole(ctx context.Context, gauge func(*prometheus.Desc, float64, ...string)) {
	emit := func(source string, t evidence.Target) {
		port := strconv.Itoa(int(t.RemotePort))
		gauge(c.ncInfo, 1, source, t.Name, t.Device, t.LocalIP, t.RemoteIP, port)
		gauge(c.ncExtended, boolFloat(t.Extended), source, t.Name)
		if t.HasEnabled {
			gauge(c.ncEnabled, boolFloat(t.Enabled), source, t.Name)
		}
	}
	cfs := evidence.ReadConfigfs(scrapeTrees(ctx), c.cfg.Sys("kernel", "config", "netconsole"))
	reportProblems(ctx, cfs.Problems)
	if cfs.Present {
		gauge(c.ncTargets, float64(len(cfs.Targets)), "configfs")
		for _, t := range cfs.Targets {
			emit("configfs", t)
		}
	}
	if cmdline, ok := readString(ctx, c.cfg.Proc("cmdline")); ok {
		targets, malformed := evidence.CmdlineTargets(cmdline)
		for _, err := range malformed {
			level.Debug(c.logger).Log("msg", "malformed netconsole= entry; the kernel sets up no target from it", "err", err)
		}
		gauge(c.ncTargets, float64(len(targets)), "cmdline")
		for _, t := range targets {
			emit("cmdline", t)
		}
	}
}
