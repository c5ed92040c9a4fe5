package dm

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

var ne = binary.NativeEndian

// kernelResponse lays out a DM_TABLE_STATUS result the way
// drivers/md/dm-ioctl.c retrieve_status does: specs from data_start, each
// followed by its NUL-terminated parameters, the next spec 8-byte aligned,
// next = offset from the first spec, data_size = end of the last string.
func kernelResponse(size int, flags uint32, targets []Target) []byte {
	buf := EncodeRequest(DevNum{253, 2}.Encode(), flags, size)
	ne.PutUint32(buf[0:], 4)
	ne.PutUint32(buf[4:], 48)
	ne.PutUint32(buf[8:], 0)
	out := buf[HeaderSize:]
	pos, used := 0, HeaderSize
	for _, t := range targets {
		spec := out[pos:]
		ne.PutUint64(spec[0:], t.Start)
		ne.PutUint64(spec[8:], t.Length)
		copy(spec[24:40], t.Type)
		pos += specSize
		pos += copy(out[pos:], t.Params) + 1
		used = HeaderSize + pos
		pos = (pos + 7) &^ 7
		ne.PutUint32(spec[20:], uint32(pos))
	}
	ne.PutUint32(buf[offDataSize:], uint32(used))
	ne.PutUint32(buf[offTargetCount:], uint32(len(targets)))
	ne.PutUint32(buf[offFlags:], flags|FlagActivePresent)
	copy(buf[offName:], "vg0-pool0-tpool")
	copy(buf[offUUID:], "LVM-M0XvqZjxTW3xvboSRt5Mh3dAwVtRMflhdhKMlRdZQ9QsTXUuSnH6av1Ib8pp1xxX-tpool")
	return buf
}

func TestHeaderLayout(t *testing.T) {
	// Offsets of struct dm_ioctl in include/uapi/linux/dm-ioctl.h.
	if got := offUUID + uuidLen + 7; got != HeaderSize {
		t.Fatalf("uuid end + data[7] = %d, want %d", got, HeaderSize)
	}
	if offName != offDev+8 || offDev%8 != 0 {
		t.Fatalf("dev at %d, name at %d", offDev, offName)
	}
	if ioctlTableStatus != 0xC138FD0C || ioctlVersion != 0xC138FD00 || ioctlListDevices != 0xC138FD02 {
		t.Fatalf("ioctl numbers %#x %#x %#x", ioctlTableStatus, ioctlVersion, ioctlListDevices)
	}
}

func TestEncodeRequest(t *testing.T) {
	dev := DevNum{Major: 253, Minor: 2}
	buf := EncodeRequest(dev.Encode(), FlagNoFlush, 1001)
	if len(buf) != 1008 {
		t.Fatalf("len = %d, want 1001 rounded up to 1008", len(buf))
	}
	want := []struct {
		off  int
		name string
		v    uint32
	}{
		{0, "version[0]", 4}, {4, "version[1]", 0}, {8, "version[2]", 0},
		{offDataSize, "data_size", 1008}, {offDataStart, "data_start", HeaderSize},
		{offTargetCount, "target_count", 0}, {offFlags, "flags", 1 << 11},
	}
	for _, w := range want {
		if got := ne.Uint32(buf[w.off:]); got != w.v {
			t.Errorf("%s = %d, want %d", w.name, got, w.v)
		}
	}
	if got := ne.Uint64(buf[offDev:]); got != 253<<8|2 {
		t.Errorf("dev = %#x, want %#x", got, 253<<8|2)
	}
	for i := offName; i < len(buf); i++ {
		if buf[i] != 0 {
			t.Fatalf("byte %d = %#x, want name, uuid and data zeroed", i, buf[i])
		}
	}
	if small := EncodeRequest(0, 0, 10); len(small) != HeaderSize {
		t.Errorf("small request len = %d, want %d", len(small), HeaderSize)
	}
}

func TestDevNum(t *testing.T) {
	cases := []struct {
		d   DevNum
		enc uint64
	}{
		{DevNum{253, 0}, 0xfd00},
		{DevNum{253, 300}, 0x10fd2c},        // minor above 255: high bits at 20
		{DevNum{8, 16}, 0x810},              // sdb
		{DevNum{259, 3}, 0x10303},           // nvme partition
		{DevNum{4095, 1048575}, 0xffffffff}, // largest kernel dev_t
	}
	for _, c := range cases {
		if got := c.d.Encode(); got != c.enc {
			t.Errorf("%v.Encode() = %#x, want %#x", c.d, got, c.enc)
		}
		if got := DecodeDevNum(c.enc); got != c.d {
			t.Errorf("DecodeDevNum(%#x) = %v, want %v", c.enc, got, c.d)
		}
	}
	if d, err := ParseDevNum("253:12"); err != nil || d != (DevNum{253, 12}) || d.String() != "253:12" {
		t.Errorf("ParseDevNum(253:12) = %v, %v", d, err)
	}
	for _, bad := range []string{"", "253", "253:", ":1", "a:b", "253:1:2", "-1:0", "99999999999:0"} {
		if _, err := ParseDevNum(bad); err == nil {
			t.Errorf("ParseDevNum(%q) succeeded", bad)
		}
	}
}

