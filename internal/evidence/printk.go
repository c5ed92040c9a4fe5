package evidence

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Printk is /proc/sys/kernel/printk: four log levels (0 KERN_EMERG ... 7
// KERN_DEBUG). A message reaches the consoles when its level is below
// ConsoleLevel.
type Printk struct {
	ConsoleLevel        int // console_loglevel, what "dmesg -n" and loglevel= set
	DefaultMessageLevel int // the level of messages printed with KERN_DEFAULT
	MinimumConsoleLevel int // the lowest console_loglevel that can be set
	DefaultConsoleLevel int // console_loglevel at boot
}

// ParsePrintk reads the four tab-separated fields the kernel prints.
func ParsePrintk(s string) (Printk, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return Printk{}, fmt.Errorf("%w: want 4 log levels, got %s", fsutil.ErrGarbage, fsutil.Excerpt(s))
	}
	var v [4]int
	for i := range f {
		n, err := strconv.Atoi(f[i])
		// The kernel clamps writes to 0..15 (CONSOLE_LOGLEVEL_MOTORMOUTH).
		if err != nil || n < 0 || n > 15 {
			return Printk{}, fmt.Errorf("%w: log level %s", fsutil.ErrGarbage, fsutil.Excerpt(f[i]))
		}
		v[i] = n
	}
	return Printk{v[0], v[1], v[2], v[3]}, nil
}

// Reports whose visibility on the consoles Visible decides.
const (
	ReportOops     = "oops"
	ReportWarning  = "warning"
	ReportHungTask = "hung_task"
)

// ReportKinds lists the reports Visible decides, for state sets.
var ReportKinds = []string{ReportOops, ReportWarning, ReportHungTask}

// Visible says whether a kind of kernel report reaches the consoles
// (serial, netconsole, pstore console alike) with these levels, by the
// levels the kernel prints them at:
//
//   - oops: an oops or panic raises the console level to 15 before
//     printing (console_verbose() in oops_begin and panic), so it is shown
//     whatever the level, unless the level is 0, which console_verbose
//     leaves alone and which prints nothing.
//   - warning: WARN() prints its header with pr_warn (4) and its registers
//     and call trace at KERN_DEFAULT, as soft lockup and RCU stall reports
//     print their traces; none raises the level. Shown when the console
//     level is above both 4 and the default message level.
//   - hung_task: the "blocked for more than" line is pr_err (3), but the
//     blocked task's stack is printed at KERN_INFO (6): it shows only when
//     the console level is above 6.
//
// ignoreLoglevel (printk.ignore_loglevel) prints everything.
func Visible(p Printk, ignoreLoglevel bool, report string) bool {
	if ignoreLoglevel {
		return true
	}
	switch report {
	case ReportOops:
		return p.ConsoleLevel > 0
	case ReportWarning:
		return p.ConsoleLevel > 4 && p.ConsoleLevel > p.DefaultMessageLevel
	case ReportHungTask:
		return p.ConsoleLevel > 6
	}
	return false
}
