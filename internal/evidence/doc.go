// Package evidence reads whether a kernel's last words can leave the
// machine, or survive the reboot, without kdump: the registered pstore
// backend and its sizes, netconsole targets (configfs and the netconsole=
// boot parameter), the consoles of /proc/consoles and the console log
// level of /proc/sys/kernel/printk. It only reads /proc and /sys.
package evidence
