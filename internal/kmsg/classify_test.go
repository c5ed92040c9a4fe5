package kmsg

import (
	"os"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		msg  string
		want Event
	}{
		// OOM: only the "Killed process" line counts; the summary is context.
		{"Memory cgroup out of memory: Killed process 7161 (python3) total-vm:278712kB, anon-rss:65024kB, file-rss:1884kB, shmem-rss:0kB, UID:0 pgtables:188kB oom_score_adj:0",
			Event{Kind: KindOOMKill, PID: 7161, Comm: "python3", Constraint: ConstraintMemcg}},
		{"Out of memory: Killed process 2211 (java) total-vm:3747124kB, anon-rss:1834848kB, file-rss:128kB, shmem-rss:0kB, UID:994 pgtables:4116kB oom_score_adj:0",
			Event{Kind: KindOOMKill, PID: 2211, Comm: "java", Constraint: ConstraintGlobal}},
		{"Out of memory (oom_kill_allocating_task): Killed process 900 (stress-ng-vm) total-vm:1048576kB, anon-rss:1000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:12kB oom_score_adj:0",
			Event{Kind: KindOOMKill, PID: 900, Comm: "stress-ng-vm", Constraint: ConstraintGlobal}},
		{"Killed process 4321 (stress) total-vm:800000kB, anon-rss:64000kB, file-rss:200kB, shmem-rss:0kB",
			Event{Kind: KindOOMKill, PID: 4321, Comm: "stress", Constraint: ConstraintUnknown}},
		{"Killed process 26982 (impalad), UID 980, total-vm:114197596kB, anon-rss:40922232kB, file-rss:0kB, shmem-rss:4kB",
			Event{Kind: KindOOMKill, PID: 26982, Comm: "impalad", Constraint: ConstraintUnknown}},
		{"Killed process 215701, UID 679, (java) total-vm:11017300kB, anon-rss:7152432kB, file-rss:1232kB",
			Event{Kind: KindOOMKill, PID: 215701, Comm: "java", Constraint: ConstraintUnknown}},
		{"Memory cgroup out of memory: Killed process 42 (my (odd) total-vm:x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0",
			Event{Kind: KindOOMKill, PID: 42, Comm: "my (odd) total-vm:x", Constraint: ConstraintMemcg}},
		{"Out of memory: Killed process 12 (Web Content).",
			Event{Kind: KindOOMKill, PID: 12, Comm: "Web Content", Constraint: ConstraintGlobal}},
		{"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/fxoom,task_memcg=/fxoom,task=python3,pid=7161,uid=0",
			Event{part: partOOMSummary, Cgroup: "/fxoom", Comm: "python3", PID: 7161, Constraint: ConstraintMemcg}},
		{"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/java.service,task=java,pid=2211,uid=994",
			Event{part: partOOMSummary, Cgroup: "/system.slice/java.service", Comm: "java", PID: 2211, Constraint: ConstraintGlobal}},
		// Early 5.x: memcg OOM reported as CONSTRAINT_NONE; pid padded by %5d.
		{"oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,b,task_memcg=/a,b/c,task=x,y,pid=  812,uid=    0",
			Event{part: partOOMSummary, Cgroup: "/a,b/c", Comm: "x,y", PID: 812, Constraint: ConstraintMemcg}},
		{"oom-kill:constraint=CONSTRAINT_CPUSET,nodemask=(null),cpuset=/batch,mems_allowed=1,global_oom,task_memcg=/batch,task=sim,pid=3,uid=0",
			Event{part: partOOMSummary, Cgroup: "/batch", Comm: "sim", PID: 3, Constraint: ConstraintCpuset}},
		{"oom-kill:constraint=CONSTRAINT_MEMORY_POLICY,nodemask=1,cpuset=/,mems_allowed=0-1,global_oom,task_memcg=/,task=numa,pid=4,uid=0",
			Event{part: partOOMSummary, Cgroup: "/", Comm: "numa", PID: 4, Constraint: ConstraintMemoryPolicy}},
		{"Task in /docker/4f1c killed as a result of limit of /docker/4f1c",
			Event{part: partOOMTaskIn, Cgroup: "/docker/4f1c", Constraint: ConstraintMemcg}},
		{"Memory cgroup out of memory: Kill process 4321 (stress) score 1000 or sacrifice child",
			Event{part: partOOMSacrifice, PID: 4321, Comm: "stress", Constraint: ConstraintMemcg}},
		{"Out of memory: Kill process 13091 (rqlited) score 190 or sacrifice child",
			Event{part: partOOMSacrifice, PID: 13091, Comm: "rqlited", Constraint: ConstraintGlobal}},
		{"Tasks in /fxoom are going to be killed due to memory.oom.group set",
			Event{part: partOOMGroup, Cgroup: "/fxoom"}},
		{"Memory cgroup out of memory: OOM victim 7161 (python3) is already exiting. Skip killing the task",
			Event{part: partOOMSkip, PID: 7161}},
		{"python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
			Event{part: partOOMHeader, Comm: "python3"}},
		{"oom_reaper: reaped process 7161 (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB", Event{}},
		{"Out of memory and no killable processes...", Event{}},

		{"cgroup: fork rejected by pids controller in /fxtest", Event{Kind: KindForkRejected, Cgroup: "/fxtest"}},
		{"cgroup: fork rejected by pids controller in /system.slice/docker-2e3d83a87b30e041e0cd4136f63da6206a0b70ada1e38ab222791bb49a85f558.scope",
			Event{Kind: KindForkRejected, Cgroup: "/system.slice/docker-2e3d83a87b30e041e0cd4136f63da6206a0b70ada1e38ab222791bb49a85f558.scope"}},

		{"kernel BUG at drivers/md/persistent-data/dm-btree-remove.c:181!", Event{Kind: KindKernelBug}},
		{"Oops: 0000 [#1] SMP", Event{Kind: KindOops}},
		{"Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI", Event{Kind: KindOops}},
		{"Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI", Event{Kind: KindOops}},
		{"invalid opcode: 0000 [#1] SMP PTI", Event{Kind: KindOops}},
		{"Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP", Event{Kind: KindOops}},
		{"Internal error: Oops - BUG: 00000000f2000800 [#1] SMP", Event{Kind: KindOops}},
		{"general protection fault: 0000 [#1] SMP PTI", Event{Kind: KindGPF}},
		{"general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] SMP KASAN", Event{Kind: KindGPF}},
		{"Oops: general protection fault, probably for non-canonical address 0xdffffc0000000000: 0000 [#1] PREEMPT SMP KASAN NOPTI", Event{Kind: KindGPF}},
		{"BUG: kernel NULL pointer dereference, address: 0000000000000000", Event{Kind: KindNullDeref}},
		{"BUG: unable to handle kernel NULL pointer dereference at 0000000000000008", Event{Kind: KindNullDeref}},
		{"BUG: unable to handle kernel NULL pointer dereference at           (null)", Event{Kind: KindNullDeref}},
		{"Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000", Event{Kind: KindNullDeref}},
		{"BUG: unable to handle page fault for address: ffffffffc0a01000", Event{}},
		{"watchdog: BUG: soft lockup - CPU#3 stuck for 26s! [insmod:458]", Event{Kind: KindSoftLockup, Comm: "insmod", PID: 458}},
		{"NMI watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [kworker/0:1:7]", Event{Kind: KindSoftLockup, Comm: "kworker/0:1", PID: 7}},
		{"BUG: soft lockup - CPU#1 stuck for 67s! [java:1234]", Event{Kind: KindSoftLockup, Comm: "java", PID: 1234}},
		{"Watchdog detected hard LOCKUP on cpu 3", Event{Kind: KindHardLockup}},
		{"NMI watchdog: Watchdog detected hard LOCKUP on cpu 1", Event{Kind: KindHardLockup}},
		{"watchdog: Watchdog detected hard LOCKUP on cpu 3", Event{Kind: KindHardLockup}},
		{"watchdog: CPU3: Watchdog detected hard LOCKUP on cpu 3", Event{Kind: KindHardLockup}},
		{"Kernel panic - not syncing: Watchdog detected hard LOCKUP on cpu 0", Event{Kind: KindPanic}},
		{"watchdog: watchdog0: watchdog did not stop!", Event{}},
		{"INFO: task kworker/1:2:123 blocked for more than 120 seconds.", Event{Kind: KindHungTask, Comm: "kworker/1:2", PID: 123}},
		{"INFO: task jbd2/dm-0-8:412 blocked for more than 245 seconds. [Warning #3]", Event{Kind: KindHungTask, Comm: "jbd2/dm-0-8", PID: 412}},
		{"rcu: INFO: rcu_sched detected stalls on CPUs/tasks:", Event{Kind: KindRCUStall}},
		{"rcu: INFO: rcu_preempt self-detected stall on CPU", Event{Kind: KindRCUStall}},
		{"INFO: rcu_sched self-detected stall on CPU", Event{Kind: KindRCUStall}},
		{"INFO: rcu_sched detected stalls on CPUs/tasks: { 3} (detected by 0, t=60002 jiffies, g=1234, c=1233, q=99)", Event{Kind: KindRCUStall}},
		{"rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 2-... } 21003 jiffies s: 1449 root: 0x4/.", Event{Kind: KindRCUStall}},
		{"rcu: Hierarchical RCU implementation.", Event{}},
		{"Kernel panic - not syncing: Fatal exception", Event{Kind: KindPanic}},
		{"Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled", Event{Kind: KindPanic}},
		{"---[ end Kernel panic - not syncing: Fatal exception ]---", Event{}},
		{"WARNING: CPU: 3 PID: 1 at kernel/workqueue.c:3346 __flush_work+0x2dd/0x320", Event{Kind: KindWarning}},
		{"WARNING: at fs/xfs/xfs_aops.c:1030 xfs_vm_writepage+0x5c/0x4a0 [xfs]()", Event{Kind: KindWarning}},
		{"WARNING: The mand mount option has been deprecated and", Event{}},

		{"blk_update_request: I/O error, dev sda, sector 123 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0",
			Event{Kind: KindIOError, Sub: IOStatusIO, Device: "sda"}},
		{"I/O error, dev sda, sector 123 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0",
			Event{Kind: KindIOError, Sub: IOStatusIO, Device: "sda"}},
		{"print_req_error: I/O error, dev sdc, sector 8 flags 80700", Event{Kind: KindIOError, Sub: IOStatusIO, Device: "sdc"}},
		{"end_request: I/O error, dev sdd, sector 2048", Event{Kind: KindIOError, Sub: IOStatusIO, Device: "sdd"}},
		{"critical medium error, dev nvme0n1, sector 15 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 2",
			Event{Kind: KindIOError, Sub: IOStatusMedium, Device: "nvme0n1"}},
		{"blk_update_request: critical target error, dev sdb, sector 0 op 0x3:(DISCARD) flags 0x0 phys_seg 1 prio class 0",
			Event{Kind: KindIOError, Sub: IOStatusTarget, Device: "sdb"}},
		{"timeout error, dev sde, sector 77 op 0x0:(READ) flags 0x4000 phys_seg 1 prio class 0",
			Event{Kind: KindIOError, Sub: IOStatusTimeout, Device: "sde"}},
		{"operation not supported error, dev loop0, sector 0 op 0x9:(WRITE_ZEROES) flags 0x800 phys_seg 0 prio class 0",
			Event{Kind: KindIOError, Sub: IOStatusNotSupported, Device: "loop0"}},
		{"Buffer I/O error on dev sda1, logical block 0, async page read", Event{Kind: KindIOError, Sub: IOBuffer, Device: "sda1"}},
		{"Buffer I/O error on device dm-5, logical block 128000", Event{Kind: KindIOError, Sub: IOBuffer, Device: "dm-5"}},
		{"blk_update_request: 3 callbacks suppressed", Event{}},
		{"ena 0000:00:05.0: some error, dev x", Event{}},

		{"EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0",
			Event{Kind: KindFSError, Sub: FSError, Device: "sda1"}},
		{"EXT4-fs error (device dm-7) in ext4_reserve_inode_write:5742: Journal has aborted",
			Event{Kind: KindFSError, Sub: FSError, Device: "dm-7"}},
		{"EXT3-fs error (device sdb1): ext3_journal_start_sb: Detected aborted journal",
			Event{Kind: KindFSError, Sub: FSError, Device: "sdb1"}},
		{"EXT4-fs (sda1): Remounting filesystem read-only", Event{Kind: KindFSError, Sub: FSReadOnly, Device: "sda1"}},
		{"EXT4-fs (sda1): error count since last fsck: 3", Event{}},
		{"EXT4-fs (nvme0n1p1): mounted filesystem with ordered data mode. Quota mode: none.", Event{}},
		{"EXT4-fs warning (device dm-5): ext4_end_bio:347: I/O error 3 writing to inode 378 starting block 128192)", Event{}},
		{"XFS (sda1): Corruption detected. Unmount and run xfs_repair", Event{Kind: KindFSError, Sub: FSCorruption, Device: "sda1"}},
		{"XFS (sda4): Metadata corruption detected at xfs_dinode_verify.part.0+0x739/0x920 [xfs], inode 0x427b2d1",
			Event{Kind: KindFSError, Sub: FSCorruption, Device: "sda4"}},
		{"XFS (sda2): Metadata CRC error detected at xfs_agf_read_verify+0xd0/0xf0 [xfs], xfs_agf block 0x1",
			Event{Kind: KindFSError, Sub: FSCorruption, Device: "sda2"}},
		{"XFS (dm-0): Filesystem has been shut down due to log error (0x2).", Event{Kind: KindFSError, Sub: FSShutdown, Device: "dm-0"}},
		{"XFS (sdb): xfs_do_force_shutdown(0x8) called from line 1053 of file fs/xfs/xfs_trans.c.  Return address = 00000000a4b3c2d1",
			Event{Kind: KindFSError, Sub: FSShutdown, Device: "sdb"}},
		{"XFS (sdb): Corruption of in-memory data detected.  Shutting down filesystem", Event{}},
		{"XFS (sdc): Metadata I/O Error (0x1) detected at xfs_trans_read_buf_map+0x1fd/0x330 [xfs] (fs/xfs/xfs_trans_buf.c:296).  Shutting down filesystem.",
			Event{Kind: KindFSError, Sub: FSShutdown, Device: "sdc"}},
		{"XFS (sdc): Please unmount the filesystem and rectify the problem(s)", Event{}},
		{"XFS (nvme1n1): Ending clean mount", Event{}},
		{"BTRFS error (device sda1): bdev /dev/sda1 errs: wr 0, rd 1, flush 0, corrupt 0, gen 0", Event{Kind: KindFSError, Sub: FSError, Device: "sda1"}},
		{"BTRFS critical (device nvme0n1p2 state EA): unable to find logical 5865078784 length 4096", Event{Kind: KindFSError, Sub: FSError, Device: "nvme0n1p2"}},
		{"BTRFS: error (device sdb) in __btrfs_free_extent:6804: errno=-2 No such entry", Event{Kind: KindFSError, Sub: FSError, Device: "sdb"}},
		{"BTRFS info (device sda1): disk space caching is enabled", Event{}},

		{"device-mapper: thin: 253:2: reached low water mark for data device: sending event.",
			Event{Kind: KindDMThinError, Sub: DMThinLowWaterMark, Device: "253:2"}},
		{"device-mapper: thin: 253:2: switching pool to out-of-data-space (queue IO) mode",
			Event{Kind: KindDMThinError, Sub: DMThinOutOfDataSpace, Device: "253:2"}},
		{"device-mapper: thin: 252:3: switching pool to out-of-data-space (error IO) mode",
			Event{Kind: KindDMThinError, Sub: DMThinOutOfDataSpace, Device: "252:3"}},
		{"device-mapper: thin: 253:3: switching pool to out-of-data-space mode",
			Event{Kind: KindDMThinError, Sub: DMThinOutOfDataSpace, Device: "253:3"}},
		{"device-mapper: thin: 253:2: switching pool to read-only mode", Event{Kind: KindDMThinError, Sub: DMThinReadOnly, Device: "253:2"}},
		{"device-mapper: thin: 253:2: switching pool to failure mode", Event{Kind: KindDMThinError, Sub: DMThinFailure, Device: "253:2"}},
		{"device-mapper: thin: 253:2: switching pool to write mode", Event{}},
		{"device-mapper: thin: Data device (dm-1) discard unsupported: Disabling discard passdown.",
			Event{Kind: KindDMThinError, Sub: DMThinDiscardPassdownDisabled, Device: "dm-1"}},
		{"device-mapper: space map common: unable to decrement a reference count below 0", Event{Kind: KindDMThinError, Sub: DMThinMetadataError}},
		{"device-mapper: thin: 253:2: metadata operation 'dm_pool_commit_metadata' failed: error = -5",
			Event{Kind: KindDMThinError, Sub: DMThinMetadataError, Device: "253:2"}},
		{"device-mapper: thin: process_cell: dm_thin_find_block() failed: error = -5", Event{Kind: KindDMThinError, Sub: DMThinMetadataError}},
		{"device-mapper: btree spine: node_check failed: csum 1213432 != wanted 3348273", Event{Kind: KindDMThinError, Sub: DMThinMetadataError}},
		{"device-mapper: block manager: validator mismatch (old=sm_bitmap vs new=btree_node) for block 429", Event{Kind: KindDMThinError, Sub: DMThinMetadataError}},
		{"device-mapper: thin: 253:2: growing the data device from 2134272 to 2396416 blocks", Event{}},
		{"device-mapper: ioctl: 4.48.0-ioctl (2023-03-01) initialised: dm-devel@redhat.com", Event{}},

		{"", Event{}},
		{"short", Event{}},
		{"Linux version 6.8.0-45-generic (buildd@lcy02-amd64-115)", Event{}},
	}
	for _, tt := range tests {
		got := Classify(tt.msg)
		if got != tt.want {
			t.Errorf("Classify(%q)\n got  %+v\n want %+v", tt.msg, got, tt.want)
		}
	}
}

