package corepattern

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func TestParseStorage(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
		found   bool
	}{
		{"empty", "", "", false},
		{"none", "[Coredump]\nStorage=none\n", "none", true},
		{"journal", "[Coredump]\nStorage=journal", "journal", true},
		{"external", "[Coredump]\nStorage=external\n", "external", true},
		{"legacy both", "[Coredump]\nStorage=both\n", "both", true},
		{"commented default", "[Coredump]\n#Storage=external\n;Storage=none\n", "", false},
		{"indented comment", "[Coredump]\n   # Storage=none\n", "", false},
		{"last wins", "[Coredump]\nStorage=none\nStorage=journal\n", "journal", true},
		{"invalid keeps earlier", "[Coredump]\nStorage=none\nStorage=disk\n", "none", true},
		{"trailing comment is part of value", "[Coredump]\nStorage=none # no dumps\n", "", false},
		{"whitespace around", "  [Coredump]  \n\t Storage =  journal \t\r\n", "journal", true},
		{"outside any section", "Storage=none\n[Coredump]\n", "", false},
		{"other section", "[Journal]\nStorage=none\n[Coredump]\nCompress=no\n", "", false},
		{"section switch back", "[Coredump]\nStorage=none\n[Other]\nStorage=journal\n", "none", true},
		{"key case", "[Coredump]\nstorage=none\n", "", false},
		{"value case", "[Coredump]\nStorage=None\n", "", false},
		{"section case", "[coredump]\nStorage=none\n", "", false},
		{"quoted value", "[Coredump]\nStorage=\"none\"\n", "", false},
		{"empty value", "[Coredump]\nStorage=journal\nStorage=\n", "journal", true},
		{"no equals", "[Coredump]\nStorage none\n", "", false},
		{"byte order mark", "\ufeff[Coredump]\nStorage=none\n", "none", true},
		{"continuation joins value", "[Coredump]\nStorage=\\\nnone\n", "none", true},
		{"continuation splits word", "[Coredump]\nStorage=no\\\nne\n", "", false},
		{"comment inside continuation", "[Coredump]\nStorage=\\\n# note\njournal\n", "journal", true},
		{"continuation at end", "[Coredump]\nStorage=none\\", "none", true},
		{"crlf", "[Coredump]\r\nStorage=none\r\n", "none", true},
		{"other keys", "[Coredump]\nCompress=no\nMaxUse=1G\nStorage=external\nKeepFree=2G\n", "external", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := ParseStorage(tt.content)
			if got != tt.want || found != tt.found {
				t.Errorf("ParseStorage(%q) = %q, %v; want %q, %v", tt.content, got, found, tt.want, tt.found)
			}
		})
	}
}

func TestParseStorageShippedFile(t *testing.T) {
	b, err := os.ReadFile("testdata/coredump.conf")
	if err != nil {
		t.Fatal(err)
	}
	if s, found := ParseStorage(string(b)); found {
		t.Fatalf("shipped coredump.conf sets nothing, got %q", s)
	}
}

// writeFiles creates files (relative path -> content) under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func storageConf(v string) string { return "[Coredump]\nStorage=" + v + "\n" }

func TestLoadStorage(t *testing.T) {
	shipped, err := os.ReadFile("testdata/coredump.conf")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		files      map[string]string
		links      map[string]string // link (relative) -> target
		want       string
		configured bool
	}{
		{name: "nothing installed", want: "external"},
		{
			name:  "shipped default only",
			files: map[string]string{"etc/systemd/coredump.conf": string(shipped)},
			want:  "external", configured: true,
		},
		{
			name:  "vendor main file",
			files: map[string]string{"usr/lib/systemd/coredump.conf": storageConf("journal")},
			want:  "journal", configured: true,
		},
		{
			name: "etc main file replaces vendor main file",
			files: map[string]string{
				"usr/lib/systemd/coredump.conf": storageConf("journal"),
				"etc/systemd/coredump.conf":     string(shipped),
			},
			want: "external", configured: true,
		},
		{
			name: "run main file beats usr lib",
			files: map[string]string{
				"usr/lib/systemd/coredump.conf": storageConf("journal"),
				"run/systemd/coredump.conf":     storageConf("none"),
			},
			want: "none", configured: true,
		},
		{
			name: "drop-in overrides main file",
			files: map[string]string{
				"etc/systemd/coredump.conf":                    storageConf("external"),
				"usr/lib/systemd/coredump.conf.d/10-none.conf": storageConf("none"),
			},
			want: "none", configured: true,
		},
		{
			name: "drop-ins sorted by name across directories",
			files: map[string]string{
				"etc/systemd/coredump.conf.d/10-admin.conf":       storageConf("journal"),
				"usr/lib/systemd/coredump.conf.d/50-vendor.conf":  storageConf("none"),
				"run/systemd/coredump.conf.d/20-runtime.conf":     storageConf("external"),
				"usr/local/lib/systemd/coredump.conf.d/30-x.conf": "[Coredump]\nCompress=no\n",
			},
			want: "none", configured: true,
		},
		{
			name: "etc drop-in hides same name in usr lib",
			files: map[string]string{
				"usr/lib/systemd/coredump.conf.d/50-vendor.conf": storageConf("none"),
				"etc/systemd/coredump.conf.d/50-vendor.conf":     storageConf("external"),
			},
			want: "external", configured: true,
		},
		{
			name: "etc drop-in hides same name in run",
			files: map[string]string{
				"run/systemd/coredump.conf.d/50-x.conf": storageConf("none"),
				"etc/systemd/coredump.conf.d/50-x.conf": "[Coredump]\n#Storage=none\n",
				"etc/systemd/coredump.conf":             storageConf("journal"),
			},
			want: "journal", configured: true,
		},
		{
			name: "masked vendor drop-in",
			files: map[string]string{
				"etc/systemd/coredump.conf":                      storageConf("journal"),
				"usr/lib/systemd/coredump.conf.d/50-vendor.conf": storageConf("none"),
			},
			links: map[string]string{"etc/systemd/coredump.conf.d/50-vendor.conf": "/dev/null"},
			want:  "journal", configured: true,
		},
		{
			name: "non-conf and hidden files ignored",
			files: map[string]string{
				"etc/systemd/coredump.conf.d/99-x.conf.bak": storageConf("none"),
				"etc/systemd/coredump.conf.d/.99-x.conf":    storageConf("none"),
				"etc/systemd/coredump.conf.d/README":        storageConf("none"),
				"etc/systemd/coredump.conf":                 storageConf("journal"),
			},
			want: "journal", configured: true,
		},
		{
			name:  "absolute symlink resolved inside rootfs",
			files: map[string]string{"srv/coredump-none.conf": storageConf("none")},
			links: map[string]string{"etc/systemd/coredump.conf.d/60-link.conf": "/srv/coredump-none.conf"},
			want:  "none", configured: true,
		},
		{
			name:  "dangling drop-in skipped",
			files: map[string]string{"etc/systemd/coredump.conf": storageConf("journal")},
			links: map[string]string{"etc/systemd/coredump.conf.d/60-gone.conf": "/nonexistent.conf"},
			want:  "journal", configured: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tt.files)
			for link, target := range tt.links {
				symlink(t, target, filepath.Join(root, link))
			}
			got, configured, err := LoadStorage(root)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || configured != tt.configured {
				t.Errorf("LoadStorage = %q, %v; want %q, %v", got, configured, tt.want, tt.configured)
			}
		})
	}
}

