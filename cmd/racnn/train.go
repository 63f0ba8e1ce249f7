package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/dist"
	"github.com/racnn/racnn/internal/train"
)

type trainOptions struct {
	configFile string
	resume     string
	from       string
	device     string
	out        string
	helpConfig bool
}

func newTrainCmd() *cobra.Command {
	o := &trainOptions{}
	cmd := &cobra.Command{
		Use:   "train --config FILE [--out RUN_DIR] [--device cuda] [--KEY VALUE ...]",
		Short: "Train RA-CNN with the paper's schedule",
		Long: `Trains RA-CNN: (a) fine-tune the scales' classifiers, (b) pre-train the
attention proposal networks, (c) alternate classification and ranking phases.
Every config key is also a flag (--train.seed 3, --data.root /data/CUB_200_2011);
flags beat RACNN_* environment variables (RACNN_TRAIN_SEED=3), which beat the
file, which beats the defaults. --help-config lists every key.

The run directory gets the resolved config, a JSON-lines log, checkpoints
(the last train.keep_last and the best by validation accuracy) and, at the
end, curves.png. Ctrl-C saves a checkpoint and exits; --resume RUN_DIR
continues from it.

--from CHECKPOINT starts a new run (--config, --out) at another run's
checkpoint, for an ablation that begins as that run did: the configs must
agree on everything that trained the model up to the checkpoint, and the
new run then ends as it would from scratch. train.keep_phase_ends keeps
each phase's last checkpoint (checkpoints/end-cls1.safetensors) for this:

  racnn train --config configs/cluttered-mnist.yaml --out runs/norank \
    --from runs/racnn/checkpoints/end-cls1.safetensors --train.rank_epochs 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.helpConfig {
				fmt.Fprintln(cmd.OutOrStdout(), strings.Join(config.Keys(), "\n"))
				return nil
			}
			return runTrain(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.configFile, "config", "c", "", "YAML config file (see configs/)")
	f.StringVar(&o.resume, "resume", "", "continue the run in this directory from its newest checkpoint")
	f.StringVar(&o.from, "from", "", "start this new run at another run's checkpoint (same config up to there)")
	f.StringVar(&o.device, "device", "", "cpu, cuda or cuda:N (same as --runtime.device)")
	f.StringVar(&o.out, "out", "", "run directory (same as --runtime.out)")
	f.BoolVar(&o.helpConfig, "help-config", false, "list every config key with its default")
	config.AddFlags(f)
	return cmd
}

func runTrain(cmd *cobra.Command, o *trainOptions) error {
	fs := cmd.Flags()
	if o.device != "" {
		fs.Set("runtime.device", o.device)
	}
	if o.out != "" {
		fs.Set("runtime.out", o.out)
	}
	var c config.Config
	var err error
	runDir := ""
	switch {
	case o.resume != "" && o.from != "":
		return fmt.Errorf("--resume continues a run and --from starts one: give one of them")
	case o.resume != "":
		if o.configFile != "" {
			return fmt.Errorf("--resume takes the run's own config (%s); change keys with flags instead of --config", filepath.Join(o.resume, "config.yaml"))
		}
		runDir = o.resume
		if !fs.Changed("runtime.out") {
			fs.Set("runtime.out", runDir)
		}
		resolved := filepath.Join(o.resume, "config.yaml")
		if _, serr := os.Stat(resolved); serr != nil {
			return fmt.Errorf("--resume %s: no config.yaml there (not a run directory?)", o.resume)
		}
		c, err = config.LoadResolved(resolved, fs)
	case o.configFile == "":
		return fmt.Errorf("--config is required (for example --config configs/cluttered-mnist.yaml)")
	default:
		c, err = config.Load(o.configFile, fs)
	}
	if err != nil {
		return err
	}
	if runDir == "" {
		runDir = c.Runtime.Out
	}
	c.Runtime.Out = runDir

	// torchrun or Slurm ranks (nil: a single process).
	launch, err := dist.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stop := make(chan struct{})
	defer watchSignals(cmd.ErrOrStderr(), launch, stop)()
	res, err := train.Run(ctx, train.Options{Config: c, RunDir: runDir, Resume: o.resume != "", From: o.from, Out: cmd.ErrOrStderr(), Stop: stop,
		Terminal: isTerminal(cmd.ErrOrStderr()), Launch: launch, Restart: launch != nil && launch.RestartCount > 0})
	if err != nil {
		if launch != nil {
			return fmt.Errorf("rank %d: %w", launch.Rank, err)
		}
		return err
	}
	if launch != nil && launch.Rank != 0 {
		return nil // rank 0 reports
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "kept model (best validation accuracy, step %d) on the test split:\n", res.State.BestStep)
	res.Test.WriteTable(out)
	fmt.Fprintf(out, "run: %s (best.safetensors, log.jsonl, curves.png)\n", runDir)
	return nil
}

// launcherRepeat is how long after a rank's first stop signal another is
// the same request: Ctrl-C in torchrun's terminal reaches torchrun and its
// workers (one process group), and torchrun then sends its workers SIGINT
// again; Slurm signals a task's process group, torchrun included, which
// passes it on too. Taken for "quit at once", it would lose the checkpoint.
const launcherRepeat = 2 * time.Second

// watchSignals closes stop at the first SIGINT or SIGTERM (the trainer
// stops after the step and saves a checkpoint) and quits at once at the
// next; a rank under a launcher ignores repeats within launcherRepeat. The
// returned func stops watching.
func watchSignals(w io.Writer, launch *dist.Launch, stop chan<- struct{}) func() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		first := time.Now()
		if launch == nil {
			fmt.Fprintln(w, "racnn: stopping after this step to save a checkpoint (Ctrl-C again to quit at once)")
		} else {
			fmt.Fprintf(w, "racnn: rank %d: stopping after this step; rank 0 saves a checkpoint (a second signal within %v is the launcher passing this one on; a later one quits at once)\n",
				launch.Rank, launcherRepeat)
		}
		close(stop)
		for {
			if _, ok := <-sigs; !ok {
				return
			}
			if launch == nil || time.Since(first) >= launcherRepeat {
				fmt.Fprintln(w, "racnn: quit without saving")
				os.Exit(130)
			}
		}
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

// isTerminal reports whether w is a terminal (progress bars) rather than a
// file or pipe (plain log lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
