package train

import (
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/config"
)

// CheckFork asks the keys that trained the stretch before the checkpoint to
// match, and no others: a later phase's optimiser may differ, the number of
// data workers may, the model may not, and a checkpoint inside a phase must
// bring the optimiser's state.
func TestCheckFork(t *testing.T) {
	from := config.Default()
	sched := Schedule(from) // scale, pretrain, cls#1, rank#1, cls#2, rank#2
	endCls1 := State{Phase: 2, Epoch: sched[2].Epochs}
	inCls1 := State{Phase: 2, Epoch: 1, Batch: 3}
	for _, tc := range []struct {
		name  string
		st    State
		optim bool
		edit  func(c *config.Config)
		want  string // "" for no error
	}{
		{"same config", endCls1, true, func(c *config.Config) {}, ""},
		{"ranking off after cls#1", endCls1, true, func(c *config.Config) { c.Train.RankEpochs = 0 }, ""},
		{"a later phase's optimiser", endCls1, true, func(c *config.Config) { c.Optim.Rank.LR = 1e-3; c.Optim.Fusion.LR = 0.1 }, ""},
		{"more data workers", endCls1, true, func(c *config.Config) { c.Data.Workers = 8 }, ""},
		{"phase end, no optimiser state", endCls1, false, func(c *config.Config) {}, ""},
		{"inside a phase, no optimiser state", inCls1, false, func(c *config.Config) {}, "holds no optimiser state"},
		{"the model", endCls1, true, func(c *config.Config) { c.Model.APN.Hidden = 7 }, "model.apn.hidden is 1024 there and 7 here"},
		{"cls#1's optimiser", endCls1, true, func(c *config.Config) { c.Optim.Cls.Momentum = 0.5 }, "optim.cls.momentum"},
		{"the batch size", endCls1, true, func(c *config.Config) { c.Data.BatchSize = 4 }, "data.batch_size"},
		{"cls#1's length", endCls1, true, func(c *config.Config) { c.Train.ClsEpochs++ }, "phase 3 is cls#1 (5 epochs) there and cls#1 (6 epochs) here"},
		{"a finished run", State{Phase: len(sched), Done: true}, true, func(c *config.Config) {}, "ends its run"},
	} {
		c := from
		tc.edit(&c)
		err := CheckFork("x.safetensors", tc.st, from, tc.optim, c)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
}
