package kmsg

import (
	"context"
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
