package crash

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClassifyFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Reason
	}{
		{"rhel8-dm-thin-bug.txt", Reason{ClassThinMetadataBug, "kernel BUG at drivers/md/persistent-data/dm-btree-remove.c:181!", "Fatal exception", "4.18.0-372.9.1.el8.x86_64"}},
		{"fedora-6.11-oops-invalid-opcode.txt", Reason{ClassKernelBug, "kernel BUG at mm/huge_memory.c:2736!", "Fatal exception", "6.11.4-201.fc40.x86_64"}},
		{"rhel7-gpf-old.txt", Reason{ClassGPF, "general protection fault", "", "3.10.0-1160.el7.x86_64"}},
		{"ubuntu-6.11-gpf-new.txt", Reason{ClassGPF, "general protection fault, probably for non-canonical address 0x?", "Fatal exception in interrupt", "6.11.0-8-generic"}},
		{"ubuntu-4.4-null-old.txt", Reason{ClassNullPointer, "BUG: unable to handle kernel NULL pointer dereference at ?", "Fatal exception in interrupt", "4.4.0-210-generic"}},
		{"rhel9-null-new.txt", Reason{ClassNullPointer, "BUG: kernel NULL pointer dereference, address: ?", "Fatal exception", "5.14.0-427.13.1.el9_4.x86_64"}},
		{"rhel7-softlockup-old.txt", Reason{ClassSoftLockup, "BUG: soft lockup - CPU#N stuck for Ns!", "softlockup: hung tasks", "3.10.0-957.el7.x86_64"}},
		{"debian-6.1-softlockup-new.txt", Reason{ClassSoftLockup, "BUG: soft lockup - CPU#N stuck for Ns!", "softlockup: hung tasks", "6.1.0-25-amd64"}},
		{"rhel9-hung-task.txt", Reason{ClassHungTask, "INFO: task blocked for more than N seconds.", "hung_task: blocked tasks", "5.14.0-362.8.1.el9_3.x86_64"}},
		{"ubuntu-5.15-rcu-stall.txt", Reason{ClassRCUStall, "INFO: rcu_sched detected stalls on CPUs/tasks:", "RCU Stall", "5.15.0-105-generic"}},
		{"rhel7-sysrq-old.txt", Reason{ClassSysrq, "Trigger a crash", "", "3.10.0-1160.el7.x86_64"}},
		{"ubuntu-6.8-sysrq-new.txt", Reason{ClassSysrq, "Trigger a crash", "sysrq triggered crash", "6.8.0-45-generic"}},
		{"rhel8-hard-lockup.txt", Reason{ClassHardLockup, "Watchdog detected hard LOCKUP on cpu N", "Hard LOCKUP", "4.18.0-513.5.1.el8_9.x86_64"}},
		{"rhel9-oom-panic.txt", Reason{ClassOOMPanic, "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled", "Out of memory: system-wide panic_on_oom is enabled", "5.14.0-427.13.1.el9_4.x86_64"}},
		{"pstore-ramoops-panic.txt", Reason{ClassNullPointer, "Unable to handle kernel NULL pointer dereference at virtual address ?", "Oops: Fatal exception", "6.1.0-rpi7-rpi-v8"}},
		{"boot-unknown.txt", Reason{ClassUnknown, "", "", ""}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "dmesg", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			seen[tc.file] = true
			if got := Classify(b); got != tc.want {
				t.Errorf("Classify =\n %#v\nwant\n %#v", got, tc.want)
			}
		})
	}
	// Every fixture must be covered by the table.
	files, _ := filepath.Glob(filepath.Join("testdata", "dmesg", "*.txt"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("fixture %s has no expectation", f)
		}
	}
}

