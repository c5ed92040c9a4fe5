package kdump

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const (
	KiB = uint64(1) << 10
	MiB = uint64(1) << 20
	GiB = uint64(1) << 30
	TiB = uint64(1) << 40
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name    string
		cmdline string
		want    Crashkernel
	}{
		{
			name:    "absent",
			cmdline: "BOOT_IMAGE=/vmlinuz-6.8.0-45-generic root=UUID=1b4f ro quiet splash\n",
			want:    Crashkernel{},
		},
		{
			name:    "empty",
			cmdline: "",
			want:    Crashkernel{},
		},
		{
			name:    "fixed size",
			cmdline: "root=/dev/sda1 crashkernel=256M quiet",
			want: Crashkernel{Present: true,
				Main: &Spec{Token: "crashkernel=256M", Size: 256 * MiB}},
		},
		{
			name:    "fixed size with offset",
			cmdline: "crashkernel=256M@16M",
			want: Crashkernel{Present: true,
				Main: &Spec{Token: "crashkernel=256M@16M", Size: 256 * MiB, Offset: 16 * MiB}},
		},
		{
			name:    "RHEL 9 sample line",
			cmdline: "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64 root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet\n",
			want: Crashkernel{Present: true, Main: &Spec{
				Token: "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M",
				Ranges: []Range{
					{Start: 1 * GiB, End: 4 * GiB, Size: 192 * MiB},
					{Start: 4 * GiB, End: 64 * GiB, Size: 256 * MiB},
					{Start: 64 * GiB, Size: 512 * MiB},
				}}},
		},
		{
			name:    "ranges with offset",
			cmdline: "crashkernel=512M-2G:64M,2G-:128M@16M",
			want: Crashkernel{Present: true, Main: &Spec{
				Token:  "crashkernel=512M-2G:64M,2G-:128M@16M",
				Ranges: []Range{{512 * MiB, 2 * GiB, 64 * MiB}, {2 * GiB, 0, 128 * MiB}},
				Offset: 16 * MiB}},
		},
		{
			name:    "SUSE high and low",
			cmdline: "BOOT_IMAGE=/boot/vmlinuz-6.4.0-150600.23.7-default root=UUID=9d1c splash=silent mitigations=auto quiet security=apparmor crashkernel=72M,low crashkernel=300M,high",
			want: Crashkernel{Present: true,
				High: &Spec{Token: "crashkernel=300M,high", Size: 300 * MiB},
				Low:  &Spec{Token: "crashkernel=72M,low", Size: 72 * MiB}},
		},
		{
			name:    "high without low",
			cmdline: "crashkernel=1G,high",
			want:    Crashkernel{Present: true, High: &Spec{Token: "crashkernel=1G,high", Size: GiB}},
		},
		{
			name:    "cma alongside a plain size",
			cmdline: "crashkernel=256M crashkernel=1G,cma",
			want: Crashkernel{Present: true,
				Main: &Spec{Token: "crashkernel=256M", Size: 256 * MiB},
				CMA:  &Spec{Token: "crashkernel=1G,cma", Size: GiB}},
		},
		{
			name:    "auto",
			cmdline: "BOOT_IMAGE=(hd0,msdos1)/vmlinuz-4.18.0-553.el8_10.x86_64 root=/dev/mapper/rhel-root ro crashkernel=auto resume=/dev/mapper/rhel-swap rhgb quiet",
			want:    Crashkernel{Present: true, Auto: true},
		},
		{
			name:    "last plain token wins",
			cmdline: "crashkernel=128M crashkernel=2G-:256M",
			want: Crashkernel{Present: true, Main: &Spec{
				Token: "crashkernel=2G-:256M", Ranges: []Range{{2 * GiB, 0, 256 * MiB}}}},
		},
		{
			name:    "auto overridden by a later size",
			cmdline: "crashkernel=auto crashkernel=512M",
			want:    Crashkernel{Present: true, Main: &Spec{Token: "crashkernel=512M", Size: 512 * MiB}},
		},
		{
			name:    "each class keeps its own last token",
			cmdline: "crashkernel=1G,high crashkernel=64M,low crashkernel=2G,high crashkernel=128M,low",
			want: Crashkernel{Present: true,
				High: &Spec{Token: "crashkernel=2G,high", Size: 2 * GiB},
				Low:  &Spec{Token: "crashkernel=128M,low", Size: 128 * MiB}},
		},
		{
			name:    "earlier malformed token of the class is ignored",
			cmdline: "crashkernel=bogus crashkernel=256M",
			want:    Crashkernel{Present: true, Main: &Spec{Token: "crashkernel=256M", Size: 256 * MiB}},
		},
		{
			name:    "every size suffix, either case",
			cmdline: "crashkernel=1t,high crashkernel=2048k,low crashkernel=1g,cma",
			want: Crashkernel{Present: true,
				High: &Spec{Token: "crashkernel=1t,high", Size: TiB},
				Low:  &Spec{Token: "crashkernel=2048k,low", Size: 2 * MiB},
				CMA:  &Spec{Token: "crashkernel=1g,cma", Size: GiB}},
		},
		{
			name:    "P and E suffixes",
			cmdline: "crashkernel=1P-1E:1G,1E-:2G",
			want: Crashkernel{Present: true, Main: &Spec{
				Token:  "crashkernel=1P-1E:1G,1E-:2G",
				Ranges: []Range{{1 << 50, 1 << 60, GiB}, {1 << 60, 0, 2 * GiB}}}},
		},
		{
			name:    "hex and octal as memparse reads them",
			cmdline: "crashkernel=0x10000000@0x1000000",
			want: Crashkernel{Present: true,
				Main: &Spec{Token: "crashkernel=0x10000000@0x1000000", Size: 256 * MiB, Offset: 16 * MiB}},
		},
		{
			name:    "plain bytes",
			cmdline: "crashkernel=268435456",
			want:    Crashkernel{Present: true, Main: &Spec{Token: "crashkernel=268435456", Size: 256 * MiB}},
		},
		{
			name:    "quoted parameters around it, tabs and newline",
			cmdline: "root=/dev/vda1\tdyndbg=\"file drivers/usb/* +p\" crashkernel=384M-:128M  \"quoted=a b\" console=ttyS0,115200n8\n",
			want: Crashkernel{Present: true, Main: &Spec{
				Token: "crashkernel=384M-:128M", Ranges: []Range{{384 * MiB, 0, 128 * MiB}}}},
		},
		{
			name:    "crashkernel= inside another quoted value is not a parameter",
			cmdline: `kdump.args="crashkernel=1G" crashkernel=256M`,
			want:    Crashkernel{Present: true, Main: &Spec{Token: "crashkernel=256M", Size: 256 * MiB}},
		},
		{
			name:    "similar names are not crashkernel",
			cmdline: "crashkernel_foo=1G xcrashkernel=2G crashkernel.x=3G crashkernel \"crashkernel\"",
			want:    Crashkernel{},
		},
		{
			name:    "capture kernel command line",
			cmdline: "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64 ro resume=/dev/mapper/rhel-swap irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off numa=off udev.children-max=2 panic=10 acpi_no_memhotplug transparent_hugepage=never nokaslr hest_disable novmcoredd cma=0 hugetlb_cma=0 disable_cpu_apicid=0 elfcorehdr=0xb7000000",
			want:    Crashkernel{CaptureKernel: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCmdline(tt.cmdline)
			if err != nil {
				t.Fatalf("ParseCmdline: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCmdline(%q)\n got  %s\n want %s", tt.cmdline, dump(got), dump(tt.want))
			}
		})
	}
}