func TestLoadStorageErrors(t *testing.T) {
	t.Run("too large", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{
			"etc/systemd/coredump.conf": "[Coredump]\n" + strings.Repeat("#", confMax),
		})
		if _, _, err := LoadStorage(root); err == nil {
			t.Fatal("want an error for an oversized file")
		}
	})
	t.Run("fifo is refused", func(t *testing.T) {
		root := t.TempDir()
		p := filepath.Join(root, "etc/systemd/coredump.conf.d/10-fifo.conf")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
		// A FIFO is listed neither as regular file nor as symlink.
		got, configured, err := LoadStorage(root)
		if err != nil || configured || got != "external" {
			t.Fatalf("got %q, %v, %v; want FIFO ignored", got, configured, err)
		}
	})
	// A drop-in is a relative symlink climbing above --path.rootfs: it must
	// not be read, and the storage is then unknown rather than guessed.
	t.Run("relative symlink out of rootfs is refused", func(t *testing.T) {
		base := t.TempDir()
		root := filepath.Join(base, "host")
		writeFiles(t, base, map[string]string{
			"outside.conf":                   storageConf("none"),
			"host/etc/systemd/coredump.conf": storageConf("journal"),
		})
		link := filepath.Join(root, "etc/systemd/coredump.conf.d/50-escape.conf")
		symlink(t, "../../../../outside.conf", link)
		got, _, err := LoadStorage(root)
		if fsutil.Reason(err) != "symlink" {
			t.Fatalf("got %q, %v; want a symlink refusal", got, err)
		}
		if !strings.Contains(err.Error(), link) {
			t.Errorf("the error must name the drop-in: %v", err)
		}
	})
	t.Run("drop-in directory out of rootfs is refused", func(t *testing.T) {
		base := t.TempDir()
		root := filepath.Join(base, "host")
		writeFiles(t, base, map[string]string{"elsewhere/50-x.conf": storageConf("none")})
		symlink(t, "../../../elsewhere", filepath.Join(root, "etc/systemd/coredump.conf.d"))
		if got, _, err := LoadStorage(root); fsutil.Reason(err) != "symlink" {
			t.Fatalf("got %q, %v; want a symlink refusal", got, err)
		}
	})
	t.Run("main file is a directory", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc/systemd/coredump.conf"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadStorage(root)
		if fsutil.Reason(err) != "not_regular" {
			t.Fatalf("got %v, want a not-regular error", err)
		}
	})
}

func FuzzParseStorage(f *testing.F) {
	shipped, err := os.ReadFile("testdata/coredump.conf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(shipped))
	for _, s := range []string{
		"[Coredump]\nStorage=none\n",
		"[Coredump]\nStorage=journal\nCompress=no\nMaxUse=1G\n",
		"[Coredump]\r\nStorage=external\r\n",
		"\ufeff[Coredump]\nStorage=\\\n# c\nnone\n",
		"[Journal]\nStorage=volatile\n",
		"Storage=none",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		s, found := ParseStorage(content)
		switch s {
		case StorageNone, StorageExternal, StorageJournal, StorageBoth:
			if !found {
				t.Fatalf("value %q without found", s)
			}
		case "":
			if found {
				t.Fatal("found without value")
			}
		default:
			t.Fatalf("unexpected storage %q", s)
		}
		if found && !strings.Contains(content, "Storage") {
			t.Fatalf("found %q in content without a Storage key", s)
		}
	})
}
