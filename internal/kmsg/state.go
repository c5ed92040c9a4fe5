package kmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
	"github.com/crashguard/crashguard_exporter/internal/ident"
)

// State is what the follower keeps across restarts: the boot it was reading
// and the last sequence number it handled in that boot.
type State struct {
	BootID string `json:"boot_id"`
	Seq    uint64 `json:"seq"`
}

// ErrCorruptState is returned by LoadState for a file that does not hold a
// valid state; the caller treats it as no state.
var ErrCorruptState = errors.New("corrupt kmsg state file")

const maxStateSize = 4096

// LoadState reads a state file written by SaveState. A missing file yields
// an error for which fsutil.IsNotExist is true; garbage yields ErrCorruptState.
func LoadState(path string) (State, error) {
	b, err := fsutil.ReadFile(path, maxStateSize)
	if err != nil {
		if errors.Is(err, fsutil.ErrTooLarge) {
			return State{}, fmt.Errorf("%w: %v", ErrCorruptState, err)
		}
		return State{}, err
	}
	// Both fields are required: SaveState always writes them, and a file
	// without a sequence number would otherwise resume from record 0.
	var raw struct {
		BootID *string `json:"boot_id"`
		Seq    *uint64 `json:"seq"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return State{}, fmt.Errorf("%w: %s: %v", ErrCorruptState, path, err)
	}
	if dec.More() {
		return State{}, fmt.Errorf("%w: %s: trailing data", ErrCorruptState, path)
	}
	if raw.BootID == nil || raw.Seq == nil {
		return State{}, fmt.Errorf("%w: %s: boot_id or seq missing", ErrCorruptState, path)
	}
	s := State{BootID: *raw.BootID, Seq: *raw.Seq}
	if !ident.IsUUID(s.BootID) {
		return State{}, fmt.Errorf("%w: %s: bad boot id %s", ErrCorruptState, path, fsutil.Excerpt(s.BootID))
	}
	return s, nil
}

// SaveState writes the state atomically: a temporary file in the same
// directory is written, synced and renamed over path, so a crash leaves
// either the old or the new state, never a torn one.
func SaveState(path string, s State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	tmp = ""
	// Persist the rename itself; failure here only risks losing the update.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// checkWritable reports whether a state file can be written next to path.
func checkWritable(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// ReadBootID reads <procPath>/sys/kernel/random/boot_id, a random UUID the
// kernel picks at every boot. It must lie inside procPath.
func ReadBootID(procPath string) (string, error) {
	p := filepath.Join(procPath, "sys/kernel/random/boot_id")
	s, err := fsutil.NewTree(procPath).ReadString(p)
	if err != nil {
		return "", err
	}
	if !ident.IsUUID(s) {
		return "", fsutil.Garbage(p, "want a UUID, got "+fsutil.Excerpt(s))
	}
	return s, nil
}