func TestClassifyVariants(t *testing.T) {
	tests := []struct {
		name, in string
		class    Class
		summary  string
		panic    string
	}{
		{"rcu self-detected 3.10", "[ 100.000001] INFO: rcu_sched self-detected stall on CPU { 3}  (t=60000 jiffies g=12345 c=12344 q=0)\n", ClassRCUStall, "INFO: rcu_sched self-detected stall on CPU", ""},
		{"rcu preempt new", "[ 1.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n[ 1.1] Kernel panic - not syncing: RCU Stall\n", ClassRCUStall, "INFO: rcu_preempt detected stalls on CPUs/tasks:", "RCU Stall"},
		{"hard lockup buddy 6.x", "[ 164.964389] watchdog: CPU3: Watchdog detected hard LOCKUP on cpu 3\n[ 164.97] Kernel panic - not syncing: Hard LOCKUP\n", ClassHardLockup, "CPUN: Watchdog detected hard LOCKUP on cpu N", "Hard LOCKUP"},
		{"hard lockup old panic wording", "[ 5.0] Kernel panic - not syncing: Watchdog detected hard LOCKUP on cpu 12\n", ClassHardLockup, "Kernel panic - not syncing: Watchdog detected hard LOCKUP on cpu N", "Watchdog detected hard LOCKUP on cpu N"},
		{"oom no killable", "[ 9.0] Kernel panic - not syncing: Out of memory and no killable processes...\n", ClassOOMPanic, "Kernel panic - not syncing: Out of memory and no killable processes...", "Out of memory and no killable processes..."},
		{"oom deadlocked", "[ 9.0] Kernel panic - not syncing: System is deadlocked on memory\n", ClassOOMPanic, "Kernel panic - not syncing: System is deadlocked on memory", "System is deadlocked on memory"},
		{"rhel8 sysrq", "[  99.1] sysrq: SysRq : Trigger a crash\n[  99.2] Kernel panic - not syncing: sysrq triggered crash\n", ClassSysrq, "Trigger a crash", "sysrq triggered crash"},
		{"sysrq panic line only", "[  99.2] Kernel panic - not syncing: sysrq triggered crash\n", ClassSysrq, "Kernel panic - not syncing: sysrq triggered crash", "sysrq triggered crash"},
		{"page fault new", "[ 3.1] BUG: unable to handle page fault for address: ffffc90000a3c000\n[ 3.2] #PF: supervisor read access in kernel mode\n[ 3.3] Oops: 0000 [#1] PREEMPT SMP NOPTI\n", ClassPageFault, "BUG: unable to handle page fault for address: ?", ""},
		{"paging request old", "[ 22.594649] BUG: unable to handle kernel paging request at 0000000180040100\n[ 22.611519] Oops: 0000 [#1] SMP\n", ClassPageFault, "BUG: unable to handle kernel paging request at ?", ""},
		{"gpf 5.x", "[ 1.0] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP PTI\n", ClassGPF, "general protection fault, probably for non-canonical address 0x?", ""},
		{"invalid opcode without BUG line", "[ 1.0] invalid opcode: 0000 [#1] SMP PTI\n[ 1.1] Kernel panic - not syncing: Fatal exception\n", ClassOops, "invalid opcode", "Fatal exception"},
		{"new invalid opcode without BUG line", "[ 1.0] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n", ClassOops, "invalid opcode", ""},
		{"plain oops", "[ 1.0] Oops: 0002 [#1] SMP\n", ClassOops, "Oops", ""},
		{"fatal exception alone", "[ 1.1] Kernel panic - not syncing: Fatal exception\n", ClassOops, "Kernel panic - not syncing: Fatal exception", "Fatal exception"},
		{"other panic", "[ 2.5] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n", ClassPanic, "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)", "VFS: Unable to mount root fs on unknown-block(0,0)"},
		{"end marker only", "[ 2.5] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b ]---\n", ClassPanic, "Kernel panic - not syncing: Attempted to kill init! exitcode=0x?", "Attempted to kill init! exitcode=0x?"},
		{"thin metadata file", "[ 1.0] kernel BUG at drivers/md/dm-thin-metadata.c:1402!\n", ClassThinMetadataBug, "kernel BUG at drivers/md/dm-thin-metadata.c:1402!", ""},
		{"other md BUG", "[ 1.0] kernel BUG at drivers/md/dm-bufio.c:1550!\n", ClassKernelBug, "kernel BUG at drivers/md/dm-bufio.c:1550!", ""},
		{"pstore oops header only", "Oops#1 Part1\n<6>[ 1.0] usb 1-1: new high-speed USB device\n", ClassOops, "", ""},
		{"pstore panic header only", "Panic#2 Part3\n<6>[ 1.0] random text\n", ClassPanic, "", ""},
		{"hung task without panic", "[ 7.0] INFO: task kworker/u16:2:1234 blocked for more than 1228 seconds.\n", ClassHungTask, "INFO: task blocked for more than N seconds.", ""},
		{"printk caller id", "[    1.234567][  T100] BUG: kernel NULL pointer dereference, address: 0000000000000000\n", ClassNullPointer, "BUG: kernel NULL pointer dereference, address: ?", ""},
		{"crlf", "[ 1.0] kernel BUG at fs/ext4/inode.c:2713!\r\n[ 1.1] Kernel panic - not syncing: Fatal exception\r\n", ClassKernelBug, "kernel BUG at fs/ext4/inode.c:2713!", "Fatal exception"},
		{"no timestamps", "SysRq : Trigger a crash\nBUG: unable to handle kernel NULL pointer dereference at           (null)\n", ClassSysrq, "Trigger a crash", ""},
		{"user-space gpf is not a crash", "[ 1.0] traps: a.out[2231] general protection fault ip:401136 sp:7ffd error:0 in a.out[401000+1000]\n", ClassUnknown, "", ""},
		{"warning is not a crash", "[ 1.0] WARNING: CPU: 3 PID: 1 at kernel/foo.c:12 foo+0x1/0x2\n", ClassUnknown, "", ""},

		// Precedence.
		{"earlier soft lockup warning, then BUG", "[ 1.0] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [a:1]\n[ 9.0] kernel BUG at drivers/md/persistent-data/dm-btree.c:594!\n[ 9.1] invalid opcode: 0000 [#1] SMP PTI\n[ 9.2] Kernel panic - not syncing: Fatal exception\n", ClassThinMetadataBug, "kernel BUG at drivers/md/persistent-data/dm-btree.c:594!", "Fatal exception"},
		{"first oops wins over second", "[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000010\n[ 1.1] Oops: 0000 [#1] SMP\n[ 2.0] general protection fault: 0000 [#2] SMP\n[ 2.1] Kernel panic - not syncing: Fatal exception\n", ClassNullPointer, "BUG: kernel NULL pointer dereference, address: ?", "Fatal exception"},
		{"oops then hung-task panic", "[ 1.0] kernel BUG at fs/xfs/xfs_message.c:102!\n[ 1.1] invalid opcode: 0000 [#1] SMP\n[ 500.0] INFO: task xfsaild/sda:99 blocked for more than 120 seconds.\n[ 500.1] Kernel panic - not syncing: hung_task: blocked tasks\n", ClassKernelBug, "kernel BUG at fs/xfs/xfs_message.c:102!", "hung_task: blocked tasks"},
		{"oops then manual sysrq crash", "[ 1.0] BUG: unable to handle page fault for address: ffff888000000000\n[ 1.1] Oops: 0000 [#1] SMP\n[ 60.0] sysrq: Trigger a crash\n[ 60.1] Kernel panic - not syncing: sysrq triggered crash\n", ClassPageFault, "BUG: unable to handle page fault for address: ?", "sysrq triggered crash"},
		{"events after panic ignored", "[ 1.0] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n[ 30.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [swapper/1:0]\n", ClassPanic, "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)", "VFS: Unable to mount root fs on unknown-block(0,0)"},
		{"soft lockup panic uses last report", "[ 1.0] NMI watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [a:1]\n[ 2.0] watchdog: BUG: soft lockup - CPU#2 stuck for 48s! [b:2]\n[ 2.1] Kernel panic - not syncing: softlockup: hung tasks\n", ClassSoftLockup, "BUG: soft lockup - CPU#N stuck for Ns!", "softlockup: hung tasks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify([]byte(tc.in))
			if got.Class != tc.class || got.Summary != tc.summary || got.Panic != tc.panic {
				t.Errorf("Classify = %#v\nwant class %q summary %q panic %q", got, tc.class, tc.summary, tc.panic)
			}
		})
	}
}