func TestDecodeTargets(t *testing.T) {
	two := []Target{
		{0, 209715200, "thin-pool", "5 1234/16384 82011/1638400 - rw discard_passdown queue_if_no_space - 1024 "},
		{209715200, 2048, "linear", "8:2 2048"},
	}
	got, flags, err := DecodeTargets(kernelResponse(16<<10, FlagNoFlush, two))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, two) {
		t.Errorf("targets = %+v\nwant %+v", got, two)
	}
	if flags&FlagActivePresent == 0 || flags&FlagNoFlush == 0 {
		t.Errorf("flags = %#x, want active-present and no-flush kept", flags)
	}

	empty, _, err := DecodeTargets(kernelResponse(16<<10, 0, nil))
	if err != nil || len(empty) != 0 {
		t.Errorf("no table: %v, %v", empty, err)
	}

	h, err := DecodeHeader(kernelResponse(512, 0, nil))
	if err != nil || h.Name != "vg0-pool0-tpool" || h.Dev != (DevNum{253, 2}) || h.Version != [3]uint32{4, 48, 0} {
		t.Errorf("header = %+v, %v", h, err)
	}
}

func TestDecodeTargetsErrors(t *testing.T) {
	one := []Target{{0, 8, "thin", "0 -"}}
	full := kernelResponse(1024, 0, one)
	ne.PutUint32(full[offFlags:], FlagBufferFull)
	if _, flags, err := DecodeTargets(full); !errors.Is(err, ErrBufferFull) || flags&FlagBufferFull == 0 {
		t.Errorf("buffer full: flags %#x, err %v", flags, err)
	}

	cases := map[string]func(b []byte) []byte{
		"short header": func(b []byte) []byte { return b[:HeaderSize-1] },
		"bad version":  func(b []byte) []byte { ne.PutUint32(b[0:], 3); return b },
		"data_start before header": func(b []byte) []byte {
			ne.PutUint32(b[offDataStart:], 8)
			return b
		},
		"data_start past end": func(b []byte) []byte {
			ne.PutUint32(b[offDataStart:], 1<<30)
			return b
		},
		"count too large": func(b []byte) []byte {
			ne.PutUint32(b[offTargetCount:], 1<<31)
			return b
		},
		"params unterminated": func(b []byte) []byte {
			for i := HeaderSize + specSize; i < len(b); i++ {
				b[i] = 'x'
			}
			ne.PutUint32(b[offDataSize:], uint32(len(b)))
			return b
		},
		"next backwards": func(b []byte) []byte {
			b = kernelResponse(1024, 0, append(one, one...))
			ne.PutUint32(b[HeaderSize+specNextOff:], 0)
			return b
		},
		"next into own params": func(b []byte) []byte {
			b = kernelResponse(1024, 0, append(one, one...))
			ne.PutUint32(b[HeaderSize+specNextOff:], specSize+2)
			return b
		},
		"next past end": func(b []byte) []byte {
			b = kernelResponse(1024, 0, append(one, one...))
			ne.PutUint32(b[HeaderSize+specNextOff:], 1<<20)
			return b
		},
		"data_size cuts second spec": func(b []byte) []byte {
			ne.PutUint32(b[offTargetCount:], 2)
			return b
		},
	}
	for name, mutate := range cases {
		buf := mutate(kernelResponse(1024, 0, one))
		if got, _, err := DecodeTargets(buf); err == nil {
			t.Errorf("%s: decoded %+v, want error", name, got)
		}
	}
}

func TestDecodeNameList(t *testing.T) {
	buf := EncodeRequest(0, 0, 1024)
	data := buf[HeaderSize:]
	// Two records as list_devices writes them on a current kernel: name,
	// then the aligned event number and flags, then the next record.
	ne.PutUint64(data[0:], DevNum{253, 0}.Encode())
	ne.PutUint32(data[8:], 40)
	copy(data[12:], "vg0-pool0_tmeta")
	ne.PutUint64(data[40:], DevNum{253, 2}.Encode())
	ne.PutUint32(data[48:], 0)
	copy(data[52:], "vg0-pool0-tpool")
	got, _, err := DecodeNameList(buf)
	want := []NamedDevice{{DevNum{253, 0}, "vg0-pool0_tmeta"}, {DevNum{253, 2}, "vg0-pool0-tpool"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeNameList = %+v, %v; want %+v", got, err, want)
	}

	none, _, err := DecodeNameList(EncodeRequest(0, 0, 1024))
	if err != nil || len(none) != 0 {
		t.Errorf("no devices: %+v, %v", none, err)
	}

	ne.PutUint32(data[8:], 4) // next overlapping its own name
	if _, _, err := DecodeNameList(buf); !errors.Is(err, ErrMalformed) {
		t.Errorf("overlapping record: err = %v", err)
	}
}

func TestParseTargetLine(t *testing.T) {
	got, err := ParseTargetLine("0 209715200 thin-pool 253:0 253:1 128 0 0\n")
	want := Target{0, 209715200, "thin-pool", "253:0 253:1 128 0 0"}
	if err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"", "0 10", "x 10 linear", "0 -1 linear 8:0 0"} {
		if _, err := ParseTargetLine(bad); err == nil {
			t.Errorf("ParseTargetLine(%q) succeeded", bad)
		}
	}
}
