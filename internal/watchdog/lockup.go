package watchdog

// Detectors says which lockup detectors run, from the values of
// /proc/sys/kernel/soft_watchdog, nmi_watchdog and watchdog_thresh.
//
// Reading soft_watchdog and nmi_watchdog returns the effective state
// (proc_watchdog_common reports watchdog_enabled, which
// lockup_detector_update_enable computes from kernel.watchdog, the
// per-detector switch and, for the hard detector, whether the hardware or
// perf NMI is available): a VM without a virtual PMU reads nmi_watchdog 0
// even when it was asked for. A detector also needs watchdog_thresh > 0;
// 0 turns both off while the switches still read 1 (is_softlockup and
// is_hardlockup test both).
func Detectors(softWatchdog, nmiWatchdog, thresh int64) (soft, hard bool) {
	return softWatchdog == 1 && thresh > 0, nmiWatchdog == 1 && thresh > 0
}
