package dm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Layout of struct dm_ioctl and struct dm_target_spec from
// include/uapi/linux/dm-ioctl.h. All fields are naturally aligned, so the
// layout is the same on 32- and 64-bit architectures; integers are in the
// host's byte order.
const (
	// HeaderSize is sizeof(struct dm_ioctl).
	HeaderSize = 312

	offVersion     = 0  // __u32 version[3]
	offDataSize    = 12 // __u32 data_size: whole buffer, header included
	offDataStart   = 16 // __u32 data_start: offset of the payload
	offTargetCount = 20 // __u32 target_count
	offOpenCount   = 24 // __s32 open_count
	offFlags       = 28 // __u32 flags
	offEventNr     = 32 // __u32 event_nr
	offDev         = 40 // __u64 dev (after __u32 padding)
	offName        = 48 // char name[128]
	offUUID        = 176
	nameLen        = 128
	uuidLen        = 129

	// specSize is sizeof(struct dm_target_spec): u64 sector_start,
	// u64 length, s32 status, u32 next, char target_type[16].
	specSize     = 40
	specTypeOff  = 24
	specTypeLen  = 16
	specNextOff  = 20
	nameListHead = 12 // struct dm_name_list: u64 dev, u32 next, name[]
)

// Flags of struct dm_ioctl (include/uapi/linux/dm-ioctl.h).
const (
	FlagReadOnly        uint32 = 1 << 0
	FlagSuspend         uint32 = 1 << 1
	FlagStatusTable     uint32 = 1 << 4  // DM_STATUS_TABLE_FLAG: return the table, not the status
	FlagActivePresent   uint32 = 1 << 5  // out: a live table exists
	FlagInactivePresent uint32 = 1 << 6  // out: an inactive table is loaded
	FlagBufferFull      uint32 = 1 << 8  // out: the buffer was too small
	FlagNoFlush         uint32 = 1 << 11 // DM_NOFLUSH_FLAG: thin-pool does not commit before reporting
)

// Interface version sent with every request. The kernel accepts any
// request whose major is 4 and whose minor is not above its own, so 4.0.0
// works on every kernel with the v4 interface.
var requestVersion = [3]uint32{4, 0, 0}

// Command numbers (enum in dm-ioctl.h) and the ioctl request numbers.
// _IOWR(0xfd, nr, struct dm_ioctl): read|write direction is 0xC0000000 on
// every Linux architecture (2-bit dir at bit 30, or 3-bit dir at bit 29
// with read=2|write=4), and 312 fits every size field.
const (
	cmdVersion     = 0
	cmdListDevices = 2
	cmdTableStatus = 12
)

func iowr(nr uint32) uint32 { return 0xC0000000 | HeaderSize<<16 | 0xfd<<8 | nr }

var (
	ioctlVersion     = iowr(cmdVersion)
	ioctlListDevices = iowr(cmdListDevices)
	ioctlTableStatus = iowr(cmdTableStatus)
)

// DevNum is a block device number.
type DevNum struct{ Major, Minor uint32 }

// String formats the number as the kernel does in tables: "253:3".
func (d DevNum) String() string {
	return strconv.FormatUint(uint64(d.Major), 10) + ":" + strconv.FormatUint(uint64(d.Minor), 10)
}

// Encode returns the number as struct dm_ioctl's dev field expects it
// (the kernel's huge_encode_dev, identical to glibc's makedev for every
// number the kernel can allocate).
func (d DevNum) Encode() uint64 {
	maj, min := uint64(d.Major), uint64(d.Minor)
	return (min & 0xff) | (maj&0xfff)<<8 | (min&^0xff)<<12 | (maj&^0xfff)<<32
}

// DecodeDevNum is the inverse of Encode.
func DecodeDevNum(v uint64) DevNum {
	return DevNum{
		Major: uint32((v>>8)&0xfff | (v>>32)&0xfffff000),
		Minor: uint32(v&0xff | (v>>12)&0xffffff00),
	}
}

// ParseDevNum parses "major:minor" as written in sysfs dev files and DM
// tables.
func ParseDevNum(s string) (DevNum, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return DevNum{}, fmt.Errorf("device number %q: want major:minor", trunc(s))
	}
	maj, err1 := strconv.ParseUint(a, 10, 32)
	min, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil {
		return DevNum{}, fmt.Errorf("device number %q: want major:minor", trunc(s))
	}
	return DevNum{Major: uint32(maj), Minor: uint32(min)}, nil
}

