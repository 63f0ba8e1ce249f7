package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds corrupt YAML config files to Load (as racnn train --config
// reads them): it must not panic, must give one line that names the file,
// and what it accepts must be valid and come back the same from the YAML a
// run directory stores.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		f.Fatal("no configs to seed from")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("train:\n  lr: .nan\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("model:\n  input_sizes: [112, 64, 64]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, nil)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, path) {
				t.Fatalf("error %q is not one line naming the file", msg)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded a config that does not validate: %v", err)
		}
		y, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := FromYAML(y)
		if err != nil {
			t.Fatalf("its YAML does not read back: %v\n%s", err, y)
		}
		if y2, _ := c2.YAML(); !bytes.Equal(y, y2) {
			t.Fatalf("its YAML reads back different:\n%s\n%s", y, y2)
		}
	})
}
