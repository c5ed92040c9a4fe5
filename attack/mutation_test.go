package attack

import (
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/crashguard/crashguard_exporter/internal/fixture"
)

// A mutation turns one fixture file into something hostile.
type mutation struct {
	name string
	// apply creates the file at path, which the sweep has removed; orig is
	// what it held, secret a file outside the tree.
	apply func(t *testing.T, path string, orig []byte, secret string)
	// strict: the exporter must either not use the file at all (output
	// unchanged) or report it in crashguard_scrape_collector_file_errors
	// (see strictFor for where that cannot hold).
	strict bool
}

// listed are the trees whose entries the exporter discovers by listing
// (cgroups, crash dumps, pstore records, core files) rather than reads by
// name: a directory there is a legitimate entry (a child cgroup, a dump
// directory), and a huge file a legitimately huge dump.
var listed = []string{"sys/fs/cgroup/", "sys/fs/pstore/", "root/var/crash/", "root/var/lib/systemd/"}

func isListed(rel string) bool {
	for _, p := range listed {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

// statOnly are where the files live that the exporter stats but never
// reads (kernel and kdump initramfs images): any size is legitimate, and
// their modification time is data, which a mutation that recreates the
// file changes.
var statOnly = []string{"root/boot/", "root/var/lib/kdump/"}

func isStatOnly(rel string) bool {
	for _, p := range statOnly {
		if strings.HasPrefix(rel, p) {
			return true
		}
	}
	return false
}

// strictFor says whether mutation m of the file rel (which held orig) must
// be reported or leave the output unchanged.
func strictFor(m mutation, rel string, orig []byte) bool {
	switch m.name {
	case "directory":
		return !isListed(rel)
	case "huge sparse":
		return !isListed(rel) && !isStatOnly(rel)
	case "garbage":
		return numeric.Match(orig)
	}
	return m.strict
}

// garbageBytes is binary junk with NULs, escapes, high bytes and numbers
// that do not fit any kernel format.
const garbageBytes = "\x00\xff\xfegarbage \x1b[31m\n-1e999 NaN 0x\x00\x01 max max max\n\xc3\x28;;;\n"

var mutations = []mutation{
	{"fifo", func(t *testing.T, p string, _ []byte, _ string) { must(t, syscall.Mkfifo(p, 0o644)) }, true},
	{"directory", func(t *testing.T, p string, _ []byte, _ string) { must(t, os.Mkdir(p, 0o755)) }, true},
	{"symlink loop", func(t *testing.T, p string, _ []byte, _ string) { must(t, os.Symlink(filepath.Base(p), p)) }, true},
	{"symlink out of the tree", func(t *testing.T, p string, _ []byte, secret string) { must(t, os.Symlink(secret, p)) }, true},
	{"huge sparse", func(t *testing.T, p string, _ []byte, _ string) {
		f, err := os.Create(p)
		must(t, err)
		must(t, f.Truncate(2<<30))
		f.Close()
	}, false},
	{"garbage", func(t *testing.T, p string, _ []byte, _ string) {
		must(t, os.WriteFile(p, []byte(garbageBytes), 0o644))
	}, false},
	{"empty", func(t *testing.T, p string, _ []byte, _ string) { must(t, os.WriteFile(p, nil, 0o644)) }, false},
	// Root reads mode 000 files anyway; the case still must not crash or
	// change anything when the exporter runs unprivileged.
	{"mode 000", func(t *testing.T, p string, orig []byte, _ string) { must(t, os.WriteFile(p, orig, 0)) }, false},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// numeric matches files holding one kernel value ("4096", "max", "-1"):
// garbage in such a file can only be an error, never a new value.
var numeric = regexp.MustCompile(`^(-?[0-9]+|max)\n?$`)

// sampleFiles picks the files of a profile to mutate: one file of each
// name, chosen at random, so that a tree of a thousand cgroups costs one
// mutation per kind of cgroup file, not a thousand.
func sampleFiles(t *testing.T, root string, seed uint64) []string {
	t.Helper()
	byName := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// flags and the mtimes manifest are read by the harness, before
		// the exporter starts.
		if d.Type().IsRegular() && p != filepath.Join(root, "flags") && p != filepath.Join(root, fixture.MtimesFile) {
			rel, _ := filepath.Rel(root, p)
			byName[d.Name()] = append(byName[d.Name()], rel)
		}
		return nil
	})
	must(t, err)
	r := rand.New(rand.NewPCG(seed, 1))
	var out []string
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		files := byName[name]
		out = append(out, files[r.IntN(len(files))])
	}
	sort.Strings(out)
	return out
}

// stableValues maps every non-volatile series to its value, leaving out the
// framework's own error counts and values that change while tests write
// files (free space).
func stableValues(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range fams {
		if isVolatile(name) || name == "crashguard_scrape_collector_file_errors" ||
			strings.HasPrefix(name, "crashguard_kdump_target_filesystem_") {
			continue
		}
		for _, m := range f.GetMetric() {
			out[name+fmt.Sprint(labelMap(m))] = metricValue(m)
		}
	}
	return out
}

