// Package crash recognises the evidence a crashed host leaves behind: kdump
// directories in /var/crash (RHEL kdump-utils, Debian/Ubuntu kdump-tools, SUSE
// kdump), Ubuntu apport reports, pstore records in /sys/fs/pstore and their
// systemd-pstore archive, and systemd-coredump files. It classifies the reason
// of a kernel crash from the tail of a saved kernel log, and lists crash
// directories without following symlinks, opening special files, letting
// names that are not crash evidence take the place of dumps, or letting a
// hung file system hold the caller past its deadline.
//
// The parsers are pure functions over names and bytes; every value they return
// that may end up in a metric label comes from a bounded set or is normalised
// and capped.
package crash
