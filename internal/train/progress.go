package train

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// epochProgress shows a training epoch's progress: on a terminal a bar with
// the rate and ETA (github.com/schollz/progressbar), elsewhere nothing here
// (the trainer's periodic log lines serve logs and CI).
type epochProgress struct {
	bar *progressbar.ProgressBar
}

func newEpochProgress(out io.Writer, terminal bool, desc string, steps int) *epochProgress {
	if !terminal || out == nil {
		return &epochProgress{}
	}
	return &epochProgress{bar: progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("batch"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
	)}
}

// step advances the bar with the latest loss in its description.
func (p *epochProgress) step(desc string) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(desc)
	p.bar.Add(1)
}

// active reports whether a bar is shown (the periodic log lines are then
// left to log.jsonl).
func (p *epochProgress) active() bool { return p.bar != nil }

func (p *epochProgress) close() {
	if p.bar != nil {
		p.bar.Exit()
	}
}
