package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/train"
)

type evalOptions struct {
	run, checkpoint, split, device, dataRoot string
	asJSON                                   bool
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

--run uses the run's best.safetensors (the model kept by validation accuracy).
The data set is the one in the checkpoint's config unless --data.root says
otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := checkpointPath(o.run, o.checkpoint)
			if err != nil {
				return err
			}
			if o.split != "test" && o.split != "val" && o.split != "train" {
				return fmt.Errorf("--split %q: use test, val or train", o.split)
			}
			var mt train.Metrics
			err = torch.OnThread(0, func() error {
				var err error
				mt, err = train.EvaluateCheckpoint(cmd.Context(), path, train.EvalOptions{Split: o.split, Device: o.device, DataRoot: o.dataRoot})
				return err
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.asJSON {
				fmt.Fprintln(out, string(mt.JSON()))
				return nil
			}
			fmt.Fprintf(out, "%s on the %s split:\n", path, o.split)
			mt.WriteTable(out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.run, "run", "", "run directory (uses its best.safetensors)")
	f.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint file")
	f.StringVar(&o.split, "split", "test", "test, val (the held-out part of train) or train")
	f.StringVar(&o.device, "device", "", "cpu, cuda or cuda:N (default: the checkpoint's)")
	f.StringVar(&o.dataRoot, "data.root", "", "data set folder (default: the checkpoint's)")
	f.BoolVar(&o.asJSON, "json", false, "machine-readable output")
	return cmd
}

// checkpointPath resolves --run / --checkpoint to one file.
func checkpointPath(run, checkpoint string) (string, error) {
	switch {
	case run != "" && checkpoint != "":
		return "", fmt.Errorf("give --run or --checkpoint, not both")
	case checkpoint != "":
		return checkpoint, nil
	case run != "":
		best := filepath.Join(run, "best.safetensors")
		if fileExists(best) {
			return best, nil
		}
		return train.LatestCheckpoint(run)
	}
	return "", fmt.Errorf("--run RUN_DIR or --checkpoint FILE is required")
}
