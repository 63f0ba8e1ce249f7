package apn

import (
	"fmt"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// BenchmarkCrop times the crop as training runs it: a batch of 2 sources of
// 3×448×448 (float32, no grad) zoomed to 224×224, in both modes, forward only
// and forward + backward to the boxes, on one locked thread with 1 and 2
// intra-op threads. `scripts/golden_apn.py --bench [threads]` times the same
// in PyTorch.
func BenchmarkCrop(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, mode := range []string{ModeBoxcar, ModeGrid} {
			for _, backward := range []bool{false, true} {
				benchCrop(b, threads, mode, backward)
			}
		}
	}
}

func benchCrop(b *testing.B, threads int, mode string, backward bool) {
	name := fmt.Sprintf("threads=%d/%s/fwd", threads, mode)
	if backward {
		name += "+bwd"
	}
	b.Run(name, func(b *testing.B) {
		cfg := DefaultConfig()
		cfg.Mode = mode
		err := torch.OnThread(threads, func() error {
			torch.ManualSeed(0)
			src := torch.Rand([]int64{2, 3, 448, 448}).Keep()
			defer src.Free()
			step := func() {
				torch.WithScope(func() {
					boxes := torch.FromSlice([]float32{0.4, 0.55, 0.25, 0.6, 0.45, 0.3}, 2, 3)
					if !backward {
						torch.NoGrad(func() { Crop(src, boxes, 224, 224, cfg) })
						return
					}
					boxes.SetRequiresGrad(true)
					Crop(src, boxes, 224, 224, cfg).Sum().Backward()
					_ = boxes.Grad().Float32s()
				})
			}
			for i := 0; i < 3; i++ {
				step()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
}
