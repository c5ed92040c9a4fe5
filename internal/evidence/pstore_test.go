package evidence

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/crashguard/crashguard_exporter/internal/fsutil"
)

func writeParams(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadPstore(t *testing.T) {
	dir := t.TempDir()
	if p := ReadPstore(fsutil.Trees(nil), dir); p.Present || len(p.Problems) != 0 {
		t.Fatalf("no pstore: %+v", p)
	}
	// No backend, as on most cloud VMs; ramoops built in but unused: its
	// defaults must not be read.
	writeParams(t, dir, map[string]string{
		"pstore/parameters/backend": "(null)\n", "pstore/parameters/kmsg_bytes": "10240\n",
		"ramoops/parameters/mem_size": "0\n", "efi_pstore/parameters/pstore_disable": "Y\n",
	})
	p := ReadPstore(fsutil.Trees(nil), dir)
	if !p.Present || p.Backend != "" || !p.HasKmsgBytes || p.KmsgBytes != 10240 || !p.EFIDisabled || p.Ramoops != nil {
		t.Errorf("(null): %+v", p)
	}
	writeParams(t, dir, map[string]string{
		"pstore/parameters/backend": "ramoops\n", "ramoops/parameters/mem_size": "1048576\n", "ramoops/parameters/record_size": "65536\n",
		"ramoops/parameters/console_size": "262144\n", "ramoops/parameters/ftrace_size": "0\n", "ramoops/parameters/pmsg_size": "65536\n",
		"ramoops/parameters/ecc": "1\n", "ramoops/parameters/max_reason": "2\n",
	})
	p = ReadPstore(fsutil.Trees(nil), dir)
	if p.Backend != "ramoops" || p.Ramoops["total"] != 1048576 || p.Ramoops["console"] != 262144 || len(p.Ramoops) != 5 ||
		p.RamoopsECC != 1 || p.MaxReason != 2 || len(p.Problems) != 0 {
		t.Errorf("ramoops: %+v", p)
	}
	writeParams(t, dir, map[string]string{"pstore/parameters/backend": "\x00\xff garbage\n", "ramoops/parameters/ecc": "x\n"})
	p = ReadPstore(fsutil.Trees(nil), dir)
	if p.Present || len(p.Problems) != 1 || fsutil.Reason(p.Problems[0]) != "garbage" {
		t.Errorf("garbage backend: %+v", p)
	}
	writeParams(t, dir, map[string]string{"pstore/parameters/backend": "ramoops\n"})
	p = ReadPstore(fsutil.Trees(nil), dir)
	if p.HasECC || len(p.Problems) != 1 {
		t.Errorf("garbage ecc: %+v", p)
	}
}