// handleStream runs a recorded stream through a Classifier.
func handleStream(t testing.TB, file string) []Event {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClassifier()
	var evs []Event
	for _, b := range SplitRecords(data) {
		r, err := ParseRecord(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if ev, ok := c.Handle(r); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}

func TestClassifierOOMStreams(t *testing.T) {
	tests := []struct {
		file string
		want Event
	}{
		{"testdata/oom_memcg_6x.kmsg", Event{Kind: KindOOMKill, Cgroup: "/fxoom", Constraint: ConstraintMemcg, Comm: "python3", PID: 7161, Seq: 377}},
		{"testdata/oom_global_6x.kmsg", Event{Kind: KindOOMKill, Cgroup: "/system.slice/java.service", Constraint: ConstraintGlobal, Comm: "java", PID: 2211, Seq: 1042}},
		{"testdata/oom_4.14.kmsg", Event{Kind: KindOOMKill, Cgroup: "/docker/4f1c6a2b9d8e7f00112233445566778899aabbccddeeff00112233445566", Constraint: ConstraintMemcg, Comm: "stress", PID: 4321, Seq: 88035}},
		{"testdata/oom_rhel7.kmsg", Event{Kind: KindOOMKill, Cgroup: "/kubepods/burstable/pod8c1d7e2a-3b4f-11ea-9a9f-0242ac110002/6d3c2b1a0f9e8d7c6b5a49382716f5e4d3c2b1a0f9e8d7c6b5a49382716f5e4", Constraint: ConstraintMemcg, Comm: "impalad", PID: 26982, Seq: 731224}},
	}
	for _, tt := range tests {
		evs := handleStream(t, tt.file)
		if len(evs) != 1 {
			t.Errorf("%s: got %d events %+v, want exactly one oom_kill", tt.file, len(evs), evs)
			continue
		}
		got := evs[0]
		got.TimestampUsec = 0
		if got != tt.want {
			t.Errorf("%s:\n got  %+v\n want %+v", tt.file, got, tt.want)
		}
	}
}

func kinds(evs []Event) string {
	var s []string
	for _, e := range evs {
		k := string(e.Kind)
		if e.Sub != "" {
			k += "/" + e.Sub
		}
		s = append(s, k)
	}
	return strings.Join(s, " ")
}

func TestClassifierStreams(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"testdata/fork_rejected.kmsg", "fork_rejected fork_rejected fork_rejected"},
		{"testdata/soft_lockup.kmsg", "soft_lockup soft_lockup"},
		{"testdata/hung_task.kmsg", "hung_task hung_task"},
		{"testdata/dm_thin.kmsg", "dm_thin_error/low_water_mark dm_thin_error/out_of_data_space dm_thin_error/out_of_data_space " +
			"dm_thin_error/discard_passdown_disabled dm_thin_error/metadata_error dm_thin_error/metadata_error " +
			"dm_thin_error/read_only dm_thin_error/metadata_error dm_thin_error/failure"},
		{"testdata/io_fs_errors.kmsg", "io_error/medium io_error/io io_error/io io_error/io io_error/buffer io_error/buffer " +
			"fs_error/error fs_error/read_only fs_error/corruption fs_error/shutdown fs_error/shutdown fs_error/shutdown " +
			"fs_error/error fs_error/error"},
		// The die() headers after the NULL dereference and the BUG are folded
		// into them; the GPF is its own header.
		{"testdata/crash_6x.kmsg", "warning null_deref kernel_bug gpf panic"},
	}
	for _, tt := range tests {
		if got := kinds(handleStream(t, tt.file)); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.file, got, tt.want)
		}
	}
}

