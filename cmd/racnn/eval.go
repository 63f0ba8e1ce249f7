package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/evaluate"
	"github.com/racnn/racnn/internal/torch"
)

type evalOptions struct {
	runs                                []string
	checkpoint, split, device, dataRoot string
	precision                           string
	onBadImage                          string
	asJSON                              bool
}

func newEvalCmd() *cobra.Command {
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --run RUN_DIR | --checkpoint FILE [--split test] [--json]",
		Short: "Evaluate a trained model as the paper reports it",
		Long: `Prints the accuracy of scale 1, 2, 3, of scales 1+2 and of the fused
classifier (1+2+3), and, where the data set has object boxes (CUB, cluttered
MNIST), each attention box's mean IoU with the object, the share with IoU >= 0.5
and the share whose centre falls inside the object.

--run uses the run's best.safetensors (the model kept by validation accuracy);
several --run flags print the runs side by side. The data set is the one in
the checkpoint's config unless --data.root says otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.split != "test" && o.split != "val" && o.split != "train" {
				return fmt.Errorf("--split %q: use test, val or train", o.split)
			}
			var paths []string
			if len(o.runs) > 1 {
				if o.checkpoint != "" {
					return fmt.Errorf("give --run or --checkpoint, not both")
				}
				for _, r := range o.runs {
					p, err := checkpointPath(r, "", cmd.ErrOrStderr())
					if err != nil {
						return err
					}
					paths = append(paths, p)
				}
			} else {
				run := ""
				if len(o.runs) == 1 {
					run = o.runs[0]
				}
				p, err := checkpointPath(run, o.checkpoint, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				paths = []string{p}
			}
			var mts []evaluate.Metrics
			err := torch.OnThread(0, func() error {
				for _, p := range paths {
					mt, err := evaluate.Checkpoint(cmd.Context(), p, evaluate.Options{Split: o.split, Device: o.device, DataRoot: o.dataRoot, Precision: o.precision,
						OnBadImage: o.onBadImage, Warn: func(f string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), f+"\n", a...) }})
					if err != nil {
						return err
					}
					if mt.Skipped > 0 {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: skipped %d unreadable image(s) of the %s split (data.on_bad_image: skip)\n", p, mt.Skipped, o.split)
					}
					mts = append(mts, mt)
				}
				return nil
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.asJSON {
				if len(mts) == 1 {
					fmt.Fprintln(out, string(mts[0].JSON()))
					return nil
				}
				all := map[string]evaluate.Metrics{}
				for i, r := range o.runs {
					all[r] = mts[i]
				}
				b, _ := json.MarshalIndent(all, "", "  ")
				fmt.Fprintln(out, string(b))
				return nil
			}
			if len(mts) == 1 {
				fmt.Fprintf(out, "%s on the %s split:\n", paths[0], o.split)
				mts[0].WriteTable(out)
				return nil
			}
			fmt.Fprintf(out, "kept models on the %s split:\n", o.split)
			evaluate.WriteComparison(out, o.runs, mts)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.runs, "run", nil, "run directory (uses its best.safetensors); repeat to compare runs")
	f.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint file")
	f.StringVar(&o.split, "split", "test", "test, val (the held-out part of train) or train")
	f.StringVar(&o.device, "device", "", "cpu, cuda or cuda:N (default: the checkpoint's)")
	f.StringVar(&o.dataRoot, "data.root", "", "data set folder (default: the checkpoint's)")
	f.StringVar(&o.precision, "precision", "", "fp32, bf16 or fp16 (CUDA) forward passes (default: the run's runtime.precision)")
	f.StringVar(&o.onBadImage, "data.on_bad_image", os.Getenv("RACNN_DATA_ON_BAD_IMAGE"), "fail or skip an unreadable image (env RACNN_DATA_ON_BAD_IMAGE; default: the checkpoint's)")
	f.BoolVar(&o.asJSON, "json", false, "machine-readable output")
	return cmd
}

// checkpointPath resolves --run / --checkpoint to one file, warning on
// warn about newer checkpoints of the run that cannot be read.
func checkpointPath(run, file string, warn io.Writer) (string, error) {
	switch {
	case run != "" && file != "":
		return "", fmt.Errorf("give --run or --checkpoint, not both")
	case file != "":
		return file, nil
	case run != "":
		best := filepath.Join(run, "best.safetensors")
		if fileExists(best) {
			return best, nil
		}
		newest, err := checkpoint.FindNewest(run)
		if err != nil {
			return "", err
		}
		for _, s := range newest.Skipped {
			fmt.Fprintf(warn, "warning: checkpoint %s cannot be read (%v); using the one before it\n", s.Path, s.Err)
		}
		return newest.Path, nil
	}
	return "", fmt.Errorf("--run RUN_DIR or --checkpoint FILE is required")
}
