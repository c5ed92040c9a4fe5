package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
	"github.com/crashguard/crashguard_exporter/internal/kdump"
)

// kdumpBoot is the part of the kdump collector that asks whether the
// loaded crash kernel is current (its initramfs) and big enough (the
// distribution's default reservation for this much RAM).
type kdumpBoot struct {
	state, info, initrdTime, configTime, kernelTime, recommended *prometheus.Desc
}

func newKdumpBoot() *kdumpBoot {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "kdump", name), help, labels, nil)
	}
	return &kdumpBoot{
		state: d("initramfs_state", "1 for the verdict on the kdump initramfs of the running kernel (/proc/sys/kernel/osrelease), 0 for the others: ok; "+
			"missing (none, while the kernel image is visible); older_than_config (the kdump configuration changed after it was built: the loaded crash kernel "+
			"keeps the old setup until the kdump service rebuilds it); older_than_kernel; other_kernel (SUSE: built for a kernel no longer installed); "+
			"unknown (neither it nor the kernel image is visible under --path.rootfs, or a file is unusable). Absent without an enabled kdump configuration.", "state"),
		info:       d("initramfs_info", "Always 1; path is the kdump initramfs checked (or the first place it was looked for), release the running kernel.", "path", "release"),
		initrdTime: d("initramfs_modified_timestamp_seconds", "Modification time of the kdump initramfs of the running kernel; absent when there is none."),
		configTime: d("config_modified_timestamp_seconds", "Modification time of the kdump configuration file (the config of crashguard_kdump_target_info), read with the initramfs verdict."),
		kernelTime: d("kernel_image_modified_timestamp_seconds", "Modification time of the running kernel's image (/boot/vmlinuz-<release> or its copy below /usr/lib/modules), read with the initramfs verdict."),
		recommended: d("crashkernel_recommended_bytes", "Memory the distribution's default crashkernel= reserves on a host with this much RAM (MemTotal, resolved as for crashkernel_requested_bytes); "+
			"compare with crash_kernel_reserved_bytes. source names the table: rhel9, rhel10 (kexec-tools/kdump-utils kdump_get_arch_recommend_crashkernel, x86_64 and s390x), "+
			"debian, ubuntu20.04, ubuntu24.04 (kdump-tools' grub.d/kdump-tools.cfg); crashkernel is its value. Absent where no documented table applies "+
			"(SUSE, RHEL 8, RHEL on other architectures) or /etc/os-release is missing.", "source", "crashkernel"),
	}
}

func (b *kdumpBoot) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{b.state, b.info, b.initrdTime, b.configTime, b.kernelTime, b.recommended} {
		ch <- d
	}
}

// update runs after the kdump target was loaded (an error there was
// reported already); ram is MemTotal, 0 when unknown.
func (b *kdumpBoot) update(ctx context.Context, cfg Config, ram uint64, ch chan<- prometheus.Metric) {
	t, err := loadTarget(ctx, cfg)
	if err != nil || !t.Configured || !t.Enabled {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	releasePath := cfg.Proc("sys", "kernel", "osrelease")
	release, ok := readString(ctx, releasePath)
	if ok {
		if err := kdump.ValidRelease(release); err != nil {
			reportFileError(ctx, releasePath, fsutil.Reason(err), err)
			release, ok = "", false
		}
	}
	if ok {
		in := kdump.CheckInitramfs(scrapeTrees(ctx), cfg.RootPath, t, release)
		reportProblems(ctx, in.Problems)
		for _, s := range kdump.InitramfsStates {
			gauge(b.state, boolFloat(s == in.State), s)
		}
		gauge(b.info, 1, in.Initramfs.Path, release)
		for _, f := range []struct {
			desc *prometheus.Desc
			file kdump.File
		}{{b.initrdTime, in.Initramfs}, {b.configTime, in.Config}, {b.kernelTime, in.Kernel}} {
			if f.file.Found {
				gauge(f.desc, float64(f.file.ModTime.UnixNano())/1e9)
			}
		}
	}

	osr, found, err := kdump.LoadOSRelease(scrapeTrees(ctx), cfg.RootPath)
	if err != nil {
		reportProblems(ctx, []error{err})
	}
	if !found || ram == 0 {
		return
	}
	arch, _ := readString(ctx, cfg.Proc("sys", "kernel", "arch"))
	if table, ok := kdump.RecommendedTable(t.Distro, osr, kdump.KernelArch(arch, release)); ok {
		gauge(b.recommended, float64(table.Size(ram)), table.Source, table.Crashkernel)
	}
}
