// Command racnn trains and runs RA-CNN (Recurrent Attention CNN, Fu et al.,
// CVPR 2017) for fine-grained image recognition.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/racnn/racnn/internal/train"
)

func main() { os.Exit(run()) }

// run executes the command line and returns the process exit code. Errors
// are printed as one line, "racnn: <error>", never with a usage dump.
func run() int {
	if err := newRootCmd().Execute(); err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			return 130 // the run saved a checkpoint; it said how to resume
		}
		fmt.Fprintln(os.Stderr, errorLine(err))
		return 1
	}
	return 0
}

// errorLine is the one line racnn prints for a failed command. Messages
// carry no "racnn:" of their own: this is the only place that adds it.
func errorLine(err error) string { return "racnn: " + err.Error() }

// newRootCmd builds the command tree; each subcommand lives in its own file
// and registers itself through its newXxxCmd constructor here.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "racnn",
		Short:         "Train and run RA-CNN for fine-grained image recognition",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newTrainCmd(), newEvalCmd(), newPredictCmd(), newDataCmd(), newVersionCmd())
	return root
}