func dump(c Crashkernel) string {
	spec := func(s *Spec) string {
		if s == nil {
			return "nil"
		}
		return fmt.Sprintf("%+v", *s)
	}
	return fmt.Sprintf("{Present:%v Auto:%v Invalid:%v CaptureKernel:%v Main:%s High:%s Low:%s CMA:%s}",
		c.Present, c.Auto, c.Invalid, c.CaptureKernel, spec(c.Main), spec(c.High), spec(c.Low), spec(c.CMA))
}

func TestParseCmdlineMalformed(t *testing.T) {
	tests := []struct {
		cmdline string
		token   string
	}{
		{"crashkernel=", "crashkernel="},
		{"crashkernel=abc", "crashkernel=abc"},
		{"crashkernel=256X", "crashkernel=256X"},
		{"crashkernel=256M@", "crashkernel=256M@"},
		{"crashkernel=256M@16Mx", "crashkernel=256M@16Mx"},
		{"crashkernel=-256M", "crashkernel=-256M"},
		{"crashkernel=2G-1G:128M", "crashkernel=2G-1G:128M"},
		{"crashkernel=1G-1G:128M", "crashkernel=1G-1G:128M"},
		{"crashkernel=1G:128M", "crashkernel=1G:128M"},
		{"crashkernel=1G-2G128M:", "crashkernel=1G-2G128M:"},
		{"crashkernel=1G-2G:", "crashkernel=1G-2G:"},
		{"crashkernel=1G-2G:64M,", "crashkernel=1G-2G:64M,"},
		{"crashkernel=1G-2G:64M;2G-:128M", "crashkernel=1G-2G:64M;2G-:128M"},
		{"crashkernel=,high", "crashkernel=,high"},
		{"crashkernel=1G@16M,high", "crashkernel=1G@16M,high"},
		{"crashkernel=512M-2G:64M,high", "crashkernel=512M-2G:64M,high"},
		{"crashkernel=1G,high crashkernel=x,low", "crashkernel=x,low"},
		{"crashkernel=256M,cma2", "crashkernel=256M,cma2"},
		{"crashkernel=256M,medium", "crashkernel=256M,medium"},
		{"crashkernel=20E", "crashkernel=20E"},
		{"crashkernel=99999999999999999999", "crashkernel=99999999999999999999"},
		{"crashkernel=AUTO", "crashkernel=AUTO"},
		{`crashkernel="256M"`, `crashkernel="256M"`},
		{`"crashkernel=256M"`, `crashkernel=256M"`},
		{"crashkernel=256M crashkernel=oops", "crashkernel=oops"},
	}
	for _, tt := range tests {
		t.Run(tt.cmdline, func(t *testing.T) {
			got, err := ParseCmdline(tt.cmdline)
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("ParseCmdline(%q) error = %v, want a *TokenError", tt.cmdline, err)
			}
			if te.Token != tt.token {
				t.Errorf("error names %q, want %q", te.Token, tt.token)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tt.token)) {
				t.Errorf("error text %q does not name the token", err)
			}
			if !got.Present || !got.Invalid {
				t.Errorf("Present=%v Invalid=%v, want both true", got.Present, got.Invalid)
			}
			if n, ok := got.Requested(64 * GiB); ok || n != 0 {
				t.Errorf("Requested = %d, %v; want 0, false for an invalid request", n, ok)
			}
		})
	}
}

