// Package crash recognises the evidence a crashed host leaves behind: kdump
// directories in /var/crash (RHEL kdump-utils, Debian/Ubuntu kdump-tools, SUSE
// kdump), Ubuntu apport reports, pstore records in /sys/fs/pstore and their
// systemd-pstore archive, and systemd-coredump files. It classifies the reason
// of a kernel crash from the tail of a saved kernel log, and lists crash
// directories without following symlinks, opening special files, letting
// names that are not crash evidence take the place of dumps, or letting a
// hung file system hold the caller past its deadline.
//
// Scanner.Scan puts this together for one directory (a Location) and
// returns an Inventory: kernel dumps by state with the newest one's
// classified reason, pstore records by backend and kind, user-space core
// dumps, what the scan left out, and the files it could not use. It knows
// nothing of metrics; the caller decides what to export and where to
// report problems.
//
// The parsers are pure functions over names and bytes; every value they return
// that may end up in a metric label comes from a bounded set or is normalised
// and capped.
package crash
