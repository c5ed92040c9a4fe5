package corepattern

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

// Storage values of systemd-coredump.
const (
	StorageNone     = "none"
	StorageExternal = "external"
	StorageJournal  = "journal"
	// StorageBoth (journal and file) was accepted by early systemd
	// releases; current systemd logs it as invalid and ignores the line.
	StorageBoth = "both"
)

// StorageDefault is systemd's compiled-in Storage=.
const StorageDefault = StorageExternal

const (
	confMax       = 64 << 10 // coredump.conf is a few hundred bytes
	dropinDirMax  = 1024     // entries read per drop-in directory
	confName      = "coredump.conf"
	dropinDirName = "coredump.conf.d"
)

// confDirs are systemd's configuration directories, highest priority first.
var confDirs = []string{"etc/systemd", "run/systemd", "usr/local/lib/systemd", "usr/lib/systemd"}

// ParseStorage returns the last valid Storage= in the [Coredump] section of
// one coredump.conf file, and whether there was one. It follows systemd's
// parser: surrounding whitespace is stripped, lines starting with '#' or ';'
// are comments (there are no trailing comments), a trailing backslash joins
// the next line, section and key names and the value are case-sensitive, and
// an invalid value is ignored so that an earlier one stays in force.
func ParseStorage(content string) (string, bool) {
	content = strings.TrimPrefix(content, "\ufeff")
	var (
		storage   string
		found     bool
		inSection bool
		cont      strings.Builder
	)
	for len(content) > 0 {
		var line string
		line, content, _ = strings.Cut(content, "\n")
		line = strings.TrimSpace(line)
		if cont.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if cont.Len() > 0 && line != "" && (line[0] == '#' || line[0] == ';') {
			// Comment lines inside a continuation are skipped.
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont.WriteString(line[:len(line)-1])
			cont.WriteByte(' ')
			if len(content) > 0 {
				continue
			}
			line = ""
		}
		if cont.Len() > 0 {
			cont.WriteString(line)
			line = strings.TrimSpace(cont.String())
			cont.Reset()
		}
		if line == "" {
			continue
		}
		if line[0] == '[' {
			inSection = line == "[Coredump]"
			continue
		}
		if !inSection {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "Storage" {
			continue
		}
		switch value = strings.TrimSpace(value); value {
		case StorageNone, StorageExternal, StorageJournal, StorageBoth:
			storage, found = value, true
		}
	}
	return storage, found
}

// LoadStorage resolves systemd-coredump's Storage= under rootfs the way
// systemd does: the first coredump.conf found in /etc/systemd, /run/systemd,
// /usr/local/lib/systemd, /usr/lib/systemd, then every coredump.conf.d/*.conf
// drop-in from those directories sorted by file name, where a name in a
// higher-priority directory hides the same name in lower ones and a symlink
// to /dev/null masks it. The last valid Storage= wins.
//
// configured is false when neither a main file nor a drop-in exists, which
// usually means systemd-coredump is not installed; storage is then
// StorageDefault, what systemd-coredump would use if it ran anyway.
func LoadStorage(rootfs string) (storage string, configured bool, err error) {
	storage = StorageDefault
	tree := fsutil.NewTree(rootfs)
	apply := func(p string) (bool, error) {
		content, err := readConf(tree, rootfs, p)
		if err != nil {
			if fsutil.IsNotExist(err) {
				// Vanished, or a dangling symlink: systemd skips it too.
				return false, nil
			}
			return false, err
		}
		if s, ok := ParseStorage(content); ok {
			storage = s
		}
		return true, nil
	}
	for _, dir := range confDirs {
		ok, err := apply(filepath.Join(rootfs, dir, confName))
		if err != nil {
			return "", true, err
		}
		if ok {
			configured = true
			break
		}
	}
	dropins, err := listDropins(tree, rootfs)
	if err != nil {
		return "", configured, err
	}
	for _, p := range dropins {
		ok, err := apply(p)
		if err != nil {
			return "", true, err
		}
		configured = configured || ok
	}
	return storage, configured, nil
}

// listDropins returns the drop-in paths in the order systemd applies them.
func listDropins(tree *fsutil.Tree, rootfs string) ([]string, error) {
	byName := map[string]string{}
	for _, dir := range confDirs {
		d := filepath.Join(rootfs, dir, dropinDirName)
		names, err := readDirNames(tree, d)
		if err != nil {
			if fsutil.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for _, name := range names {
			if _, seen := byName[name]; !seen {
				byName[name] = filepath.Join(d, name)
			}
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = byName[name]
	}
	return paths, nil
}

// readDirNames lists visible *.conf entries that may be files (regular or
// symlink), as systemd's conf-files listing does.
func readDirNames(tree *fsutil.Tree, dir string) ([]string, error) {
	f, err := tree.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(dropinDirMax)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".conf") {
			continue
		}
		if t := e.Type(); t.IsRegular() || t&fs.ModeSymlink != 0 {
			names = append(names, name)
		}
	}
	return names, nil
}

// readConf reads one configuration file. A symlink to /dev/null is an empty
// (masking) file; other symlinks are resolved one level inside rootfs, since
// an absolute target names a path of the inspected system, not of the host
// the exporter runs on. Whatever the file resolves to must lie inside
// rootfs: a relative link climbing out of it is refused (ErrSymlink).
func readConf(tree *fsutil.Tree, rootfs, p string) (string, error) {
	link := p
	fi, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if target == "/dev/null" {
			return "", nil
		}
		if filepath.IsAbs(target) {
			// As on the inspected system, ".." at its root stays there.
			p = filepath.Join(rootfs, filepath.Clean(target))
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
	}
	f, _, err := tree.Open(p, true)
	if err != nil {
		if p != link && !fsutil.IsNotExist(err) {
			// Name the drop-in, the file an operator finds in a listing.
			return "", &fs.PathError{Op: "open", Path: link, Err: err}
		}
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, confMax+1))
	if err != nil {
		return "", &fs.PathError{Op: "read", Path: p, Err: err}
	}
	if len(b) > confMax {
		return "", &fs.PathError{Op: "read", Path: p, Err: fsutil.ErrTooLarge}
	}
	return string(b), nil
}