func TestParseCmdlineBoundsToken(t *testing.T) {
	long := "crashkernel=" + strings.Repeat("9", 400) + "M"
	_, err := ParseCmdline(long)
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v, want *TokenError", err)
	}
	if len(te.Token) > maxTokenLen {
		t.Errorf("token in error is %d bytes, want at most %d", len(te.Token), maxTokenLen)
	}
	many := "crashkernel=" + strings.Repeat("1G-2G:64M,", maxRanges) + "2G-:128M"
	if _, err := ParseCmdline(many); err == nil || !strings.Contains(err.Error(), "too many ranges") {
		t.Errorf("%d ranges: error = %v, want too many ranges", maxRanges+1, err)
	}
	ok := "crashkernel=" + strings.Repeat("1G-2G:64M,", maxRanges-1) + "2G-:128M"
	ck, err := ParseCmdline(ok)
	if err != nil || len(ck.Main.Ranges) != maxRanges {
		t.Errorf("%d ranges: err=%v", maxRanges, err)
	}
}

// The distributions' default reservations (KERNEL.md §1) at several RAM
// sizes, as the kernel evaluates them.
func TestRequestedDistroDefaults(t *testing.T) {
	const (
		fedora = "crashkernel=2G-64G:256M,64G-:512M"
		oldRH  = "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M"
		debian = "crashkernel=384M-:128M"
		ubuntu = "crashkernel=2G-4G:320M,4G-32G:512M,32G-64G:1024M,64G-128G:2048M,128G-:4096M"
		suse   = "crashkernel=72M,low crashkernel=300M,high"
	)
	tests := []struct {
		cmdline string
		ram     uint64
		want    uint64
	}{
		{fedora, 1 * GiB, 0},
		{fedora, 2*GiB - 100*MiB, 256 * MiB}, // rounded up to 128 MiB: firmware holes
		{fedora, 2 * GiB, 256 * MiB},
		{fedora, 16 * GiB, 256 * MiB},
		{fedora, 64*GiB - 1, 512 * MiB}, // rounds up into the open range
		{fedora, 64 * GiB, 512 * MiB},
		{fedora, 1 * TiB, 512 * MiB},

		{oldRH, 512 * MiB, 0}, // the 512M entry is >= RAM: the kernel rejects all
		{oldRH, 1 * GiB, 192 * MiB},
		{oldRH, 4 * GiB, 256 * MiB},
		{oldRH, 8 * GiB, 256 * MiB},
		{oldRH, 128 * GiB, 512 * MiB},

		{debian, 256 * MiB, 0},
		{debian, 384 * MiB, 128 * MiB},
		{debian, 4 * GiB, 128 * MiB},
		{debian, 512 * GiB, 128 * MiB},

		{ubuntu, 1 * GiB, 0}, // 1024M entry is >= RAM before any match
		{ubuntu, 2 * GiB, 320 * MiB},
		{ubuntu, 8 * GiB, 512 * MiB},
		{ubuntu, 48 * GiB, 1 * GiB},
		{ubuntu, 96 * GiB, 2 * GiB},
		{ubuntu, 256 * GiB, 4 * GiB},

		{suse, 256 * MiB, 0}, // 300M high region does not fit
		{suse, 4 * GiB, 372 * MiB},
		{suse, 256 * GiB, 372 * MiB},
	}
	for _, tt := range tests {
		ck, err := ParseCmdline(tt.cmdline)
		if err != nil {
			t.Fatalf("ParseCmdline(%q): %v", tt.cmdline, err)
		}
		got, ok := ck.Requested(tt.ram)
		if !ok || got != tt.want {
			t.Errorf("%s at %d MiB RAM: Requested = %d MiB, %v; want %d MiB, true",
				tt.cmdline, tt.ram/MiB, got/MiB, ok, tt.want/MiB)
		}
	}
}

