package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/weights"
)

// FuzzReadInfo feeds corrupt metadata (format, schedule state, config,
// class list) to ReadInfo, as racnn train --resume and --from read it: it
// must not panic, must give one line that names the file, and what it
// accepts must hold a config that validates.
func FuzzReadInfo(f *testing.F) {
	cfg, err := config.Default().YAML()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(Format, `{"phase":1,"epoch":2,"batch":3,"step":40,"best":-1}`, string(cfg), `["a","b"]`)
	f.Add(Format, `{}`, "train:\n  lr: .nan\n", `[]`)
	f.Add("racnn-checkpoint-0", `null`, "{", `{"a":1}`)
	f.Fuzz(func(t *testing.T, format, state, cfg, classes string) {
		x, _ := weights.FromFloat32([]int64{2}, []float32{1, 2})
		sd := weights.NewStateDict()
		sd.Set("model.x", x)
		path := filepath.Join(t.TempDir(), "step-00000040.safetensors")
		meta := map[string]string{metaFormat: format, metaState: state, metaConfig: cfg, metaClasses: classes}
		if err := weights.WriteFileAtomic(path, sd, meta); err != nil {
			t.Fatal(err)
		}
		in, err := ReadInfo(path)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, path) {
				t.Fatalf("error %q is not one line naming the file", msg)
			}
			return
		}
		if err := in.Config.Validate(); err != nil {
			t.Fatalf("accepted a config that does not validate: %v", err)
		}
		if in.HasOptim {
			t.Fatal("HasOptim without optim. tensors")
		}
		os.Remove(path)
	})
}