func TestClassifyKernelRelease(t *testing.T) {
	tests := map[string]string{
		"CPU: 3 PID: 1234 Comm: kworker/u16:2 Kdump: loaded Not tainted 4.18.0-372.9.1.el8.x86_64 #1":   "4.18.0-372.9.1.el8.x86_64",
		"CPU: 5 UID: 0 PID: 88213 Comm: khugepaged Not tainted 6.11.4-201.fc40.x86_64 #1":               "6.11.4-201.fc40.x86_64",
		"CPU: 0 PID: 1 Comm: systemd Tainted: G  D W  O 6.8.0-45-generic #45-Ubuntu":                    "6.8.0-45-generic",
		"CPU: 3 PID: 9 Comm: k Kdump: loaded Tainted: G L ------------   3.10.0-957.el7.x86_64 #1":      "3.10.0-957.el7.x86_64",
		"CPU: 1 PID: 458 Comm: insmod Tainted: G           O       6.1.0-25-amd64 #1  Debian 6.1.106-3": "6.1.0-25-amd64",
		"CPU: 1 PID: 458 Comm: weird #name Not tainted 6.1.0 #1":                                        "6.1.0",
		"CPU: 1 PID: 2 Comm: x Not tainted 6.6.0 (no build number)":                                     "",
		"CPU 1 PID: 2 Comm: x Not tainted 6.6.0 #1":                                                     "",
		"CPU: 1 PID: 2 Comm: x Not tainted " + strings.Repeat("9", 80) + " #1":                          "",
	}
	for line, want := range tests {
		in := "[ 1.0] kernel BUG at a.c:1!\n[ 1.1] " + line + "\n"
		if got := Classify([]byte(in)).Kernel; got != want {
			t.Errorf("%q: Kernel = %q, want %q", line, got, want)
		}
	}
}

