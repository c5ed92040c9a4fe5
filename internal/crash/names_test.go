package crash

import (
	"testing"
	"time"
)

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func TestParseDumpDirName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		want DumpDir
	}{
		{"127.0.0.1-2024-02-16-15:55:31", true, DumpDir{LayoutRHEL, "127.0.0.1", utc(2024, 2, 16, 15, 55, 31), true}},
		{"10.0.2.188-2024-02-16-15:55:31", true, DumpDir{LayoutRHEL, "10.0.2.188", utc(2024, 2, 16, 15, 55, 31), true}},
		{"fd00::12-2023-11-30-23:59:59", true, DumpDir{LayoutRHEL, "fd00::12", utc(2023, 11, 30, 23, 59, 59), true}},
		{"202409301245", true, DumpDir{LayoutDebian, "", utc(2024, 9, 30, 12, 45, 0), true}},
		{"192.168.10.5-202409301245", true, DumpDir{LayoutDebian, "192.168.10.5", utc(2024, 9, 30, 12, 45, 0), true}},
		{"web-01.example.com-202409301245", true, DumpDir{LayoutDebian, "web-01.example.com", utc(2024, 9, 30, 12, 45, 0), true}},
		{"2024-03-05-14-07", true, DumpDir{LayoutSUSE, "", utc(2024, 3, 5, 14, 7, 0), true}},
		{"2019-07-22-09:41", true, DumpDir{LayoutSUSE, "", utc(2019, 7, 22, 9, 41, 0), true}},
		{"kdump_lock", false, DumpDir{}},
		{"kexec_cmd", false, DumpDir{}},
		{"linux-image-6.8.0-45-generic-202409301245.0.crash", false, DumpDir{}},
		{"_usr_bin_python3.12.1000.crash", false, DumpDir{}},
		{"127.0.0.1-2024-02-30-15:55:31", false, DumpDir{}}, // no Feb 30
		{"127.0.0.1-2024-2-16-15:55:31", false, DumpDir{}},
		{"-2024-02-16-15:55:31", false, DumpDir{}},
		{"2024-02-16-15:55:31", false, DumpDir{}}, // RHEL stamp without host
		{"20240930124", false, DumpDir{}},
		{"2024093012456", false, DumpDir{}},
		{"host name-202409301245", false, DumpDir{}},
		{"../202409301245", false, DumpDir{}},
		{"", false, DumpDir{}},
	}
	for _, tc := range tests {
		got, ok := ParseDumpDirName(tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseDumpDirName(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestClassifyDumpFile(t *testing.T) {
	tests := map[string]FileRole{
		"vmcore":                      RoleVmcore,
		"vmcore.flat":                 RoleVmcore,
		"vmcore-incomplete":           RoleVmcoreIncomplete,
		"vmcore-dmesg.txt":            RoleDmesg,
		"vmcore-dmesg-incomplete.txt": RoleDmesgIncomplete,
		"kexec-dmesg.log":             RoleCaptureLog,
		"dump.202409301245":           RoleVmcore,
		"dump.202409301245.zst":       RoleVmcore,
		"dump.202409301245.bz2":       RoleVmcore,
		"dump-incomplete":             RoleVmcoreIncomplete,
		"vmcore.202409301245":         RoleVmcore,
		"dmesg.202409301245":          RoleDmesg,
		"dmesg":                       RoleDmesg,
		"dmesg.txt":                   RoleDmesg,
		"README.txt":                  RoleReadme,
		"vmcore.xz":                   RoleVmcore,
		"dump.2024":                   RoleIgnore,
		"dmesg.old":                   RoleIgnore,
		"vmcore.bak":                  RoleIgnore,
		"System.map":                  RoleIgnore,
		"":                            RoleIgnore,
	}
	for name, want := range tests {
		if got := ClassifyDumpFile(name); got != want {
			t.Errorf("ClassifyDumpFile(%q) = %v, want %v", name, got, want)
		}
	}
	if RoleVmcoreIncomplete.String() != "vmcore_incomplete" || FileRole(99).String() != "ignore" {
		t.Error("FileRole.String")
	}
}

func TestSummarizeDump(t *testing.T) {
	tests := []struct {
		names []string
		want  DumpContents
	}{
		{[]string{"vmcore", "vmcore-dmesg.txt", "kexec-dmesg.log"}, DumpContents{DumpComplete, "vmcore", "vmcore-dmesg.txt"}},
		{[]string{"vmcore-incomplete", "vmcore-dmesg-incomplete.txt", "kexec-dmesg.log"}, DumpContents{DumpIncomplete, "", "vmcore-dmesg-incomplete.txt"}},
		{[]string{"vmcore-incomplete", "vmcore-dmesg.txt"}, DumpContents{DumpIncomplete, "", "vmcore-dmesg.txt"}},
		{[]string{"vmcore-incomplete", "vmcore"}, DumpContents{DumpComplete, "vmcore", ""}},
		{[]string{"dmesg.202409301245", "dump.202409301245"}, DumpContents{DumpComplete, "dump.202409301245", "dmesg.202409301245"}},
		{[]string{"dump-incomplete", "dmesg.202409301245"}, DumpContents{DumpIncomplete, "", "dmesg.202409301245"}},
		{[]string{"README.txt", "dmesg", "vmcore"}, DumpContents{DumpComplete, "vmcore", "dmesg"}},
		{[]string{"vmcore-dmesg.txt"}, DumpContents{DumpNone, "", "vmcore-dmesg.txt"}},
		{nil, DumpContents{}},
	}
	for _, tc := range tests {
		if got := SummarizeDump(tc.names); got != tc.want {
			t.Errorf("SummarizeDump(%q) = %+v, want %+v", tc.names, got, tc.want)
		}
	}
	if DumpIncomplete.String() != "incomplete" || DumpComplete.String() != "complete" || DumpNone.String() != "none" {
		t.Error("DumpState.String")
	}
}

func TestParseApportName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		want Apport
	}{
		{"linux-image-6.8.0-45-generic-202409301245.0.crash", true, Apport{Kernel: true, Release: "6.8.0-45-generic", Time: utc(2024, 9, 30, 12, 45, 0), HasTime: true}},
		{"linux-image-5.15.0-105-generic-202405011200.0.crash", true, Apport{Kernel: true, Release: "5.15.0-105-generic", Time: utc(2024, 5, 1, 12, 0, 0), HasTime: true}},
		{"linux-image-6.8.0-45-generic.0.crash", true, Apport{Kernel: true, Release: "6.8.0-45-generic"}},
		{"_usr_bin_python3.12.1000.crash", true, Apport{Executable: "/usr/bin/python3.12", UID: 1000}},
		{"_usr_lib_firefox_firefox.0.crash", true, Apport{Executable: "/usr/lib/firefox/firefox"}},
		{"_usr_bin_python3.12.1000.upload", true, Apport{Executable: "/usr/bin/python3.12", UID: 1000, Marker: "upload"}},
		{"_usr_bin_python3.12.1000.uploaded", true, Apport{Executable: "/usr/bin/python3.12", UID: 1000, Marker: "uploaded"}},
		{"libc6.0.crash", true, Apport{Package: "libc6"}},
		{"linux-image-6.8.0-45-generic-202409301245.1000.crash", true, Apport{Package: "linux-image-6.8.0-45-generic-202409301245", UID: 1000}},
		{"_usr_bin_x.crash", false, Apport{}},
		{"_usr_bin_x.99999999999.crash", false, Apport{}},
		{".1000.crash", false, Apport{}},
		{"202409301245", false, Apport{}},
		{"kdump_lock", false, Apport{}},
	}
	for _, tc := range tests {
		got, ok := ParseApportName(tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseApportName(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseApportHeader(t *testing.T) {
	report := "ProblemType: Crash\nArchitecture: amd64\nCrashCounter: 1\nDate: Mon Sep 30 12:45:01 2024\nDistroRelease: Ubuntu 24.04\n" +
		"ExecutablePath: /usr/bin/python3.12\nExecutableTimestamp: 1727000000\nProcCmdline: /usr/bin/python3 -m http.server\n" +
		"Signal: 11\nCoreDump: base64\n H4sICAAAAAAC/0NvcmVEdW1wAA==\n"
	exe, date := ParseApportHeader([]byte(report))
	if exe != "/usr/bin/python3.12" || date != "Mon Sep 30 12:45:01 2024" {
		t.Errorf("got %q %q", exe, date)
	}
	exe, date = ParseApportHeader([]byte("ProblemType: KernelCrash\r\nDate: Tue Oct  1 08:00:00 2024\r\n"))
	if exe != "" || date != "Tue Oct  1 08:00:00 2024" {
		t.Errorf("kernel report: got %q %q", exe, date)
	}
	// Continuation lines are not fields; control bytes are dropped.
	exe, _ = ParseApportHeader([]byte("Foo: bar\n ExecutablePath: /fake\nExecutablePath: /usr/bin/a\x1bb\n"))
	if exe != "/usr/bin/ab" {
		t.Errorf("got %q", exe)
	}
}

func TestParsePstoreName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		want Pstore
	}{
		{"dmesg-ramoops-0", true, Pstore{"dmesg", "ramoops", "0", false}},
		{"dmesg-ramoops-1.enc.z", true, Pstore{"dmesg", "ramoops", "1", true}},
		{"console-ramoops-0", true, Pstore{"console", "ramoops", "0", false}},
		{"console-ramoops", true, Pstore{"console", "ramoops", "", false}},
		{"ftrace-ramoops", true, Pstore{"ftrace", "ramoops", "", false}},
		{"pmsg-ramoops-0", true, Pstore{"pmsg", "ramoops", "0", false}},
		{"dmesg-efi-171717171701001", true, Pstore{"dmesg", "efi", "171717171701001", false}},
		{"dmesg-efi_pstore-172712345601001", true, Pstore{"dmesg", "efi_pstore", "172712345601001", false}},
		{"dmesg-erst-7312465811259981825", true, Pstore{"dmesg", "erst", "7312465811259981825", false}},
		{"mce-erst-7312465811259981826", true, Pstore{"mce", "erst", "7312465811259981826", false}},
		{"powerpc-ofw-nvram-1", true, Pstore{"powerpc-ofw", "nvram", "1", false}},
		{"powerpc-common-nvram-2", true, Pstore{"powerpc-common", "nvram", "2", false}},
		{"rtas-nvram-4", true, Pstore{"rtas", "nvram", "4", false}},
		{"unknown-ramoops-3", true, Pstore{"other", "ramoops", "3", false}},
		{"type12-ramoops-3", true, Pstore{"other", "ramoops", "3", false}},
		{"dmesg-blkoops-0", true, Pstore{"dmesg", "other", "0", false}},
		{"dmesg-ramoops", false, Pstore{}},
		{"dmesg-0", false, Pstore{}},
		{"dmesg--0", false, Pstore{}},
		{"console-ramoops.enc.z", false, Pstore{}},
		{"dmesg-ramoops-123456789012345678901", false, Pstore{}},
		{"dmesg.txt", false, Pstore{}},
		{"", false, Pstore{}},
	}
	for _, tc := range tests {
		got, ok := ParsePstoreName(tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParsePstoreName(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if id, ok := ParsePstoreArchiveDir("171717171701"); !ok || id != "171717171701" {
		t.Error("archive dir not recognised")
	}
	if _, ok := ParsePstoreArchiveDir("dmesg-efi-1"); ok {
		t.Error("record file taken for an archive dir")
	}
}

func TestParseCoredumpName(t *testing.T) {
	boot := "7d2c4e1f9a8b4c3d9e0f1a2b3c4d5e6f"
	tests := []struct {
		name string
		ok   bool
		want Coredump
	}{
		{"core.bash.1000." + boot + ".4242.1727700301123456.zst", true, Coredump{"bash", 1000, boot, 4242, time.UnixMicro(1727700301123456).UTC(), "zst"}},
		{"core.python3.12.0." + boot + ".77.1727700301000000", true, Coredump{"python3.12", 0, boot, 77, time.UnixMicro(1727700301000000).UTC(), ""}},
		{"core.Web\\x20Content.1000." + boot + ".5.1727700301000000.xz", true, Coredump{"Web Content", 1000, boot, 5, time.UnixMicro(1727700301000000).UTC(), "xz"}},
		{"core.a\\x01b.1000." + boot + ".5.1.lz4", true, Coredump{"a?b", 1000, boot, 5, time.UnixMicro(1).UTC(), "lz4"}},
		{"core.a\\xffb.1000." + boot + ".5.1", true, Coredump{"a?b", 1000, boot, 5, time.UnixMicro(1).UTC(), ""}},
		{"core.kworker.1000." + boot + ".5.1.gz", false, Coredump{}},
		{"core..1000." + boot + ".5.1", false, Coredump{}},
		{"core.x.1000." + "7D2C4E1F9A8B4C3D9E0F1A2B3C4D5E6F" + ".5.1", false, Coredump{}},
		{"core.x.1000." + boot[:31] + ".5.1", false, Coredump{}},
		{"core.x.99999999999." + boot + ".5.1", false, Coredump{}},
		{".#core.x.1000." + boot + ".5.1", false, Coredump{}},
		{"core", false, Coredump{}},
		{"core.1234", false, Coredump{}},
	}
	for _, tc := range tests {
		got, ok := ParseCoredumpName(tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseCoredumpName(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
