// Package watchdog reads what decides whether a hung Linux host is noticed
// and recovers by itself: the kernel's lockup detectors (kernel.watchdog,
// nmi_watchdog, soft_watchdog, watchdog_thresh) and the watchdog devices of
// /sys/class/watchdog (CONFIG_WATCHDOG_SYSFS). It reads sysfs attributes
// only and never opens /dev/watchdog*: opening that device arms the timer.
package watchdog