func TestClassifyBounded(t *testing.T) {
	// A crash at the end of a log far larger than the cap is still found,
	// and a summary never exceeds the cap.
	var b strings.Builder
	for b.Len() < 3*MaxClassifyBytes {
		b.WriteString("[ 1.000000] kernel BUG at early/noise.c:1!\n")
	}
	b.WriteString("[ 2.000000] partial")
	tail := "\n[ 9.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [x:1]\n[ 9.1] Kernel panic - not syncing: softlockup: hung tasks\n"
	big := []byte(b.String()[:MaxClassifyBytes+10] + strings.Repeat("y", 100) + tail)
	got := Classify(big)
	if got.Class != ClassKernelBug {
		// The BUG lines inside the window come first.
		t.Errorf("class = %q", got.Class)
	}
	huge := []byte(strings.Repeat("z", 2*MaxClassifyBytes) + tail)
	if got := Classify(huge); got.Class != ClassSoftLockup {
		t.Errorf("class after huge garbage = %q", got.Class)
	}
	long := "[ 1.0] kernel BUG at " + strings.Repeat("dir/", 100) + "f.c:1!\n"
	if got := Classify([]byte(long)); len(got.Summary) > MaxSummaryLen || got.Class != ClassKernelBug {
		t.Errorf("long summary %d bytes, class %q", len(got.Summary), got.Class)
	}
}

func TestNormalizeSummary(t *testing.T) {
	tests := map[string]string{
		"watchdog: BUG: soft lockup - CPU#3 stuck for 26s! [insmod:458]":            "BUG: soft lockup - CPU#N stuck for Ns!",
		"NMI watchdog: BUG: soft lockup - CPU#12 stuck for 23s! [kworker/12:1:99]":  "BUG: soft lockup - CPU#N stuck for Ns!",
		"INFO: task my task:with:colons:77 blocked for more than 245 seconds.":      "INFO: task blocked for more than N seconds.",
		"Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP":                   "Internal error: Oops",
		"BUG: unable to handle kernel NULL pointer dereference at           (null)": "BUG: unable to handle kernel NULL pointer dereference at (null)",
		"a\tb\x01c  d":                   "a b c d",
		"kernel BUG at lib/list.c:[x:1]": "kernel BUG at lib/list.c:",
	}
	for in, want := range tests {
		if got := normalizeSummary(in); got != want {
			t.Errorf("normalizeSummary(%q) = %q, want %q", in, got, want)
		}
	}
}