// Target is one line of a DM table or status.
type Target struct {
	Start  uint64 // first sector
	Length uint64 // sectors
	Type   string // "thin-pool", "thin", "linear", ...
	Params string // table parameters or status, without the leading fields
}

// Errors of the decoders.
var (
	ErrBufferFull = errors.New("device-mapper result larger than buffer")
	ErrMalformed  = errors.New("malformed device-mapper ioctl result")
)

// EncodeRequest builds a dm_ioctl buffer of bufSize bytes (at least the
// header, rounded up to 8 so the kernel's alignment of results cannot run
// past the end) addressing the device by number. dev is DevNum.Encode().
func EncodeRequest(dev uint64, flags uint32, bufSize int) []byte {
	if bufSize < HeaderSize {
		bufSize = HeaderSize
	}
	bufSize = (bufSize + 7) &^ 7
	buf := make([]byte, bufSize)
	ne := binary.NativeEndian
	for i, v := range requestVersion {
		ne.PutUint32(buf[offVersion+4*i:], v)
	}
	ne.PutUint32(buf[offDataSize:], uint32(bufSize))
	ne.PutUint32(buf[offDataStart:], HeaderSize)
	ne.PutUint32(buf[offFlags:], flags)
	ne.PutUint64(buf[offDev:], dev)
	return buf
}

// Header is the decoded part of struct dm_ioctl that callers use.
type Header struct {
	Version     [3]uint32
	DataSize    uint32
	DataStart   uint32
	TargetCount uint32
	OpenCount   int32
	Flags       uint32
	EventNr     uint32
	Dev         DevNum
	Name        string
	UUID        string
}

// DecodeHeader reads the dm_ioctl header at the start of buf.
func DecodeHeader(buf []byte) (Header, error) {
	if len(buf) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrMalformed, len(buf), HeaderSize)
	}
	ne := binary.NativeEndian
	var h Header
	for i := range h.Version {
		h.Version[i] = ne.Uint32(buf[offVersion+4*i:])
	}
	h.DataSize = ne.Uint32(buf[offDataSize:])
	h.DataStart = ne.Uint32(buf[offDataStart:])
	h.TargetCount = ne.Uint32(buf[offTargetCount:])
	h.OpenCount = int32(ne.Uint32(buf[offOpenCount:]))
	h.Flags = ne.Uint32(buf[offFlags:])
	h.EventNr = ne.Uint32(buf[offEventNr:])
	h.Dev = DecodeDevNum(ne.Uint64(buf[offDev:]))
	h.Name = cString(buf[offName : offName+nameLen])
	h.UUID = cString(buf[offUUID : offUUID+uuidLen])
	if h.Version[0] != 4 {
		return h, fmt.Errorf("%w: interface version %d", ErrMalformed, h.Version[0])
	}
	return h, nil
}

// payload returns the bytes between data_start and data_size.
func payload(buf []byte, h Header) ([]byte, error) {
	end := uint64(h.DataSize)
	if end > uint64(len(buf)) {
		end = uint64(len(buf))
	}
	if uint64(h.DataStart) < HeaderSize || uint64(h.DataStart) > end {
		return nil, fmt.Errorf("%w: data_start %d outside %d..%d", ErrMalformed, h.DataStart, HeaderSize, end)
	}
	return buf[h.DataStart:end], nil
}