func totalFileErrors(fams map[string]*dto.MetricFamily) float64 {
	var n float64
	for _, v := range fileErrors(fams) {
		n += v
	}
	return n
}

func changes(base, got map[string]float64) []string {
	var out []string
	for k, v := range base {
		if g, ok := got[k]; !ok {
			out = append(out, "- "+k)
		} else if g != v {
			out = append(out, fmt.Sprintf("~ %s %v -> %v", k, v, g))
		}
	}
	for k := range got {
		if _, ok := base[k]; !ok {
			out = append(out, "+ "+k)
		}
	}
	sort.Strings(out)
	return out
}

// TestFileMutationSweep mutates the files of every fixture profile into
// every hostile kind, one at a time, and scrapes the real binary after
// each: the exposition must stay valid, every collector must succeed, the
// contents of a file outside the tree must never appear in the output or
// the log, and a file that is unusable must be reported rather than change
// the output silently.
func TestFileMutationSweep(t *testing.T) {
	secretValue := fmt.Sprintf("CRASHGUARD-SECRET-%d", rand.Uint64())
	secret := filepath.Join(t.TempDir(), "shadow")
	must(t, os.WriteFile(secret, []byte(secretValue+":$6$salt$hash:19000:0:99999:7:::\n"), 0o600))
	scrapes := 0
	for i, profile := range profiles(t) {
		t.Run(profile, func(t *testing.T) {
			dir := copyProfile(t, profile)
			e := start(t, profileArgs(t, dir)...)
			baseFams := families(t, e.scrape(t, nil))
			if f := failed(baseFams); len(f) > 0 {
				t.Fatalf("collectors fail on the unmodified profile: %v", f)
			}
			base := stableValues(baseFams)
			baseErrs := totalFileErrors(baseFams)
			for _, rel := range sampleFiles(t, dir, uint64(i)) {
				path := filepath.Join(dir, rel)
				orig, err := os.ReadFile(path)
				must(t, err)
				fi, err := os.Stat(path)
				must(t, err)
				for _, m := range mutations {
					must(t, os.Remove(path))
					m.apply(t, path, orig, secret)
					body := e.scrape(t, nil)
					scrapes++
					fams := families(t, body)
					where := rel + " as " + m.name
					if f := failed(fams); len(f) > 0 {
						t.Errorf("%s: collectors failed: %v", where, f)
					}
					if strings.Contains(body, secretValue) {
						t.Errorf("%s: the contents of a file outside the tree were exported", where)
					}
					got := stableValues(fams)
					want := base
					if m.name == "huge sparse" && isListed(rel) {
						// A huge dump is real: only its size may change.
						want = maps.Clone(base)
						dropBytes(want, got)
					}
					if strictFor(m, rel, orig) && totalFileErrors(fams) <= baseErrs {
						if ch := changes(want, got); len(ch) > 0 && !sameAsAbsent(t, e, path, rel, m, got) {
							t.Errorf("%s: output changed without a file error:\n%s", where, strings.Join(ch, "\n"))
						}
					}
					must(t, os.RemoveAll(path))
					must(t, os.WriteFile(path, orig, fi.Mode().Perm()))
					must(t, os.Chtimes(path, fi.ModTime(), fi.ModTime()))
				}
			}
			// Restored: the output is what it was.
			if ch := changes(base, stableValues(families(t, e.scrape(t, nil)))); len(ch) > 0 {
				t.Errorf("after restoring every file the output differs:\n%s", strings.Join(ch, "\n"))
			}
			logs := e.Logs()
			if strings.Contains(logs, secretValue) {
				t.Error("the contents of a file outside the tree were logged")
			}
			if strings.Contains(logs, "panicked") || strings.Contains(logs, "goroutine ") {
				t.Errorf("a panic was logged:\n%s", logs)
			}
		})
	}
	t.Logf("%d scrapes of mutated fixtures", scrapes)
}

// dropBytes forgets the byte totals in both maps.
func dropBytes(maps ...map[string]float64) {
	for _, m := range maps {
		for k := range m {
			if strings.Contains(k, "_bytes") {
				delete(m, k)
			}
		}
	}
}

// sameAsAbsent: below --path.rootfs a symlink is resolved the way the host
// would resolve it, inside the root, so one that leads out of the tree
// names a file the host does not have; the exporter then rightly behaves
// as if the file were absent. Other mutations never qualify.
func sameAsAbsent(t *testing.T, e *exporter, path, rel string, m mutation, got map[string]float64) bool {
	if m.name != "symlink out of the tree" || !strings.HasPrefix(rel, "root/") {
		return false
	}
	must(t, os.Remove(path))
	absent := stableValues(families(t, e.scrape(t, nil)))
	return len(changes(absent, got)) == 0
}
