package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/racnn/racnn/internal/infer"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/viz"
)

type predictOptions struct {
	run, checkpoint, device, vizPath string
	precision                        string
	topk                             int
	asJSON                           bool
}

func newPredictCmd() *cobra.Command {
	o := &predictOptions{}
	cmd := &cobra.Command{
		Use:   "predict IMAGE [IMAGE...] --run RUN_DIR | --checkpoint FILE [--topk 5] [--viz out.png] [--json]",
		Short: "Classify images and show where RA-CNN looked",
		Long: `Prints the top-k classes with probabilities of every scale and of the fused
classifier, and the attention boxes in the image's own pixels (x1 y1 x2 y2).
--viz writes a picture of the nested boxes on the image with the zoomed crops
beside it; with several images, out.png becomes out-1.png, out-2.png, ...`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := checkpointPath(o.run, o.checkpoint, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if o.topk < 1 {
				return fmt.Errorf("--topk must be at least 1")
			}
			return runPredict(cmd, o, path, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.run, "run", "", "run directory (uses its best.safetensors)")
	f.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint file")
	f.StringVar(&o.device, "device", "cpu", "cpu, cuda or cuda:N")
	f.StringVar(&o.precision, "precision", "", "fp32, bf16 or fp16 (CUDA) forward passes (default: the run's runtime.precision)")
	f.IntVar(&o.topk, "topk", 5, "classes to list per classifier")
	f.StringVar(&o.vizPath, "viz", "", "write an attention picture (PNG) here")
	f.BoolVar(&o.asJSON, "json", false, "machine-readable output")
	return cmd
}

// runPredict classifies each image as it comes and prints its result
// before the next is read, so memory holds one image at a time. An image
// that cannot be read is named on its own line and the others go on; the
// command fails at the end if any could not be read.
func runPredict(cmd *cobra.Command, o *predictOptions, path string, args []string) error {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var failed []error
	fail := func(err error) {
		failed = append(failed, err)
		if len(args) > 1 {
			fmt.Fprintf(errw, "racnn: %v\n", err)
		}
	}
	// Paths that are no image file at all are named before the model loads.
	var files []string
	for _, a := range args {
		if err := checkImagePath(a); err != nil {
			fail(err)
		} else {
			files = append(files, a)
		}
	}
	written := 0
	err := torch.OnThread(0, func() error {
		if len(files) == 0 {
			return nil
		}
		dev, err := torch.ParseDevice(o.device)
		if err != nil {
			return err
		}
		pr, err := infer.LoadAs(path, dev, o.precision)
		if err != nil {
			return err
		}
		defer pr.Free()
		if o.asJSON {
			fmt.Fprintln(out, "[")
		}
		for i, a := range files {
			p, err := pr.Predict(a, o.topk)
			if err == nil && o.vizPath != "" {
				err = writeViz(p, vizName(o.vizPath, i, len(files)))
			}
			if err != nil {
				fail(err)
				continue
			}
			if o.asJSON {
				b, _ := json.MarshalIndent(p, "  ", "  ")
				sep := ","
				if written == 0 {
					sep = " "
				}
				fmt.Fprintf(out, "%s %s\n", sep, b)
			} else {
				writePrediction(out, p)
			}
			written++
		}
		if o.asJSON {
			fmt.Fprintln(out, "]")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if o.vizPath != "" && written > 0 && !o.asJSON {
		fmt.Fprintf(out, "wrote %s\n", vizName(o.vizPath, 0, len(files)))
	}
	switch {
	case len(failed) == 1 && len(args) == 1:
		return failed[0]
	case len(failed) > 0:
		return fmt.Errorf("%d of %d images could not be read (each named above)", len(failed), len(args))
	}
	return nil
}

// checkImagePath says why a cannot be an image file, or nil.
func checkImagePath(a string) error {
	st, err := os.Stat(a)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such file", a)
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("%s: is a directory; give the images in it (%s)", a, filepath.Join(a, "*.jpg"))
	}
	return nil
}

func writePrediction(out io.Writer, p *infer.Prediction) {
	fmt.Fprintf(out, "%s (%d×%d)\n", p.Path, p.Width, p.Height)
	for _, h := range p.Heads {
		var parts []string
		for _, c := range h.TopK {
			parts = append(parts, fmt.Sprintf("%s %.3f", c.Name, c.Prob))
		}
		fmt.Fprintf(out, "  %-8s %s\n", h.Name, strings.Join(parts, ", "))
	}
	for k, b := range p.Boxes {
		fmt.Fprintf(out, "  box → scale %d: x1 %.1f y1 %.1f x2 %.1f y2 %.1f\n", k+2, b[0], b[1], b[2], b[3])
	}
}

func vizName(path string, i, n int) string {
	if n == 1 {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-%d%s", strings.TrimSuffix(path, ext), i+1, ext)
}

func writeViz(p *infer.Prediction, path string) error {
	var caps []string
	for _, h := range p.Heads {
		if len(h.TopK) > 0 {
			caps = append(caps, fmt.Sprintf("%s: %s %.2f", h.Name, h.TopK[0].Name, h.TopK[0].Prob))
		}
	}
	v := viz.AttentionView{Source: p.Image, Boxes: p.Boxes, Crops: p.Crops, Captions: caps, Title: filepath.Base(p.Path)}
	if err := viz.AttentionPNG(v, path); err != nil {
		return fmt.Errorf("--viz %s: %v", path, err)
	}
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