// DecodeTargets decodes a DM_TABLE_STATUS result: target_count
// dm_target_spec records, each followed by its NUL-terminated parameters.
// Each record's next field is the offset of the following record from the
// start of the first one (drivers/md/dm-ioctl.c retrieve_status). flags is
// returned even on error; FlagBufferFull yields ErrBufferFull.
func DecodeTargets(buf []byte) ([]Target, uint32, error) {
	h, err := DecodeHeader(buf)
	if err != nil {
		return nil, h.Flags, err
	}
	if h.Flags&FlagBufferFull != 0 {
		return nil, h.Flags, ErrBufferFull
	}
	data, err := payload(buf, h)
	if err != nil {
		return nil, h.Flags, err
	}
	if uint64(h.TargetCount)*specSize > uint64(len(data)) {
		return nil, h.Flags, fmt.Errorf("%w: %d targets do not fit in %d bytes", ErrMalformed, h.TargetCount, len(data))
	}
	ne := binary.NativeEndian
	targets := make([]Target, 0, h.TargetCount)
	off := 0
	for i := uint32(0); i < h.TargetCount; i++ {
		if off+specSize > len(data) {
			return nil, h.Flags, fmt.Errorf("%w: target %d at offset %d past end %d", ErrMalformed, i, off, len(data))
		}
		spec := data[off : off+specSize]
		params := data[off+specSize:]
		nul := bytes.IndexByte(params, 0)
		if nul < 0 {
			return nil, h.Flags, fmt.Errorf("%w: target %d parameters not terminated", ErrMalformed, i)
		}
		targets = append(targets, Target{
			Start:  ne.Uint64(spec[0:]),
			Length: ne.Uint64(spec[8:]),
			Type:   cString(spec[specTypeOff : specTypeOff+specTypeLen]),
			Params: string(params[:nul]),
		})
		if i+1 < h.TargetCount {
			next := int(ne.Uint32(spec[specNextOff:]))
			// Records only move forward and never overlap, which also
			// bounds the loop.
			if next < off+specSize+nul+1 || next > len(data) {
				return nil, h.Flags, fmt.Errorf("%w: target %d next offset %d invalid", ErrMalformed, i, next)
			}
			off = next
		}
	}
	return targets, h.Flags, nil
}

// NamedDevice is one entry of a DM_LIST_DEVICES result.
type NamedDevice struct {
	Dev  DevNum
	Name string
}

// DecodeNameList decodes a DM_LIST_DEVICES result: struct dm_name_list
// records whose next field is the offset from this record to the following
// one, 0 on the last. A first record with dev 0 means no devices.
func DecodeNameList(buf []byte) ([]NamedDevice, uint32, error) {
	h, err := DecodeHeader(buf)
	if err != nil {
		return nil, h.Flags, err
	}
	if h.Flags&FlagBufferFull != 0 {
		return nil, h.Flags, ErrBufferFull
	}
	data, err := payload(buf, h)
	if err != nil {
		return nil, h.Flags, err
	}
	ne := binary.NativeEndian
	var out []NamedDevice
	off := 0
	for {
		if off+nameListHead > len(data) {
			if off == 0 {
				return nil, h.Flags, nil // no record: no devices
			}
			return nil, h.Flags, fmt.Errorf("%w: name record at %d past end %d", ErrMalformed, off, len(data))
		}
		dev := ne.Uint64(data[off:])
		if dev == 0 && off == 0 {
			return nil, h.Flags, nil
		}
		next := int(ne.Uint32(data[off+8:]))
		name := data[off+nameListHead:]
		nul := bytes.IndexByte(name, 0)
		if nul < 0 {
			return nil, h.Flags, fmt.Errorf("%w: device name at %d not terminated", ErrMalformed, off)
		}
		out = append(out, NamedDevice{Dev: DecodeDevNum(dev), Name: string(name[:nul])})
		if next == 0 {
			return out, h.Flags, nil
		}
		if next < nameListHead+nul+1 || next > len(data)-off {
			return nil, h.Flags, fmt.Errorf("%w: name record at %d next offset %d invalid", ErrMalformed, off, next)
		}
		off += next
	}
}

// ParseTargetLine parses one line as dmsetup prints a table or status:
// "<start> <length> <type> <params...>".
func ParseTargetLine(line string) (Target, error) {
	line = strings.TrimRight(line, "\r\n")
	f := strings.SplitN(strings.TrimLeft(line, " \t"), " ", 4)
	if len(f) < 3 {
		return Target{}, fmt.Errorf("target line %q: want <start> <length> <type> [params]", trunc(line))
	}
	start, err1 := strconv.ParseUint(f[0], 10, 64)
	length, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || f[2] == "" {
		return Target{}, fmt.Errorf("target line %q: want <start> <length> <type> [params]", trunc(line))
	}
	t := Target{Start: start, Length: length, Type: f[2]}
	if len(f) == 4 {
		t.Params = f[3]
	}
	return t, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// trunc keeps what an error message quotes of a table, status or sysfs
// value as short as every other quoted excerpt (fsutil.Excerpt).
func trunc(s string) string {
	if len(s) > fsutil.ExcerptMax {
		return s[:fsutil.ExcerptMax] + "…"
	}
	return s
}
