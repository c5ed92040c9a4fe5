package kmsg

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Record
	}{
		{
			name: "plain kernel record",
			in:   "6,344,3371080255,-;cgroup: fork rejected by pids controller in /fxtest\n",
			want: Record{Priority: 6, Facility: 0, Seq: 344, TimestampUsec: 3371080255, Flags: '-',
				Message: "cgroup: fork rejected by pids controller in /fxtest"},
		},
		{
			name: "userspace facility",
			in:   "30,512,5123456,-;systemd[1]: Started Journal Service.\n",
			want: Record{Priority: 6, Facility: 3, Seq: 512, TimestampUsec: 5123456, Flags: '-',
				Message: "systemd[1]: Started Journal Service."},
		},
		{
			name: "continuation lines are a dictionary, not text",
			in:   "3,40210,812330001122,-;sd 0:0:0:0: [sda] tag#12 Sense Key : Medium Error [current] \n SUBSYSTEM=scsi\n DEVICE=+scsi:0:0:0:0\n",
			want: Record{Priority: 3, Seq: 40210, TimestampUsec: 812330001122, Flags: '-',
				Message: "sd 0:0:0:0: [sda] tag#12 Sense Key : Medium Error [current] ",
				Dict:    map[string]string{"SUBSYSTEM": "scsi", "DEVICE": "+scsi:0:0:0:0"}},
		},
		{
			name: "escapes decoded, including backslash and multi-line text",
			in:   "6,10,20,-;anon 66035712\\x0afile 0\\x0apath C:\\x5cx \\xe2\\x9c\\x93 bad \\xZZ end\\\n",
			want: Record{Priority: 6, Seq: 10, TimestampUsec: 20, Flags: '-',
				Message: "anon 66035712\nfile 0\npath C:\\x ✓ bad \\xZZ end\\"},
		},
		{
			name: "extra header fields (caller id) ignored",
			in:   "4,99,100,c,caller=T1234;continued\n",
			want: Record{Priority: 4, Seq: 99, TimestampUsec: 100, Flags: 'c', Message: "continued"},
		},
		{
			name: "missing final newline tolerated",
			in:   "0,1,2,+;x",
			want: Record{Priority: 0, Seq: 1, TimestampUsec: 2, Flags: '+', Message: "x"},
		},
		{
			name: "semicolon inside the message",
			in:   "6,1,2,-;a;b=c\n",
			want: Record{Priority: 6, Seq: 1, TimestampUsec: 2, Flags: '-', Message: "a;b=c"},
		},
		{
			name: "empty message",
			in:   "6,1,2,-;\n",
			want: Record{Priority: 6, Seq: 1, TimestampUsec: 2, Flags: '-', Message: ""},
		},
		{
			name: "max sequence number",
			in:   "6,18446744073709551615,2,-;m\n",
			want: Record{Priority: 6, Seq: 18446744073709551615, TimestampUsec: 2, Flags: '-', Message: "m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRecord([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseRecord: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRecordMalformed(t *testing.T) {
	for _, in := range []string{
		"",
		"\n",
		"no header at all\n",
		"6,1,2;too few fields\n",
		"6,1;x\n",
		"x,1,2,-;bad prio\n",
		"-6,1,2,-;negative\n",
		"99999999,1,2,-;prio out of range\n",
		"6,,2,-;empty seq\n",
		"6,1a,2,-;bad seq\n",
		"6,18446744073709551616,2,-;seq overflow\n",
		"6,1,+2,-;signed timestamp\n",
		"6,1,2,;empty flags\n",
		"6,1,2,-\n;newline before semicolon\n",
		"6,1,2,-;msg\nnot a continuation\n",
		"6,1,2,-;msg\n NOEQUALS\n",
		"6,1,2,-;msg\n =value\n",
		"6,1,2,-;" + strings.Repeat("x", MaxRecordSize),
	} {
		_, err := ParseRecord([]byte(in))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRecord(%q) error = %v, want ErrMalformed", truncate(in, 50), err)
		}
	}
}

func TestSplitRecords(t *testing.T) {
	in := "6,1,2,-;a\n SUBSYSTEM=scsi\n DEVICE=+scsi:0:0:0:0\n\n6,2,3,-;b\n6,3,4,-;c"
	got := SplitRecords([]byte(in))
	want := []string{"6,1,2,-;a\n SUBSYSTEM=scsi\n DEVICE=+scsi:0:0:0:0\n", "6,2,3,-;b\n", "6,3,4,-;c"}
	if len(got) != len(want) {
		t.Fatalf("got %d records %q, want %d", len(got), got, len(want))
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
	if n := len(SplitRecords([]byte(" stray\n6,1,2,-;a\n"))); n != 2 {
		t.Errorf("stray continuation: got %d records, want 2 (the stray one kept for the parser to reject)", n)
	}
}

// Every recorded stream must parse completely, with consecutive sequence
// numbers, as the kernel would return it.
func TestTestdataStreamsParse(t *testing.T) {
	files, err := filepath.Glob("testdata/*.kmsg")
	if err != nil || len(files) < 10 {
		t.Fatalf("want at least 10 testdata streams, got %d (%v)", len(files), err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var prev uint64
		for i, b := range SplitRecords(data) {
			r, err := ParseRecord(b)
			if err != nil {
				t.Fatalf("%s record %d: %v", file, i, err)
			}
			if i > 0 && r.Seq != prev+1 {
				t.Errorf("%s record %d: seq %d after %d", file, i, r.Seq, prev)
			}
			prev = r.Seq
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte("6,344,3371080255,-;cgroup: fork rejected by pids controller in /fxtest\n"))
	f.Add([]byte("3,1,2,-;sd 0:0:0:0: [sda] x\n SUBSYSTEM=scsi\n DEVICE=+scsi:0:0:0:0\n"))
	f.Add([]byte("6,10,20,c,caller=T12;a\\x0ab\\x5c\\xzz\\"))
	f.Add([]byte("6,1,2,-\n;x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if len(r.Message) > len(b) {
			t.Fatalf("message longer than input")
		}
		if r.Priority < 0 || r.Priority > 7 {
			t.Fatalf("priority %d", r.Priority)
		}
	})
}
