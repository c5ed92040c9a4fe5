package dm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addTargetSeeds adds the params of every testdata/targets file with the
// given suffix.
func addTargetSeeds(f *testing.F, prefix, suffix string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "targets", prefix+"*"+suffix))
	if len(paths) == 0 {
		f.Fatalf("no seeds %s*%s", prefix, suffix)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		tg, err := ParseTargetLine(string(b))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tg.Params)
	}
}

func FuzzParsePoolTable(f *testing.F) {
	addTargetSeeds(f, "pool", ".table")
	f.Add("253:0 253:1 128 0 3 ignore_discard x read_only")
	f.Fuzz(func(t *testing.T, in string) {
		tb, err := ParsePoolTable(in)
		if err != nil {
			return
		}
		if _, err := ParseDevNum(tb.MetaDev); err != nil {
			t.Errorf("accepted metadata device %q", tb.MetaDev)
		}
		if _, err := ParseDevNum(tb.DataDev); err != nil {
			t.Errorf("accepted data device %q", tb.DataDev)
		}
		if len(tb.Features.Unknown) > maxFeatures {
			t.Errorf("%d unknown features kept", len(tb.Features.Unknown))
		}
	})
}

func FuzzParsePoolStatus(f *testing.F) {
	addTargetSeeds(f, "pool", ".status")
	f.Add("0 100/4096 0/16384 -")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParsePoolStatus(in)
		if err != nil || s.Fail || s.Error {
			return
		}
		switch s.Mode {
		case ModeReadWrite, ModeReadOnly, ModeOutOfDataSpace:
		default:
			t.Errorf("mode %q outside the known set", s.Mode)
		}
		switch s.Discard {
		case DiscardUnknown, DiscardIgnore, DiscardPassdown, DiscardNoPassdown:
		default:
			t.Errorf("discard %q outside the known set", s.Discard)
		}
		if s.Fields < 4 || s.Fields > maxFields {
			t.Errorf("fields = %d", s.Fields)
		}
		if r := s.DataUsedRatio(); r < 0 {
			t.Errorf("negative ratio %v", r)
		}
		s.MetaBytes()
		s.DataBytes(^uint64(0))
	})
}

func FuzzParseThinStatus(f *testing.F) {
	addTargetSeeds(f, "thin", ".status")
	f.Add("-")
	f.Add("Error")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseThinStatus(in)
		if err != nil {
			return
		}
		if s.HasHighest && (s.Fail || s.Error || s.Unavailable) {
			t.Errorf("contradictory status %+v", s)
		}
		s.MappedBytes()
		ParseThinTable(in)
	})
}

func FuzzDecodeTargets(f *testing.F) {
	f.Add(kernelResponse(1024, 0, []Target{{0, 209715200, "thin-pool", "5 1234/16384 82011/1638400 - rw discard_passdown queue_if_no_space - 1024 "}}))
	f.Add(kernelResponse(1024, FlagStatusTable, []Target{
		{0, 2048, "linear", "8:2 2048"},
		{2048, 4096, "thin", "253:2 1"},
		{6144, 8, "error", ""},
	}))
	f.Add(kernelResponse(512, 0, nil))
	f.Add(EncodeRequest(0, 0, HeaderSize))
	f.Fuzz(func(t *testing.T, buf []byte) {
		targets, _, err := DecodeTargets(buf)
		if err == nil {
			h, _ := DecodeHeader(buf)
			if len(targets) != int(h.TargetCount) {
				t.Errorf("%d targets, header says %d", len(targets), h.TargetCount)
			}
			for _, tg := range targets {
				if strings.IndexByte(tg.Params, 0) >= 0 || len(tg.Type) > specTypeLen {
					t.Errorf("target %+v", tg)
				}
			}
		}
		if devs, _, err := DecodeNameList(buf); err == nil {
			for _, d := range devs {
				if strings.IndexByte(d.Name, 0) >= 0 {
					t.Errorf("name %q", d.Name)
				}
			}
		}
	})
}

func FuzzMountDiscard(f *testing.F) {
	f.Add(mountsFixture)
	f.Add(`/dev/mapper/a\040b /m\011x btrfs rw,discard=async,nodiscard,discard 0 0` + "\n")
	f.Add(`/dev/dm-0 / ext4 rw 0 0`)
	f.Fuzz(func(t *testing.T, in string) {
		mounts, _ := MountDiscard(in)
		for _, m := range mounts {
			switch m.Discard {
			case MountDiscardOff, MountDiscardOn, MountDiscardAsync:
			default:
				t.Errorf("discard %q", m.Discard)
			}
			if !isDMDevicePath(m.Device) {
				t.Errorf("non-dm device %q", m.Device)
			}
			if bytes.Count([]byte(m.MountPoint), []byte{'\\'}) > strings.Count(in, `\`) {
				t.Errorf("unescaping invented backslashes in %q", m.MountPoint)
			}
		}
	})
}