func TestReserve(t *testing.T) {
	tests := []struct {
		name       string
		cmdline    string
		ram        uint64
		defaultLow uint64
		want       Reservation
		wantOK     bool
	}{
		{"none", "quiet", 8 * GiB, DefaultLowX86_64, Reservation{}, true},
		{"fixed", "crashkernel=256M", 8 * GiB, DefaultLowX86_64, Reservation{Main: 256 * MiB}, true},
		{"fixed with offset", "crashkernel=256M@16M", 8 * GiB, DefaultLowX86_64, Reservation{Main: 256 * MiB}, true},
		{"fixed not below RAM", "crashkernel=1G", 1 * GiB, DefaultLowX86_64, Reservation{}, true},
		{"high adds x86_64 default low", "crashkernel=1G,high", 64 * GiB, DefaultLowX86_64,
			Reservation{Main: GiB, Low: 256 * MiB}, true},
		{"high adds generic default low", "crashkernel=1G,high", 64 * GiB, DefaultLowGeneric,
			Reservation{Main: GiB, Low: 128 * MiB}, true},
		{"explicit low wins over default", "crashkernel=1G,high crashkernel=64M,low", 64 * GiB, DefaultLowX86_64,
			Reservation{Main: GiB, Low: 64 * MiB}, true},
		{"low of zero disables it", "crashkernel=1G,high crashkernel=0M,low", 64 * GiB, DefaultLowX86_64,
			Reservation{Main: GiB}, true},
		{"high of zero reserves nothing", "crashkernel=0,high", 64 * GiB, DefaultLowX86_64, Reservation{}, true},
		{"plain disables high and low", "crashkernel=1G,high crashkernel=64M,low crashkernel=256M", 64 * GiB, DefaultLowX86_64,
			Reservation{Main: 256 * MiB}, true},
		{"cma adds to plain", "crashkernel=256M crashkernel=1G,cma", 64 * GiB, DefaultLowX86_64,
			Reservation{Main: 256 * MiB, CMA: GiB}, true},
		{"cma adds to high", "crashkernel=512M,high crashkernel=1G,cma", 64 * GiB, DefaultLowX86_64,
			Reservation{Main: 512 * MiB, Low: 256 * MiB, CMA: GiB}, true},
		{"cma alone reserves nothing", "crashkernel=1G,cma", 64 * GiB, DefaultLowX86_64, Reservation{}, true},
		{"low alone reserves nothing", "crashkernel=128M,low", 64 * GiB, DefaultLowX86_64, Reservation{}, true},
		{"range without match drops cma too", "crashkernel=2G-:256M crashkernel=1G,cma", 1 * GiB, DefaultLowX86_64,
			Reservation{}, true},
		{"range with offset", "crashkernel=512M-2G:64M,2G-:128M@16M", 1 * GiB, DefaultLowX86_64,
			Reservation{Main: 64 * MiB}, true},
		{"range start inclusive", "crashkernel=512M-2G:64M,2G-:128M", 2 * GiB, DefaultLowX86_64,
			Reservation{Main: 128 * MiB}, true},
		{"range below first start", "crashkernel=512M-2G:64M,2G-:128M", 256 * MiB, DefaultLowX86_64,
			Reservation{}, true},
		{"auto is unknown", "crashkernel=auto", 8 * GiB, DefaultLowX86_64, Reservation{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck, err := ParseCmdline(tt.cmdline)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := ck.Reserve(tt.ram, tt.defaultLow)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Reserve = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
			total, ok2 := ck.Requested(tt.ram)
			if tt.defaultLow == DefaultLowX86_64 && (total != tt.want.Total() || ok2 != tt.wantOK) {
				t.Errorf("Requested = %d, %v; want %d, %v", total, ok2, tt.want.Total(), tt.wantOK)
			}
		})
	}
}

