package kmsg

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestFollowSaveNeverAheadOfHandled: Save from another goroutine (the
// shutdown path) writes the last record whose handle call returned, never
// the one being handled, and Follow's own final save then covers the rest.
func TestFollowSaveNeverAheadOfHandled(t *testing.T) {
	dir := t.TempDir()
	r := &ring{}
	for range 10 {
		r.add(6, "x")
	}
	h := stateHarness(t, r, dir, boot1)
	f, err := NewFollower(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	inHandle, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Follow(h.ctx, func(rec Record) {
			if rec.Seq == 5 {
				close(inHandle)
				<-release
			}
		})
	}()
	select {
	case <-inHandle:
	case <-time.After(30 * time.Second):
		t.Fatal("record 5 never handled")
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadState(h.cfg.StatePath); err != nil || s != (State{BootID: boot1, Seq: 4}) {
		t.Fatalf("saved while record 5 was being handled: %+v, %v; want seq 4", s, err)
	}
	close(release)
	<-done
	if s, err := LoadState(h.cfg.StatePath); err != nil || s != (State{BootID: boot1, Seq: 9}) {
		t.Fatalf("after Follow returned: %+v, %v", s, err)
	}
	// Nothing new: another Save does not write.
	saves := f.Stats().StateSaves
	if err := f.Save(); err != nil || f.Stats().StateSaves != saves {
		t.Fatalf("Save without news wrote again (%d → %d saves), %v", saves, f.Stats().StateSaves, err)
	}
}

// TestFollowStateBeyondLog: a state file of this boot whose sequence number
// no record reaches cannot describe this log. The buffer is counted from the
// beginning (nothing silently skipped), the problem is reported, and the
// file is rewritten so the next start resumes correctly.
func TestFollowStateBeyondLog(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "kmsg.state")
	if err := SaveState(state, State{BootID: boot1, Seq: 1_000_000}); err != nil {
		t.Fatal(err)
	}
	r := &ring{}
	for range 5 {
		r.add(6, "x")
	}
	h := stateHarness(t, r, dir, boot1)
	var changes []Stats
	h.cfg.OnChange = func(s Stats) { changes = append(changes, s) }
	rewinds, replayed := 0, 0
	h.cfg.Rewind = func() { rewinds++ }
	h.cfg.Replay = func(Record) { replayed++ }
	st := h.run().Stats()
	if !reflect.DeepEqual(h.seqs, seqRange(0, 4)) {
		t.Fatalf("handled %v, want 0…4", h.seqs)
	}
	if rewinds != 1 || replayed != 5 {
		t.Fatalf("rewinds %d replayed %d, want 1 and 5", rewinds, replayed)
	}
	if st.Mode != ModeBeginning || st.RecordsSkipped != 0 || st.RecordsLost != 0 || st.RecordsRead != 10 {
		t.Fatalf("stats %+v", st)
	}
	var reported bool
	for _, c := range changes {
		if c.StateProblem == StateBeyondLog && !reported {
			reported = true
			if c.Mode != ModeBeginning || c.CaughtUp {
				t.Fatalf("reported as %+v", c)
			}
		}
		if c.CaughtUp && !reported {
			t.Fatalf("caught up before the resume point was checked: %+v", c)
		}
	}
	if !reported {
		t.Fatalf("problem never reported: %+v", changes)
	}
	if s, err := LoadState(state); err != nil || s != (State{BootID: boot1, Seq: 4}) {
		t.Fatalf("state %+v, %v", s, err)
	}

	// The rewritten file resumes: nothing counts twice.
	h = stateHarness(t, r, dir, boot1)
	st = h.run().Stats()
	if len(h.seqs) != 0 || st.Mode != ModeResume || st.RecordsSkipped != 5 || st.StateProblem != "" {
		t.Fatalf("restart: handled %v stats %+v", h.seqs, st)
	}
}

// TestFollowStateBeyondLogFoundLater: the log was empty at the start, so
// the resume point could not be checked; the first records then show it
// impossible.
func TestFollowStateBeyondLogFoundLater(t *testing.T) {
	dir := t.TempDir()
	if err := SaveState(filepath.Join(dir, "kmsg.state"), State{BootID: boot1, Seq: 50}); err != nil {
		t.Fatal(err)
	}
	r := &ring{}
	h := stateHarness(t, r, dir, boot1)
	waits := 0
	r.idle = func() {
		waits++
		switch waits {
		case 1:
			for range 3 {
				r.add(6, "x")
			}
		case 2:
			h.cancel()
		}
	}
	st := h.run().Stats()
	if !reflect.DeepEqual(h.seqs, seqRange(0, 2)) || st.Mode != ModeBeginning {
		t.Fatalf("handled %v stats %+v", h.seqs, st)
	}
}

// TestFollowResumePointStillInLog: the ordinary resume is not mistaken for
// an impossible one, also when the saved record is the newest.
func TestFollowResumePointStillInLog(t *testing.T) {
	for _, saved := range []uint64{0, 3, 4} {
		t.Run(fmt.Sprint(saved), func(t *testing.T) {
			dir := t.TempDir()
			if err := SaveState(filepath.Join(dir, "kmsg.state"), State{BootID: boot1, Seq: saved}); err != nil {
				t.Fatal(err)
			}
			r := &ring{}
			for range 5 {
				r.add(6, "x")
			}
			h := stateHarness(t, r, dir, boot1)
			h.cfg.Rewind = func() { t.Error("rewound") }
			st := h.run().Stats()
			if !reflect.DeepEqual(h.seqs, seqRange(saved+1, 4)) || st.Mode != ModeResume || st.RecordsSkipped != saved+1 || st.StateProblem != "" {
				t.Fatalf("handled %v stats %+v", h.seqs, st)
			}
		})
	}
}

// TestFollowSaveBeforeFollow: Save before anything is handled (or without a
// state file) writes nothing.
func TestFollowSaveBeforeFollow(t *testing.T) {
	dir := t.TempDir()
	h := stateHarness(t, &ring{}, dir, boot1)
	f, _ := NewFollower(h.cfg)
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Follow(ctx, func(Record) {})
	if _, err := LoadState(h.cfg.StatePath); err == nil {
		t.Fatal("a state was saved with nothing handled")
	}
}
