package kmsg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func TestStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kmsg.state")
	want := State{BootID: boot1, Seq: 18446744073709551615}
	if err := SaveState(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(path)
	if err != nil || got != want {
		t.Fatalf("LoadState = %+v, %v", got, err)
	}
	// Overwrite in place; no temporary files are left behind.
	if err := SaveState(path, State{BootID: boot2, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the state file", len(entries))
	}
	if got, _ := LoadState(path); got != (State{BootID: boot2, Seq: 1}) {
		t.Fatalf("after overwrite %+v", got)
	}
}

func TestLoadStateMissing(t *testing.T) {
	_, err := LoadState(filepath.Join(t.TempDir(), "absent"))
	if !fsutil.IsNotExist(err) {
		t.Fatalf("err = %v, want not-exist", err)
	}
}

func TestLoadStateCorrupt(t *testing.T) {
	for name, content := range map[string]string{
		"empty":          "",
		"binary":         "\x00\x01\x02",
		"truncated":      `{"boot_id":"` + boot1,
		"negative seq":   `{"boot_id":"` + boot1 + `","seq":-1}`,
		"string seq":     `{"boot_id":"` + boot1 + `","seq":"1"}`,
		"bad boot id":    `{"boot_id":"xyz","seq":1}`,
		"upper-case id":  `{"boot_id":"` + strings.ToUpper(boot1) + `","seq":1}`,
		"no boot id":     `{"seq":1}`,
		"no seq":         `{"boot_id":"` + boot1 + `"}`,
		"null seq":       `{"boot_id":"` + boot1 + `","seq":null}`,
		"unknown field":  `{"boot_id":"` + boot1 + `","seq":1,"x":2}`,
		"trailing data":  `{"boot_id":"` + boot1 + `","seq":1}{}`,
		"too large":      strings.Repeat(" ", maxStateSize+1),
		"array":          `[1,2]`,
		"seq overflowed": `{"boot_id":"` + boot1 + `","seq":18446744073709551616}`,
	} {
		path := filepath.Join(t.TempDir(), "kmsg.state")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadState(path); !errors.Is(err, ErrCorruptState) {
			t.Errorf("%s: err = %v, want ErrCorruptState", name, err)
		}
	}
}

func TestSaveStateUnwritable(t *testing.T) {
	if err := SaveState(filepath.Join(t.TempDir(), "no", "such", "dir", "s"), State{BootID: boot1}); err == nil {
		t.Fatal("saving into a missing directory succeeded")
	}
}

func TestReadBootID(t *testing.T) {
	proc := t.TempDir()
	writeBootID(t, proc, boot1)
	if id, err := ReadBootID(proc); err != nil || id != boot1 {
		t.Fatalf("ReadBootID = %q, %v", id, err)
	}
	writeBootID(t, proc, "garbage")
	if _, err := ReadBootID(proc); !errors.Is(err, fsutil.ErrGarbage) {
		t.Fatalf("garbage boot_id: %v", err)
	}
	if _, err := ReadBootID(t.TempDir()); !fsutil.IsNotExist(err) {
		t.Fatalf("missing boot_id: %v", err)
	}
}
