package crash

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

type pstoreRecord struct {
	e   Entry
	p   Pstore
	t   time.Time
	dir string // the archive sub-directory holding it, "" at the top
}

// pstoreTime is the record's time: efi ids are (seconds*100+part)*1000+count
// (efi_pstore's generic_id); other backends' ids carry no time, and the
// kernel stamps the file with the record's time instead.
func pstoreTime(p Pstore, mtime time.Time) time.Time {
	if (p.Backend == "efi" || p.Backend == "efi_pstore") && len(p.ID) > 5 {
		if id, err := strconv.ParseUint(p.ID, 10, 64); err == nil && id/100000 > 0 {
			return time.Unix(int64(id/100000), 0).UTC()
		}
	}
	return mtime
}

// efiGroup says which crash and part an efi record belongs to.
func efiGroup(p Pstore) (group uint64, part int, ok bool) {
	if p.Backend != "efi" && p.Backend != "efi_pstore" {
		return 0, 0, false
	}
	id, err := strconv.ParseUint(p.ID, 10, 64)
	if err != nil || id < 100000 {
		return 0, 0, false
	}
	return (id/100000)*1000 + id%1000, int(id / 1000 % 100), true
}

// pstore inventories /sys/fs/pstore or systemd-pstore's archive, and
// classifies the newest dmesg record.
func (sc *scan) pstore() {
	entries, ok := sc.listTop()
	if !ok {
		return
	}
	out := &sc.inv.Pstore
	var recs []pstoreRecord
	var dmesgTxt map[string]Entry // by archive sub-directory
	add := func(e Entry, dir string) {
		p, ok := ParsePstoreName(e.Name)
		if !ok {
			return
		}
		if e.Kind != KindRegular {
			sc.refuse(e, fsutil.ErrNotRegular)
			return
		}
		recs = append(recs, pstoreRecord{e: e, p: p, t: pstoreTime(p, e.ModTime), dir: dir})
		out.count(p.Backend, p.Type)
	}
	for _, e := range entries {
		if sc.loc.Store != StorePstoreArchive || e.Kind != KindDir {
			add(e, "")
			continue
		}
		if _, ok := ParsePstoreArchiveDir(e.Name); !ok {
			continue
		}
		if sc.maxDepth() < 2 {
			sc.inv.Truncated = true
			continue
		}
		sub, ok := sc.list(e.Path, SelectPstoreArchiveEntry, false)
		if !ok {
			continue
		}
		for _, s := range sub {
			if s.Name == PstoreArchiveDmesg && s.Kind == KindRegular {
				if dmesgTxt == nil {
					dmesgTxt = map[string]Entry{}
				}
				dmesgTxt[e.Name] = s
				continue
			}
			add(s, e.Name)
		}
	}
	sortRecords(out.Counts)
	var newest, newestDmesg *pstoreRecord
	for i := range recs {
		rec := &recs[i]
		if newest == nil || rec.t.After(newest.t) {
			newest = rec
		}
		if rec.p.Type != "dmesg" || rec.p.Compressed {
			continue
		}
		if newestDmesg == nil || rec.t.After(newestDmesg.t) || rec.t.Equal(newestDmesg.t) && rec.e.Path < newestDmesg.e.Path {
			newestDmesg = rec
		}
	}
	if newest != nil {
		out.Newest = newest.t
	}
	if newestDmesg == nil {
		return
	}
	// What to classify: the reassembled dmesg.txt of an archived group, or
	// the record with every other part of the same crash, oldest part (the
	// highest number) first, as systemd-pstore joins them.
	var parts []Entry
	if txt, ok := dmesgTxt[newestDmesg.dir]; ok && newestDmesg.dir != "" {
		parts = []Entry{txt}
	} else if g, _, ok := efiGroup(newestDmesg.p); ok {
		type part struct {
			n int
			e Entry
		}
		var ps []part
		for _, rec := range recs {
			if rec.dir != newestDmesg.dir || rec.p.Type != "dmesg" || rec.p.Compressed {
				continue
			}
			if g2, n, ok := efiGroup(rec.p); ok && g2 == g {
				ps = append(ps, part{n, rec.e})
			}
		}
		slices.SortFunc(ps, func(a, b part) int { return b.n - a.n })
		for _, p := range ps {
			parts = append(parts, p.e)
		}
	} else {
		parts = []Entry{newestDmesg.e}
	}
	reason := sc.classifyParts(parts)
	out.Last = &reason
}

// classifyParts classifies the concatenation of files (at most the read cap
// from the end), cached under the last file while none has changed.
func (sc *scan) classifyParts(parts []Entry) Reason {
	key := parts[len(parts)-1]
	var size int64
	mtime := key.ModTime
	for _, p := range parts {
		size += p.Size
		if p.ModTime.After(mtime) {
			mtime = p.ModTime
		}
	}
	if f, ok := sc.cached(key.Path, size, mtime); ok {
		return f.reason
	}
	max := int(sc.readBytes())
	var text []byte
	for _, p := range parts {
		if sc.ctx.Err() != nil {
			return Reason{Class: ClassUnknown}
		}
		b, ok := sc.readLog(p.Path)
		if !ok {
			continue
		}
		if text == nil {
			text = lastBytes(b, max) // the first part's buffer is ours
			continue
		}
		text = lastBytes(append(text, b...), max)
	}
	reason := Classify(text)
	sc.keep(key.Path, cachedFile{size: size, mtime: mtime, reason: reason})
	return reason
}

func (p *PstoreRecords) count(backend, kind string) {
	for i := range p.Counts {
		if c := &p.Counts[i]; c.Backend == backend && c.Kind == kind {
			c.Count++
			return
		}
	}
	p.Counts = append(p.Counts, RecordCount{Backend: backend, Kind: kind, Count: 1})
}

// sortRecords orders record counts by backend, then kind.
func sortRecords(c []RecordCount) {
	slices.SortFunc(c, func(a, b RecordCount) int {
		if n := strings.Compare(a.Backend, b.Backend); n != 0 {
			return n
		}
		return strings.Compare(a.Kind, b.Kind)
	})
}