func TestClassifierMixedStream(t *testing.T) {
	evs := handleStream(t, "testdata/mixed.kmsg")
	count := map[Kind]int{}
	for _, e := range evs {
		count[e.Kind]++
		if e.Kind == KindOOMKill && (e.Cgroup != "/fxoom" || e.PID != 7161) {
			t.Errorf("oom kill without its context: %+v", e)
		}
	}
	// The forged userspace "Out of memory: Killed process 1" must not count.
	want := map[Kind]int{KindOOMKill: 4, KindForkRejected: 4, KindDMThinError: 4, KindIOError: 4,
		KindHungTask: 4, KindSoftLockup: 4, KindFSError: 4, KindWarning: 4, KindNullDeref: 4}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%s: got %d, want %d", k, count[k], n)
		}
	}
	if count[KindOops] != 0 {
		t.Errorf("oops headers after NULL dereferences were not folded: %d", count[KindOops])
	}
}

func rec(seq uint64, msg string) Record { return Record{Priority: 6, Seq: seq, Message: msg} }

func handleAll(c *Classifier, recs ...Record) []Event {
	var evs []Event
	for _, r := range recs {
		if ev, ok := c.Handle(r); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}

func TestClassifierOOMSequences(t *testing.T) {
	t.Run("rate-limited report still counts the kill", func(t *testing.T) {
		evs := handleAll(NewClassifier(),
			rec(1, "Memory cgroup out of memory: Killed process 10 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"))
		if len(evs) != 1 || evs[0].Constraint != ConstraintMemcg || evs[0].Cgroup != "" || evs[0].PID != 10 {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("victim already exiting: no kill", func(t *testing.T) {
		c := NewClassifier()
		evs := handleAll(c,
			rec(1, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/x,task_memcg=/x,task=a,pid=10,uid=0"),
			rec(2, "Memory cgroup out of memory: OOM victim 10 (a) is already exiting. Skip killing the task"),
			// A later, rate-limited kill of another task must not inherit /x.
			rec(3, "Out of memory: Killed process 11 (b) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"))
		if len(evs) != 1 || evs[0].PID != 11 || evs[0].Cgroup != "" || evs[0].Constraint != ConstraintGlobal {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("memory.oom.group kills every member once", func(t *testing.T) {
		evs := handleAll(NewClassifier(),
			rec(1, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/grp,task_memcg=/grp/w1,task=a,pid=10,uid=0"),
			rec(2, "Memory cgroup out of memory: Killed process 10 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"),
			rec(3, "Tasks in /grp are going to be killed due to memory.oom.group set"),
			rec(4, "Memory cgroup out of memory: Killed process 12 (b) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"))
		if len(evs) != 2 || evs[0].Cgroup != "/grp/w1" || evs[1].Cgroup != "/grp" || evs[1].PID != 12 {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("4.19/5.0 summary with a sacrificed child", func(t *testing.T) {
		evs := handleAll(NewClassifier(),
			rec(1, "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/web,task_memcg=/web,task=httpd,pid=100,uid=48"),
			rec(2, "Memory cgroup out of memory: Kill process 100 (httpd) score 900 or sacrifice child"),
			rec(3, "Killed process 101 (httpd-worker) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB"))
		if len(evs) != 1 || evs[0].Cgroup != "/web" || evs[0].PID != 101 || evs[0].Constraint != ConstraintMemcg {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("old global OOM after a memcg one does not inherit its cgroup", func(t *testing.T) {
		evs := handleAll(NewClassifier(),
			rec(1, "Task in /docker/a killed as a result of limit of /docker/a"),
			// The memcg kill line was lost; a new report starts.
			rec(2, "java invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0"),
			rec(3, "Out of memory: Kill process 7 (java) score 800 or sacrifice child"),
			rec(4, "Killed process 7 (java) total-vm:1kB, anon-rss:1kB, file-rss:0kB"))
		if len(evs) != 1 || evs[0].Cgroup != "" || evs[0].Constraint != ConstraintGlobal {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("summary then a second kill of another pid without context", func(t *testing.T) {
		evs := handleAll(NewClassifier(),
			rec(1, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=x,pid=10,uid=0"),
			rec(2, "Memory cgroup out of memory: Killed process 10 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"),
			rec(3, "Memory cgroup out of memory: Killed process 20 (y) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"))
		if len(evs) != 2 || evs[0].Cgroup != "/a" || evs[1].Cgroup != "" || evs[1].Constraint != ConstraintMemcg {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("userspace records are ignored", func(t *testing.T) {
		r := rec(1, "Out of memory: Killed process 1 (init) total-vm:1kB, anon-rss:0kB, file-rss:0kB, shmem-rss:0kB")
		r.Facility = 1
		if evs := handleAll(NewClassifier(), r); len(evs) != 0 {
			t.Fatalf("got %+v", evs)
		}
	})
	t.Run("Prime rebuilds context across a resume point", func(t *testing.T) {
		c := NewClassifier()
		c.Prime(rec(1, "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a,task_memcg=/a,task=x,pid=10,uid=0"))
		evs := handleAll(c, rec(2, "Memory cgroup out of memory: Killed process 10 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0"))
		if len(evs) != 1 || evs[0].Cgroup != "/a" {
			t.Fatalf("got %+v", evs)
		}
	})
}

func TestClassifierCrashFolding(t *testing.T) {
	// A die() header far from any cause line is its own oops.
	evs := handleAll(NewClassifier(),
		rec(1, "kernel BUG at mm/slub.c:100!"),
		rec(2, "invalid opcode: 0000 [#1] SMP PTI"),
		rec(50, "Oops: 0002 [#2] SMP PTI"),
		rec(60, "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000"),
		rec(61, "Mem abort info:"),
		rec(62, "Internal error: Oops: 0000000096000005 [#3] PREEMPT SMP"))
	if got := kinds(evs); got != "kernel_bug oops null_deref" {
		t.Fatalf("got %s", got)
	}
}

func TestKindsBounded(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Kinds() {
		if k == KindNone || seen[k] {
			t.Fatalf("bad or duplicate kind %q", k)
		}
		seen[k] = true
	}
	if len(seen) != 15 {
		t.Fatalf("got %d kinds, want 15", len(seen))
	}
	if len(Constraints()) != 5 || len(DMThinSubKinds()) != 6 || len(FSSubKinds()) != 4 || len(IOSubKinds()) != 12 {
		t.Fatal("sub-kind lists changed size")
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/fxoom,task_memcg=/fxoom,task=python3,pid=7161,uid=0",
		"Memory cgroup out of memory: Killed process 7161 (python3) total-vm:278712kB, anon-rss:65024kB, file-rss:1884kB, shmem-rss:0kB, UID:0 pgtables:188kB oom_score_adj:0",
		"Killed process 215701, UID 679, (java) total-vm:11017300kB",
		"Killed process 26982 (impalad), UID 980, total-vm:1kB",
		"Task in /docker/4f1c killed as a result of limit of /docker/4f1c",
		"INFO: task kworker/1:2:123 blocked for more than 120 seconds.",
		"watchdog: BUG: soft lockup - CPU#3 stuck for 26s! [insmod:458]",
		"device-mapper: thin: 253:2: switching pool to read-only mode",
		"XFS (sdc): Metadata I/O Error (0x1) detected at x (f.c:1).  Shutting down filesystem.",
		"blk_update_request: I/O error, dev sda, sector 123 op 0x1:(WRITE)",
		"BTRFS error (device sda1 state EA): x",
		"EXT4-fs (sda1): Remounting filesystem read-only",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		ev := Classify(msg)
		for _, s := range []string{ev.Sub, ev.Cgroup, ev.Comm, ev.Device} {
			if len(s) > len(msg) {
				t.Fatalf("field longer than the message: %q", s)
			}
		}
		c := NewClassifier()
		c.Handle(Record{Seq: 1, Message: msg})
		c.Handle(Record{Seq: 2, Message: msg})
	})
}

func BenchmarkClassify(b *testing.B) {
	msgs := []string{
		"EXT4-fs (nvme0n1p1): re-mounted 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 r/w. Quota mode: none.",
		"br-4f1c6a2b9d8e: port 1(veth1a2b3c4) entered blocking state",
		"Memory cgroup out of memory: Killed process 7161 (python3) total-vm:278712kB, anon-rss:65024kB, file-rss:1884kB, shmem-rss:0kB, UID:0 pgtables:188kB oom_score_adj:0",
		"audit: type=1400 audit(1727181234.512:2): apparmor=\"STATUS\" operation=\"profile_load\" profile=\"unconfined\" name=\"lsb_release\" pid=412 comm=\"apparmor_parser\"",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Classify(msgs[i%len(msgs)])
	}
}

// BenchmarkClassifyStream parses and classifies a recorded mixed stream,
// as the follower's handler does, and reports records per second.
func BenchmarkClassifyStream(b *testing.B) {
	data, err := os.ReadFile("testdata/mixed.kmsg")
	if err != nil {
		b.Fatal(err)
	}
	recs := SplitRecords(data)
	c := NewClassifier()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, raw := range recs {
			r, err := ParseRecord(raw)
			if err != nil {
				b.Fatal(err)
			}
			c.Handle(r)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(len(recs)), "records/op")
}
