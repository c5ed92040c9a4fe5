// Package dm discovers device-mapper thin pools and thin volumes and reads
// what the kernel says about them.
//
// Inspect combines three sources into a Snapshot (devices, thin pools, thin
// volumes, dm mounts, and the inputs that could not be used):
//   - sysfs (/sys/block/dm-*), world-readable: names, uuids, stacking
//     (slaves/holders) and the queue's discard limits. sysfs never shows a
//     target's table or status, so a thin pool is recognised here by the
//     names LVM and Docker give it.
//   - the device-mapper ioctl on /dev/mapper/control (CAP_SYS_ADMIN):
//     DM_TABLE_STATUS returns the thin-pool table (requested features) and
//     status (usage, mode and the effective discard mode, which the kernel
//     may have downgraded). Status is always requested with DM_NOFLUSH_FLAG
//     so that reading it never makes the pool commit its metadata. Inspect
//     reaches it through a Source (the control node, or a DirSource of
//     dmsetup-format fixtures) and lets its caller run each possibly
//     blocking call under a deadline.
//   - /proc/1/mounts (/proc/self/mounts when that is not readable): whether
//     file systems on dm devices discard online.
//
// The package knows nothing of metrics. Parsers are pure functions over
// strings and bytes and never panic.
package dm
