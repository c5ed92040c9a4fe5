package dm

import (
	"reflect"
	"testing"
)

// A /proc/self/mounts as a host with LVM thin volumes, btrfs on a dm device
// and a Docker devicemapper container writes it.
const mountsFixture = `/dev/mapper/centos-root / xfs rw,relatime,attr2,inode64,logbufs=8,logbsize=32k,noquota 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
/dev/sda1 /boot xfs rw,relatime,attr2,discard,inode64 0 0
/dev/mapper/vg0-thin1 /srv/data ext4 rw,relatime,discard 0 0
/dev/mapper/vg0-thin2 /srv/with\040space ext4 rw,relatime,nodiscard 0 0
/dev/mapper/vg--data-thin--a /var/lib/store btrfs rw,relatime,ssd,discard=async,space_cache=v2,subvolid=5,subvol=/ 0 0
/dev/mapper/vg0-thin3 /mnt/sync btrfs rw,relatime,ssd,discard,space_cache=v2,subvolid=5,subvol=/ 0 0
/dev/dm-7 /mnt/raw ext4 rw,relatime,discard,nodiscard 0 0
/dev/dm-2 /var/lib/docker/devicemapper/mnt/e36563d8b6da25a4 xfs rw,relatime,nouuid,attr2,discard,inode64,logbsize=64k,sunit=128,swidth=128,noquota 0 0
/dev/mapper/control /x ext4 rw,discard 0 0
/dev/dm-x /y ext4 rw,discard 0 0
/dev/mapper/ /z ext4 rw,discard 0 0
truncated line
tmpfs /run tmpfs rw,nosuid,nodev,size=1632000k,mode=755 0 0
`

func TestMountDiscard(t *testing.T) {
	want := []Mount{
		{"/dev/mapper/centos-root", "/", "xfs", "off", ""},
		{"/dev/mapper/vg0-thin1", "/srv/data", "ext4", "on", ""},
		{"/dev/mapper/vg0-thin2", "/srv/with space", "ext4", "off", ""},
		{"/dev/mapper/vg--data-thin--a", "/var/lib/store", "btrfs", "async", ""},
		{"/dev/mapper/vg0-thin3", "/mnt/sync", "btrfs", "on", ""},
		{"/dev/dm-7", "/mnt/raw", "ext4", "off", ""},
		{"/dev/dm-2", "/var/lib/docker/devicemapper/mnt/e36563d8b6da25a4", "xfs", "on", ""},
	}
	got, malformed := MountDiscard(mountsFixture)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MountDiscard:\n got %+v\nwant %+v", got, want)
	}
	// "truncated line" is the one line that is not a mounts line.
	if malformed != 1 {
		t.Errorf("malformed = %d, want 1", malformed)
	}
	if got, malformed := MountDiscard(""); len(got) != 0 || malformed != 0 {
		t.Errorf("empty input: %+v, %d", got, malformed)
	}
	// Garbage around a real line: the line is kept, the rest counted.
	got, malformed = MountDiscard("\x00\x01\n/dev/dm-1 /a ext4 rw,discard 0 0\n/dev/dm-2 /b ext4 rw 0\nnot a mount\n\n")
	if len(got) != 1 || got[0].Device != "/dev/dm-1" || malformed != 3 {
		t.Errorf("garbage: %+v, malformed %d", got, malformed)
	}
}

func TestUnescapeOctal(t *testing.T) {
	cases := map[string]string{
		`/a\040b`:    "/a b",
		`/tab\011x`:  "/tab\tx",
		`/nl\012`:    "/nl\n",
		`/bs\134x`:   `/bs\x`,
		`/trail\04`:  `/trail\04`,
		`/big\400`:   `/big\400`,
		`/not\08a`:   `/not\08a`,
		`\`:          `\`,
		`/\101\102C`: "/ABC",
	}
	for in, want := range cases {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}