func TestReservationTotalSaturates(t *testing.T) {
	r := Reservation{Main: ^uint64(0) - 1, Low: 5, CMA: 5}
	if got := r.Total(); got != ^uint64(0) {
		t.Errorf("Total = %d, want saturation at MaxUint64", got)
	}
}

func TestMemparse(t *testing.T) {
	tests := []struct {
		in   string
		n    uint64
		rest string
		ok   bool
	}{
		{"0", 0, "", true},
		{"128", 128, "", true},
		{"4k", 4 * KiB, "", true},
		{"4K@", 4 * KiB, "@", true},
		{"1E", 1 << 60, "", true},
		{"15E", 15 << 60, "", true},
		{"16E", 0, "16E", false},
		{"0x1f", 31, "", true},
		{"0X1fM", 31 * MiB, "", true},
		{"0x", 0, "x", true}, // base 8 "0", as simple_strtoull reads it
		{"010", 8, "", true},
		{"08", 0, "8", true},
		{"M", 0, "M", false},
		{"", 0, "", false},
		{"18446744073709551615", ^uint64(0), "", true},
		{"18446744073709551616", 0, "18446744073709551616", false},
	}
	for _, tt := range tests {
		n, rest, err := memparse(tt.in)
		if (err == "") != tt.ok || n != tt.n || rest != tt.rest {
			t.Errorf("memparse(%q) = %d, %q, %q; want %d, %q, ok=%v", tt.in, n, rest, err, tt.n, tt.rest, tt.ok)
		}
	}
}
